/**
 * /metrics against the real API server: TokenReview + SubjectAccessReview decide, with the
 * chart's scribe-metrics-reader ClusterRole granting access; and the probe server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { kubeRequest } from '../../../src/kube/rest.js';
import { rootLogger } from '../../../src/log.js';
import { recordStepMetrics } from '../../../src/metrics/record.js';
import { ScribeMetrics, type CrLabels } from '../../../src/metrics/registry.js';
import { RequestAuthorizer } from '../../../src/server/auth.js';
import { startHealthServer } from '../../../src/server/health-server.js';
import { METRICS_PATH, startMetricsServer, type RunningServer } from '../../../src/server/metrics-server.js';
import { selfSignedCert, type ServingCert } from '../../../src/server/tls.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';
import {
  bindClusterRole,
  renderChart,
  sample,
  scrape,
  serviceAccountGroups,
  serviceAccountToken,
  waitForAccess,
} from './support.js';

const log = rootLogger.child({ test: 'metrics-auth' });
const labels: CrLabels = { obj_name: 'dsrc', obj_namespace: 'srcns', role: 'source', method: 'rsync' };

describe('the metrics server', () => {
  const kc = testKubeConfig();
  const metrics = new ScribeMetrics();
  let tls: ServingCert;
  let server: RunningServer;
  let url: string;

  beforeAll(async () => {
    recordStepMetrics(
      metrics,
      labels,
      undefined,
      { state: 'idle' },
      {
        type: 'recordMetrics',
        outOfSync: false,
        completedSync: { durationSeconds: 11.5, missedInterval: false },
      },
    );
    tls = await selfSignedCert(['localhost'], ['127.0.0.1']);
    server = await startMetricsServer({
      registry: metrics.registry,
      address: { host: '127.0.0.1', port: 0 },
      tls,
      authorizer: new RequestAuthorizer(kc, { path: METRICS_PATH, verb: 'get' }),
      log,
    });
    url = `https://127.0.0.1:${server.port}${METRICS_PATH}`;
  });
  afterAll(() => server?.close());

  it('decision 8: in-process TokenReview refuses a request without a token (401) and with a bad token (401)', async () => {
    expect((await scrape(url, undefined, tls.cert)).status).toBe(401);
    expect((await scrape(url, 'not-a-token', tls.cert)).status).toBe(401);
  });

  it('decision 8: in-process SubjectAccessReview refuses a ServiceAccount without RBAC for /metrics (403)', async () => {
    const ns = await testNamespace(kc, 'metrics');
    const token = await serviceAccountToken(kc, ns, 'nobody');
    const answer = await scrape(url, token, tls.cert);
    expect(answer.status).toBe(403);
    expect(answer.body).not.toContain('scribe_');
  });

  it("decision 8: serves the seed's metric families (HELP texts from the seed) to a ServiceAccount bound to the chart's scribe-metrics-reader", async () => {
    const ns = await testNamespace(kc, 'metrics');
    // The chart's own ClusterRole, under a name of this test's: the helm test installs the
    // chart (and so the real scribe-metrics-reader) into the same cluster concurrently.
    const chartRole = (await renderChart(['--show-only', 'templates/rbac.yaml'])).find(
      (object) => object.kind === 'ClusterRole' && object.metadata?.name === 'scribe-metrics-reader',
    ) as KubernetesObject & { rules: unknown[] };
    expect(chartRole.rules).toEqual([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
    const roleName = `scribe-metrics-reader-${ns}`;
    await kubeRequest(kc, {
      method: 'POST',
      path: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      body: { ...chartRole, metadata: { ...chartRole.metadata, name: roleName } },
    });
    const binding = await bindClusterRole(kc, roleName, ns, 'prometheus');
    try {
      const token = await serviceAccountToken(kc, ns, 'prometheus');
      await waitForAccess(kc, `system:serviceaccount:${ns}:prometheus`, serviceAccountGroups(ns), METRICS_PATH);

      const answer = await scrape(url, token, tls.cert);
      expect(answer.status).toBe(200);
      const text = answer.body;
      // HELP and TYPE lines as the seed shows them.
      expect(text).toContain(
        '# HELP scribe_missed_intervals_total The number of times a synchronization failed to complete before the next scheduled start\n# TYPE scribe_missed_intervals_total counter',
      );
      expect(text).toContain(
        '# HELP scribe_sync_duration_seconds Duration of the synchronization interval in seconds\n# TYPE scribe_sync_duration_seconds summary',
      );
      expect(text).toContain(
        '# HELP scribe_volume_out_of_sync Set to 1 if the volume is not properly synchronized\n# TYPE scribe_volume_out_of_sync gauge',
      );
      expect(sample(text, 'scribe_missed_intervals_total', { ...labels })).toBe(0);
      expect(sample(text, 'scribe_sync_duration_seconds_count', { ...labels })).toBe(1);
      expect(sample(text, 'scribe_sync_duration_seconds', { ...labels, quantile: '0.5' })).toBe(11.5);
      expect(sample(text, 'scribe_volume_out_of_sync', { ...labels })).toBe(0);
      expect(sample(text, 'scribe_syncs_total', { ...labels, result: 'Successful' })).toBe(1);
      expect(text).toContain('process_cpu_seconds_total');

      // The decision is cached (1 min): revoking access is seen on the next review, not at once,
      // which is what makes a 30 s scrape interval cost two API calls a minute instead of a scrape.
      await kubeRequest(kc, {
        method: 'DELETE',
        path: `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${binding}`,
      });
      expect((await scrape(url, token, tls.cert)).status).toBe(200);
    } finally {
      await kubeRequest(kc, {
        method: 'DELETE',
        path: `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${binding}`,
      }).catch(() => undefined);
      await kubeRequest(kc, { method: 'DELETE', path: `/apis/rbac.authorization.k8s.io/v1/clusterroles/${roleName}` });
    }
  });

  it('decision 8: serves without any check when authentication is disabled (metrics.disableAuth: true)', async () => {
    const open = await startMetricsServer({
      registry: metrics.registry,
      address: { host: '127.0.0.1', port: 0 },
      tls,
      authorizer: undefined,
      log,
    });
    try {
      const answer = await scrape(`https://127.0.0.1:${open.port}${METRICS_PATH}`, undefined, tls.cert);
      expect(answer.status).toBe(200);
      expect(answer.body).toContain('# TYPE scribe_volume_out_of_sync gauge');
      expect((await scrape(`https://127.0.0.1:${open.port}/other`, undefined, tls.cert)).status).toBe(404);
    } finally {
      await open.close();
    }
  });
});

describe('the probe server', () => {
  it('answers /healthz at once and /readyz only once ready', async () => {
    let ready = false;
    const probes = await startHealthServer({ address: { host: '127.0.0.1', port: 0 }, ready: () => ready, log });
    try {
      const base = `http://127.0.0.1:${probes.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    } finally {
      await probes.close();
    }
  });
});
