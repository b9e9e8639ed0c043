/**
 * The /debug pages against the real API server: authorized on their own (the chart's
 * scribe-debug-reader for the non-resource URL /debug), the index listing only the CRs the
 * caller may `get` (a SubjectAccessReview per kind and namespace, asked once per request), a
 * page of a CR the caller may not get answered 403; and never served without authentication.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBUG_WITHOUT_AUTH_ERROR, debugPages, startOperator } from '../../../src/main.js';
import { rootLogger } from '../../../src/log.js';
import { ScribeMetrics } from '../../../src/metrics/registry.js';
import {
  apiAccessReview,
  Authenticator,
  RequestAuthorizer,
  type AccessAttributes,
  type AccessReviewCall,
} from '../../../src/server/auth.js';
import {
  DEBUG_PATH,
  METRICS_PATH,
  startMetricsServer,
  type RunningServer,
} from '../../../src/server/metrics-server.js';
import { selfSignedCert, type ServingCert } from '../../../src/server/tls.js';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../../src/kube/resources.js';
import { randomBytes } from 'node:crypto';
import { deleteNamespace, testKubeConfig } from '../../support/cluster.js';
import { grantDebugPages, scrape, serviceAccountToken } from './support.js';

const log = rootLogger.child({ test: 'debug-auth' });
const API = 'scribe.backube/v1alpha1';

describe('the /debug pages', () => {
  const kc = testKubeConfig();
  const metrics = new ScribeMetrics();
  let tls: ServingCert;
  let server: RunningServer;
  let base: string;
  let allowedNs: string;
  let otherNs: string;
  let readerToken: string;
  let strangerToken: string;
  let revoke: () => Promise<void> = async () => {};
  // Every resource SubjectAccessReview the server asks, per request (reset before each).
  let resourceReviews: string[] = [];

  const createCr = async (kind: 'ReplicationSource' | 'ReplicationDestination', ns: string, name: string) => {
    const spec =
      kind === 'ReplicationSource'
        ? {
            sourcePVC: 'data',
            trigger: { manual: 'one' },
            rsync: { copyMethod: 'Clone', address: 'dest.example', sshKeys: 'keys' },
          }
        : { rsync: { copyMethod: 'None', capacity: '1Gi' } };
    await kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES[kind], ns),
      body: { apiVersion: API, kind, metadata: { name }, spec },
    });
  };

  // Namespaces for the whole file (testNamespace's live for one test), deleted after it.
  const namespaces: string[] = [];
  const namespace = async (prefix: string) => {
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    await kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.Namespace),
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
    });
    namespaces.push(name);
    return name;
  };

  beforeAll(async () => {
    allowedNs = await namespace('dbg-allowed');
    otherNs = await namespace('dbg-other');
    const viewers = await namespace('dbg-viewers');
    await createCr('ReplicationSource', allowedNs, 'seen-1');
    await createCr('ReplicationSource', allowedNs, 'seen-2');
    await createCr('ReplicationDestination', allowedNs, 'hidden-dest');
    await createCr('ReplicationSource', otherNs, 'hidden-source');
    // reader: bound to scribe-debug-reader, may get replicationsources in allowedNs only.
    readerToken = await serviceAccountToken(kc, viewers, 'reader');
    revoke = await grantDebugPages(kc, viewers, 'reader', [allowedNs], ['replicationsources']);
    // stranger: bound to nothing.
    strangerToken = await serviceAccountToken(kc, viewers, 'stranger');

    const authenticator = new Authenticator(kc);
    const review = apiAccessReview(kc);
    const counting: AccessReviewCall = (user, attributes: AccessAttributes) => {
      if ('resourceAttributes' in attributes) {
        const { resource, namespace } = attributes.resourceAttributes;
        resourceReviews.push(`${resource}/${namespace ?? ''}`);
      }
      return review(user, attributes);
    };
    tls = await selfSignedCert(['localhost'], ['127.0.0.1']);
    server = await startMetricsServer({
      registry: metrics.registry,
      address: { host: '127.0.0.1', port: 0 },
      tls,
      authorizer: new RequestAuthorizer(kc, { path: METRICS_PATH, verb: 'get', authenticator }),
      debug: {
        authorizer: new RequestAuthorizer(kc, { path: DEBUG_PATH, verb: 'get', authenticator }),
        accessReview: counting,
        handler: debugPages(kc, undefined),
      },
      log,
    });
    base = `https://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server?.close();
    await revoke();
    for (const name of namespaces) await deleteNamespace(kc, name);
  });

  it('refuses a request without a token (401) and a caller not bound to scribe-debug-reader (403)', async () => {
    expect((await scrape(`${base}/debug`, undefined, tls.cert)).status).toBe(401);
    expect((await scrape(`${base}/debug`, 'not-a-token', tls.cert)).status).toBe(401);
    const index = await scrape(`${base}/debug`, strangerToken, tls.cert);
    expect(index.status).toBe(403);
    expect(index.body).not.toContain('seen-1');
    expect((await scrape(`${base}/debug/ReplicationSource/${allowedNs}/seen-1`, strangerToken, tls.cert)).status).toBe(
      403,
    );
  });

  it('authorizes /debug on its own: scribe-debug-reader does not open /metrics', async () => {
    expect((await scrape(`${base}/metrics`, readerToken, tls.cert)).status).toBe(403);
  });

  it('lists only the CRs the caller may get, asking once per kind and namespace in a request', async () => {
    resourceReviews = [];
    const index = await scrape(`${base}/debug`, readerToken, tls.cert);
    expect(index.status).toBe(200);
    expect(index.body).toContain(`/debug/replicationsources/${allowedNs}/seen-1`);
    expect(index.body).toContain(`/debug/replicationsources/${allowedNs}/seen-2`);
    expect(index.body).not.toContain('hidden-dest');
    expect(index.body).not.toContain('hidden-source');
    // Two CRs of one kind in allowedNs, yet each (kind, namespace) is asked once in the request.
    expect(resourceReviews.filter((r) => r === `replicationsources/${allowedNs}`)).toHaveLength(1);
    expect(new Set(resourceReviews).size).toBe(resourceReviews.length);

    const list = JSON.parse((await scrape(`${base}/debug?format=json`, readerToken, tls.cert)).body) as {
      namespace: string;
      name: string;
    }[];
    const mine = list.filter((cr) => cr.namespace === allowedNs || cr.namespace === otherNs);
    expect(mine.map((cr) => cr.name).sort()).toEqual(['seen-1', 'seen-2']);
    // Not cached across requests: the next request asks again (a revoked Role shows on reload).
    expect(resourceReviews.filter((r) => r === `replicationsources/${allowedNs}`)).toHaveLength(2);
  });

  it("serves a CR's page to a caller who may get it, 403 for one the caller may not get", async () => {
    const page = await scrape(`${base}/debug/ReplicationSource/${allowedNs}/seen-1`, readerToken, tls.cert);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<svg');
    const other = await scrape(`${base}/debug/ReplicationSource/${otherNs}/hidden-source`, readerToken, tls.cert);
    expect(other.status).toBe(403);
    expect(other.body).not.toContain('<svg');
    const otherKind = `${base}/debug/ReplicationDestination/${allowedNs}/hidden-dest?format=json`;
    expect((await scrape(otherKind, readerToken, tls.cert)).status).toBe(403);
    // A CR that does not exist where the caller may look is 404; where it may not, 403 (no hint).
    expect((await scrape(`${base}/debug/rs/${allowedNs}/missing`, readerToken, tls.cert)).status).toBe(404);
    expect((await scrape(`${base}/debug/rs/${otherNs}/missing`, readerToken, tls.cert)).status).toBe(403);
  });

  it('is never served without authentication: the operator refuses --debug-pages with --metrics-disable-auth', async () => {
    await expect(
      startOperator({ debugPages: true, metricsDisableAuth: true, metricsBindAddress: '127.0.0.1:0' }),
    ).rejects.toThrow(DEBUG_WITHOUT_AUTH_ERROR);
    await expect(
      startMetricsServer({
        registry: metrics.registry,
        address: { host: '127.0.0.1', port: 0 },
        tls,
        authorizer: undefined,
        debug: {
          authorizer: new RequestAuthorizer(kc, { path: DEBUG_PATH, verb: 'get' }),
          accessReview: apiAccessReview(kc),
          handler: debugPages(kc, undefined),
        },
        log,
      }),
    ).rejects.toThrow(/never served without authentication/);
  });

  it('is not served unless enabled: without debug pages /debug is 404', async () => {
    const plain = await startMetricsServer({
      registry: metrics.registry,
      address: { host: '127.0.0.1', port: 0 },
      tls,
      authorizer: new RequestAuthorizer(kc, { path: METRICS_PATH, verb: 'get' }),
      log,
    });
    try {
      expect((await scrape(`https://127.0.0.1:${plain.port}/debug`, readerToken, tls.cert)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
