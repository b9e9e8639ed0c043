/**
 * Issue 22's must-show against a real API server: a fourth mover defined only in a test folder
 * (test/movers/copy, `cp -a` through a store PVC) joins by adding its one module to the catalog
 * (catalogWith). The CRDs built from that catalog take its section and name it in the "exactly
 * one mover" rule; the controller, given the catalog, runs its CRs (its Job made by its builder)
 * and refuses, naming the field, what its validate refuses. The shipped CRDs come back after.
 * Its entrypoints run in test/unit/movers/fourth-mover.test.ts; the image does not hold them.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import { buildCrd, KINDS, kindDefinitions } from '../../../src/api/index.js';
import { Controller } from '../../../src/controller/controller.js';
import { ApiError, kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES, type KindName } from '../../../src/kube/resources.js';
import { applyCrds, type Crd } from '../../../src/local/crds.js';
import { waitFor } from '../../../src/local/processes.js';
import { ScribeMetrics } from '../../../src/metrics/registry.js';
import { catalogWith } from '../../../src/movers/index.js';
import { copy } from '../../movers/copy/index.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

const kc = testKubeConfig();
const catalog = catalogWith(copy);
const crdsOf = (definitions: typeof KINDS) => definitions.map((d) => buildCrd(d) as unknown as Crd);

async function post(kind: KindName, namespace: string, body: object): Promise<KubernetesObject> {
  return kubeRequest<KubernetesObject>(kc, { method: 'POST', path: collectionPath(RESOURCES[kind], namespace), body });
}

async function read<T extends KubernetesObject>(kind: KindName, namespace: string, name: string) {
  return kubeRequest<T>(kc, { method: 'GET', path: objectPath(RESOURCES[kind], namespace, name) }).catch(
    () => undefined,
  );
}

const copySource = (name: string, store: string) => ({
  apiVersion: 'scribe.backube/v1alpha1',
  kind: 'ReplicationSource',
  metadata: { name },
  spec: { sourcePVC: 'data', trigger: { manual: 'once' }, copy: { copyMethod: 'None', store } },
});

const pvc = (name: string) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
});

/** The API server's refusal of `body`, or undefined when it took it. */
async function refusal(namespace: string, body: object): Promise<string | undefined> {
  try {
    await post('ReplicationSource', namespace, body);
    return undefined;
  } catch (error) {
    if (error instanceof ApiError) return error.message;
    throw error;
  }
}

beforeAll(async () => {
  await applyCrds(kc, crdsOf(kindDefinitions(catalog.map((m) => m.schemas))));
  // Established comes before every API server serves the new schema: wait until it takes spec.copy.
  await waitFor('the CRD with spec.copy served', async () => {
    const probe = { ...copySource('probe', 'store'), metadata: { name: 'probe' } };
    const answer = await kubeRequest<KubernetesObject & { spec?: { copy?: unknown } }>(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.ReplicationSource, 'default'),
      query: { dryRun: 'All' },
      body: probe,
    }).catch(() => undefined);
    return answer?.spec?.copy !== undefined;
  });
});

// The shipped CRDs again for the files after this one (the test namespaces go with their CRs).
afterAll(() => applyCrds(kc, crdsOf(KINDS)));

describe('a fourth mover defined in a test folder', () => {
  it("passes the CRD's validation, which names it among the movers", async () => {
    const namespace = await testNamespace(kc, 'fourth-mover');
    const both = {
      ...copySource('both', 'store'),
      spec: { ...copySource('both', 'store').spec, rsync: { copyMethod: 'None', address: 'a.example' } },
    };
    expect(await refusal(namespace, both)).toMatch(
      /exactly one of spec\.rsync, spec\.rclone, spec\.restic, spec\.copy or spec\.external must be set/,
    );
    const noStore = { ...copySource('nostore', 'store'), spec: { sourcePVC: 'data', copy: { copyMethod: 'None' } } };
    expect(await refusal(namespace, noStore)).toMatch(/spec\.copy\.store: Required value/);
    const badStore = copySource('badstore', 'Not A Name');
    expect(await refusal(namespace, badStore)).toMatch(/spec\.copy\.store/);
  });

  it('is run by the controller given the catalog, and refused as its validate says', async () => {
    const namespace = await testNamespace(kc, 'fourth-mover');
    await post('PersistentVolumeClaim', namespace, pvc('data'));
    await post('PersistentVolumeClaim', namespace, pvc('store'));
    const controller = new Controller({
      kc,
      metrics: new ScribeMetrics({ defaultMetrics: false }),
      movers: catalog,
      namespace,
    });
    await controller.start();
    try {
      await post('ReplicationSource', namespace, copySource('db', 'store'));
      await post('ReplicationSource', namespace, copySource('self', 'data'));
      type Job = KubernetesObject & {
        spec?: { template?: { spec?: { containers?: Array<{ command?: string[] }>; volumes?: object[] } } };
      };
      let job: Job | undefined;
      await waitFor(
        'the copy Job',
        async () => (job = await read<Job>('Job', namespace, 'scribe-copy-src-db')) !== undefined,
      );
      expect(job?.spec?.template?.spec?.containers?.[0]?.command?.slice(1)).toEqual(['mover', 'copy-source']);
      expect(job?.spec?.template?.spec?.volumes).toContainEqual({
        name: 'store',
        persistentVolumeClaim: { claimName: 'store' },
      });
      expect(job?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicationSource', name: 'db' });

      const reconciled = async () =>
        (await read<ScribeCr>('ReplicationSource', namespace, 'self'))?.status?.conditions?.find(
          (c) => c.type === 'Reconciled',
        );
      await waitFor('Reconciled=False naming spec.copy.store', async () => {
        const condition = await reconciled();
        return condition?.status === 'False' && condition.message.includes('spec.copy.store');
      });
      expect((await reconciled())?.message).toMatch(
        /spec\.copy\.store: must be another PVC than the volume itself \(data\)/,
      );
      expect(await read('Job', namespace, 'scribe-copy-src-self')).toBeUndefined();
    } finally {
      await controller.stop();
    }
  });
});
