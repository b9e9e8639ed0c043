/**
 * Issue 21 on the local runtime: the mover pod settings of every mover section, with the real
 * API server's admission (ResourceQuota, ServiceAccount) and the Job controller deciding.
 *
 * - A namespace whose ResourceQuota demands limits (limits.cpu, limits.memory) refuses a mover
 *   pod without them: the Job controller can only record a FailedCreate Event on the Job, and
 *   the CR's Synchronizing condition names spec.restic.moverResources. Given moverResources, the
 *   retry's pod is admitted and the sync completes.
 * - moverPodLabels and moverServiceAccount are on the pod (Scribe's labels win); without
 *   moverServiceAccount no ServiceAccount token is mounted, and Service links are off.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it, type TestContext } from 'vitest';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { MOVER_POD_LABEL } from '../../src/movers/job.js';
import { watchMoverPods } from '../support/mover-pods.js';
import { createResticSecret, newBucket } from '../support/object-store.js';
import {
  create,
  createPvc,
  e2eKubeConfig,
  e2eNamespace,
  get,
  patch,
  pvcDirectory,
  waitForObject,
} from '../support/e2e.js';

const API = 'scribe.backube/v1alpha1';

/** A namespace with the restic repository Secret (its own bucket) and a volume `data` holding one file. */
async function resticNamespace(kc: KubeConfig, prefix: string, test: TestContext): Promise<string> {
  const ns = await e2eNamespace(kc, prefix, { test });
  const s3 = inject('e2eS3');
  const bucket = await newBucket(s3, prefix);
  await createResticSecret(kc, ns, s3, bucket, 'pod-settings-password');
  await createPvc(kc, ns, 'data');
  await writeFile(join(await pvcDirectory(kc, ns, 'data'), 'hello.txt'), 'hello\n');
  return ns;
}

/** A restic backup of `data`, once, with `options` in its restic section. */
function backup(name: string, options: object = {}) {
  return {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name },
    spec: {
      sourcePVC: 'data',
      trigger: { manual: 'once' },
      restic: { repository: 'restic-config', copyMethod: 'Clone', ...options },
    },
  };
}

const readSource = (kc: KubeConfig, ns: string, name: string) => () =>
  get<ReplicationSource>(kc, 'ReplicationSource', ns, name);
const synced = (cr: ReplicationSource) => cr.status?.lastManualSync === 'once';
const synchronizing = (cr: ReplicationSource) => cr.status?.conditions?.find((c) => c.type === 'Synchronizing');

type Pod = KubernetesObject & {
  spec?: {
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    enableServiceLinks?: boolean;
    volumes?: Array<{ name: string; projected?: { sources?: Array<{ serviceAccountToken?: unknown }> } }>;
  };
};

/** Whether a pod has a volume with a projected ServiceAccount token (what the ServiceAccount admission adds). */
const hasTokenVolume = (pod: Pod) =>
  (pod.spec?.volumes ?? []).some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken !== undefined));

describe.concurrent('mover pod settings (issue 21)', () => {
  it('a ResourceQuota demanding limits: the condition names moverResources; with it the sync completes', async (test) => {
    const kc = e2eKubeConfig();
    const ns = await resticNamespace(kc, 'pod-quota', test);
    await kubeRequest(kc, {
      method: 'POST',
      path: `/api/v1/namespaces/${ns}/resourcequotas`,
      body: {
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: 'compute' },
        spec: { hard: { 'limits.cpu': '2', 'limits.memory': '2Gi' } },
      },
    });
    await create(kc, 'ReplicationSource', ns, backup('backup'));
    const refused = await waitForObject('the quota named in the condition', readSource(kc, ns, 'backup'), (cr) =>
      /spec\.restic\.moverResources/.test(synchronizing(cr)?.message ?? ''),
    );
    const message = synchronizing(refused)?.message ?? '';
    expect(message).toMatch(/ResourceQuota refused the mover pod/);
    expect(message).toMatch(/must specify limits\.cpu/);
    expect(refused.status?.lastManualSync).toBeUndefined();

    // The fix the condition names: the retry's Job is built from the changed spec.
    const moverResources = { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } };
    await patch(kc, 'ReplicationSource', ns, 'backup', { spec: { restic: { moverResources } } });
    const done = await waitForObject('the backup with moverResources', readSource(kc, ns, 'backup'), synced);
    expect(done.status?.latestMoverStatus?.result).toBe('Successful');
  });

  it('moverPodLabels and moverServiceAccount are on the pod; without a ServiceAccount no token is mounted', async (test) => {
    const kc = e2eKubeConfig();
    const ns = await resticNamespace(kc, 'pod-settings', test);
    const pods = await watchMoverPods<Pod>(kc, ns, test);
    await kubeRequest(kc, {
      method: 'POST',
      path: `/api/v1/namespaces/${ns}/serviceaccounts`,
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'mover-sa' } },
    });
    const labels = { team: 'storage', 'app.kubernetes.io/created-by': 'someone-else' };
    await create(
      kc,
      'ReplicationSource',
      ns,
      backup('named', { moverServiceAccount: 'mover-sa', moverPodLabels: labels }),
    );
    await waitForObject('the backup with a ServiceAccount', readSource(kc, ns, 'named'), synced);
    await create(kc, 'ReplicationSource', ns, backup('plain'));
    await waitForObject('the plain backup', readSource(kc, ns, 'plain'), synced);

    const podOf = (job: string) => [...pods.values()].find((pod) => pod.metadata?.labels?.[MOVER_POD_LABEL] === job);
    const named = podOf('scribe-restic-src-named');
    const plain = podOf('scribe-restic-src-plain');
    expect(named, [...pods.keys()].join(', ')).toBeDefined();
    expect(plain, [...pods.keys()].join(', ')).toBeDefined();

    expect(named?.metadata?.labels?.team).toBe('storage');
    expect(named?.metadata?.labels?.['app.kubernetes.io/created-by']).toBe('scribe');
    expect(named?.spec?.serviceAccountName).toBe('mover-sa');
    // A named ServiceAccount's token is mounted as the ServiceAccount says (the default: yes).
    expect(named?.spec?.automountServiceAccountToken).toBeUndefined();
    expect(named && hasTokenVolume(named)).toBe(true);

    expect(plain?.spec?.serviceAccountName).toBe('default');
    expect(plain?.spec?.automountServiceAccountToken).toBe(false);
    expect(plain && hasTokenVolume(plain)).toBe(false);
    for (const pod of [named, plain]) expect(pod?.spec?.enableServiceLinks).toBe(false);
  });
});
