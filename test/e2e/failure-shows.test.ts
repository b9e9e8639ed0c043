/**
 * Data safety, point 7: a failure shows at once. A restic source whose repository cannot be used
 * (nothing listens at its address; MinIO refuses its credentials) puts the mover's own error line
 * into the Synchronizing condition and a Warning Event within 30 s of the mover's exit, instead of
 * leaving it in `kubectl logs` while the CR says all is well.
 */
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import type { V1Pod, V1PodList, CoreV1Event, CoreV1EventList } from '@kubernetes/client-node';
import type { ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { createBucket } from '../../src/local/s3.js';
import { create, createPvc, e2eKubeConfig, e2eNamespace, get, waitForObject } from '../support/e2e.js';

/** A loopback port nothing listens on: bound once to learn it, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const CASES = [
  { name: 'connection refused', repository: async () => `s3:http://127.0.0.1:${await closedPort()}/nowhere/repo` },
  { name: 'bad credentials', repository: async () => undefined, wrongSecret: true },
] as const;

describe('a failed mover attempt shows its error in the CR within 30 s of its exit', () => {
  it.each(CASES)('restic repository: $name', async (testCase) => {
    const kc = e2eKubeConfig();
    const s3 = inject('e2eS3');
    const ns = await e2eNamespace(kc, 'unreachable');
    const bucket = `fail-${randomBytes(3).toString('hex')}`;
    await createBucket(s3.endpoint, s3.accessKey, s3.secretKey, bucket);
    await createPvc(kc, ns, 'data');
    await create(kc, 'Secret', ns, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'restic-config' },
      stringData: {
        RESTIC_REPOSITORY: (await testCase.repository()) ?? `s3:${s3.endpoint}/${bucket}/repo`,
        RESTIC_PASSWORD: 'a-password',
        AWS_ACCESS_KEY_ID: s3.accessKey,
        AWS_SECRET_ACCESS_KEY: 'wrongSecret' in testCase ? 'not-the-secret-key' : s3.secretKey,
      },
    });
    await create(kc, 'ReplicationSource', ns, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'backup' },
      spec: {
        sourcePVC: 'data',
        trigger: { manual: 'once' },
        restic: { repository: 'restic-config', copyMethod: 'None' },
      },
    });

    // The mover pod is deleted once its attempt has failed: note when its container ended while it exists.
    let exitedAt: number | undefined;
    const failed = await waitForObject(
      'the mover error in Synchronizing',
      async () => {
        const pods = await kubeRequest<V1PodList>(kc, { method: 'GET', path: `/api/v1/namespaces/${ns}/pods` });
        for (const pod of pods.items as V1Pod[]) {
          const finished = pod.status?.containerStatuses?.[0]?.state?.terminated?.finishedAt;
          if (finished && exitedAt === undefined) exitedAt = new Date(finished).getTime();
        }
        return get<ReplicationSource>(kc, 'ReplicationSource', ns, 'backup');
      },
      (rs) => rs.status?.conditions?.find((c) => c.type === 'Synchronizing')?.reason === 'Error',
      240_000,
    );
    const synchronizing = failed.status?.conditions?.find((c) => c.type === 'Synchronizing');
    const seenAt = Date.now();
    expect(exitedAt, 'the mover pod was never seen terminated').toBeDefined();
    // Seen by this test's own poll: an upper bound on when the condition said it.
    expect(seenAt - (exitedAt ?? 0)).toBeLessThan(30_000);
    // The mover's own words (restic's), not only an exit code.
    expect(synchronizing?.message).toMatch(/restic/i);
    expect(synchronizing?.message).toMatch(/refused|denied|access key|signature|forbidden|not found|does not exist/i);
    expect(failed.status?.conditions?.find((c) => c.type === 'Reconciled')?.status).toBe('False');
    // The Event is written beside the status, not in the same request: wait for it too.
    const warning = await waitForObject(
      'the TransferFailed Warning',
      async () => {
        const events = await kubeRequest<CoreV1EventList>(kc, {
          method: 'GET',
          path: `/api/v1/namespaces/${ns}/events`,
          query: { fieldSelector: 'involvedObject.name=backup' },
        });
        return (events.items as CoreV1Event[]).find((e) => e.type === 'Warning' && e.reason === 'TransferFailed');
      },
      () => true,
      30_000,
    );
    expect(warning.message).toBe(synchronizing?.message?.replace(/; retry \d+ at .*$/, ''));
  });
});
