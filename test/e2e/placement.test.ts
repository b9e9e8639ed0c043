/**
 * Decision 12 end to end: a copyMethod None source whose ReadWriteOnce volume a running pod
 * uses gets a mover Job pinned to that pod's node, and the pinned mover is scheduled and
 * succeeds, tolerating what that pod tolerates; with no pod using the volume the Job is not pinned. The local runtime has one node,
 * so this checks the wiring (the operator's Pod watch, the facts, the builder, the scheduler
 * accepting the affinity), not a choice between nodes: the unit tests cover the choice.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationSource } from '../../src/api/index.js';
import { createBucket } from '../../src/local/s3.js';
import { CreatedObjects } from '../support/recorder.js';
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

type Pod = KubernetesObject & { spec?: { nodeName?: string }; status?: { phase?: string } };
type Job = KubernetesObject & {
  spec?: { template?: { spec?: { affinity?: unknown; nodeName?: string; tolerations?: unknown[] } } };
};

describe('decision 12 on the local runtime', () => {
  it('decision 12: a None source on a ReadWriteOnce volume in use runs its mover on the node of the pod using it', async () => {
    const kc = e2eKubeConfig();
    const s3 = inject('e2eS3');
    const bucket = `placement-${randomBytes(3).toString('hex')}`;
    await createBucket(s3.endpoint, s3.accessKey, s3.secretKey, bucket);
    const ns = await e2eNamespace(kc, 'placement');
    const recorder = new CreatedObjects(kc, [ns]);
    await recorder.start();
    try {
      await createPvc(kc, ns, 'data'); // ReadWriteOnce
      await writeFile(join(await pvcDirectory(kc, ns, 'data'), 'file'), 'contents\n');
      await create(kc, 'Secret', ns, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'restic-config' },
        stringData: {
          RESTIC_REPOSITORY: `s3:${s3.endpoint}/${bucket}/repo`,
          RESTIC_PASSWORD: 'placement-password',
          AWS_ACCESS_KEY_ID: s3.accessKey,
          AWS_SECRET_ACCESS_KEY: s3.secretKey,
        },
      });
      const synced = (token: string) =>
        waitForObject(
          `backup ${token}`,
          () => get<ReplicationSource>(kc, 'ReplicationSource', ns, 'src'),
          (rs) => rs.status?.lastManualSync === token && rs.status.state === 'idle',
        );
      const jobOfCycle = (sequence: string) =>
        recorder
          .ofKind('Job')
          .find((job) => job.metadata?.labels?.['scribe.backube/cycle']?.startsWith(`${sequence}-`)) as Job | undefined;

      // Nobody uses the volume: the mover may run anywhere.
      await create(kc, 'ReplicationSource', ns, {
        apiVersion: API,
        kind: 'ReplicationSource',
        metadata: { name: 'src' },
        spec: {
          sourcePVC: 'data',
          trigger: { manual: 'one' },
          restic: { repository: 'restic-config', copyMethod: 'None' },
        },
      });
      expect((await synced('one')).status?.latestMoverStatus?.result).toBe('Successful');
      expect(jobOfCycle('1')).toBeDefined();
      expect(jobOfCycle('1')?.spec?.template?.spec?.affinity).toBeUndefined();

      // An application pod mounts the volume: the next mover is pinned to its node.
      const dedicated = { key: 'scribe-test/dedicated', operator: 'Equal', value: 'placement', effect: 'NoSchedule' };
      await create(kc, 'Pod', ns, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'app' },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          // What a workload on a node tainted for it carries; the pinned mover must carry it too.
          tolerations: [dedicated],
          containers: [
            {
              name: 'app',
              image: inject('e2eMoverImage'),
              command: ['/bin/sh', '-c', 'exec sleep 600'],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
        },
      });
      const app = await waitForObject(
        'the application pod running',
        () => get<Pod>(kc, 'Pod', ns, 'app'),
        (pod) => pod.status?.phase === 'Running' && Boolean(pod.spec?.nodeName),
      );
      await patch(kc, 'ReplicationSource', ns, 'src', { spec: { trigger: { manual: 'two' } } });
      expect((await synced('two')).status?.latestMoverStatus?.result).toBe('Successful');
      const pinned = jobOfCycle('2');
      expect(pinned?.spec?.template?.spec?.affinity).toEqual({
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchFields: [{ key: 'metadata.name', operator: 'In', values: [app.spec?.nodeName] }] },
            ],
          },
        },
      });
      expect(pinned?.spec?.template?.spec?.nodeName).toBeUndefined();
      // Beside the API server's defaults (DefaultTolerationSeconds), which the pod has too.
      expect(pinned?.spec?.template?.spec?.tolerations).toContainEqual(dedicated);
      // The application was never disturbed.
      expect((await get<Pod>(kc, 'Pod', ns, 'app'))?.status?.phase).toBe('Running');
    } finally {
      await recorder.stop();
    }
  });
});
