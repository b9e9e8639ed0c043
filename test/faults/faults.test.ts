/**
 * Faults on a whole local system of this file's own: the API server and etcd restarted during
 * a sync, a mover pod killed mid-transfer, a destination volume that fills up (a tmpfs-backed
 * volume of the local runtime's `scribe-local-sized` class), and secrets kept out of logs,
 * Events and status.
 * Every cycle must still complete, with no duplicate work and the previous image intact.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../src/kube/resources.js';
import { SIZED_CLASS } from '../../src/local/agent/kinds.js';
import { startLocalRuntime, type LocalRuntime } from '../../src/local/runtime.js';
import {
  copySecret,
  create,
  createPvc,
  get,
  listeningAddress,
  patch,
  pvcDirectory,
  waitForObject,
} from '../../src/local/objects.js';
import { waitFor } from '../../src/local/processes.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import { CreatedObjects } from '../support/recorder.js';

let runtime: LocalRuntime;
const API = 'scribe.backube/v1alpha1';

beforeAll(async () => {
  runtime = await startLocalRuntime();
  for (const name of ['src', 'dst']) {
    await create(runtime.kc, 'Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
});
afterAll(async () => {
  await runtime?.stop();
});

/** A destination (rsync spec `destinationRsync`) and a manual source for `id`, with `files` files of sample data. */
async function pair(id: string, files = 300, destinationRsync: object = { copyMethod: 'Snapshot', capacity: '1Gi' }) {
  const kc = runtime.kc;
  await createPvc(kc, 'src', id);
  const dir = await pvcDirectory(kc, 'src', id);
  await mkdir(join(dir, 'd'), { recursive: true });
  for (let i = 0; i < files; i++) await writeFile(join(dir, 'd', `f${i}`), `${id} ${i}\n`.repeat(3000));
  await create(kc, 'ReplicationDestination', 'dst', {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: id },
    spec: { rsync: destinationRsync },
  });
  const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', 'dst', id);
  const { rd, keys } = await listeningAddress(kc, 'dst', id);
  const secret = await copySecret(kc, keys, 'dst', 'src');
  const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', 'src', id);
  const start = (manual: string) =>
    create(kc, 'ReplicationSource', 'src', {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: id },
      spec: {
        sourcePVC: id,
        trigger: { manual },
        rsync: { copyMethod: 'Clone', address: rd.status?.rsync?.address, sshKeys: keys },
      },
    });
  const synced = (manual: string) =>
    waitForObject(`${id} synced ${manual}`, readSource, (rs) => rs.status?.lastManualSync === manual, 240_000);
  return { dir, readDest, readSource, start, synced, keys, secret };
}

const waitForState = (read: () => Promise<ReplicationSource | undefined>, state: string) =>
  waitFor(`state ${state}`, async () => (await read())?.status?.state === state, {
    timeoutMs: 120_000,
    intervalMs: 10,
  });

describe('faults', () => {
  it('completes a sync across an API server restart and an etcd restart, with no duplicate Job', async () => {
    const recorder = new CreatedObjects(runtime.kc, ['src']);
    await recorder.start();
    try {
      const p = await pair('restarts');
      await p.start('one');
      await waitForState(p.readSource, 'moving');
      await runtime.controlPlane.restartApiServer();
      await p.synced('one');
      const imageOne = await waitForObject('image one', p.readDest, (d) => Boolean(d.status?.latestImage?.name));
      await patch(runtime.kc, 'ReplicationSource', 'src', 'restarts', { spec: { trigger: { manual: 'two' } } });
      await waitForState(p.readSource, 'moving');
      await runtime.controlPlane.restartEtcd();
      await p.synced('two');
      const jobs = recorder.ofKind('Job');
      const cycles = new Set(jobs.map((j) => j.metadata?.labels?.['scribe.backube/cycle']));
      expect(jobs.length).toBe(cycles.size);
      expect(cycles.size).toBe(2);
      // The destination preserves after the source is done; restore from the image of sync two.
      const imageTwo = await waitForObject(
        'image two',
        p.readDest,
        (d) =>
          Boolean(d.status?.latestImage?.name) && d.status?.latestImage?.name !== imageOne.status?.latestImage?.name,
      );
      const image = imageTwo.status?.latestImage?.name;
      await createPvc(runtime.kc, 'dst', 'check-restarts', {
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: image },
      });
      expect(snapshotTree(await pvcDirectory(runtime.kc, 'dst', 'check-restarts'))).toEqual(snapshotTree(p.dir));
    } finally {
      await recorder.stop();
    }
  });

  it('retries after the mover pod is killed mid-transfer, keeping the previous image until a new one is complete', async () => {
    const kc = runtime.kc;
    const p = await pair('killed', 600);
    await p.start('one');
    await p.synced('one');
    // The destination preserves its copy after the source is done: wait for that image.
    const first = await waitForObject('the first image', p.readDest, (d) => Boolean(d.status?.latestImage?.name));
    const previous = first.status?.latestImage?.name as string;

    for (let i = 0; i < 600; i++) await writeFile(join(p.dir, 'd', `f${i}`), `changed ${i}\n`.repeat(3000));
    await patch(kc, 'ReplicationSource', 'src', 'killed', { spec: { trigger: { manual: 'two' } } });
    await waitForState(p.readSource, 'moving');
    // Kill the source mover's pod the way a node loss would: delete it at once.
    const pods = await kubeRequest<{ items: KubernetesObject[] }>(kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.Pod, 'src'),
      query: { labelSelector: 'scribe.backube/mover-job=scribe-rsync-src-killed' },
    });
    for (const pod of pods.items) {
      await kubeRequest(kc, {
        method: 'DELETE',
        path: `${collectionPath(RESOURCES.Pod, 'src')}/${pod.metadata?.name}`,
        query: { gracePeriodSeconds: 0 },
      }).catch(() => undefined);
    }
    // Until the retry completes, latestImage keeps pointing at the previous, complete snapshot.
    const during = await p.readDest();
    expect(during?.status?.latestImage?.name).toBe(previous);
    await p.synced('two');
    const after = await waitForObject('a new image', p.readDest, (d) => d.status?.latestImage?.name !== previous);
    await createPvc(kc, 'dst', 'check-killed', {
      dataSource: {
        apiGroup: 'snapshot.storage.k8s.io',
        kind: 'VolumeSnapshot',
        name: after.status?.latestImage?.name,
      },
    });
    expect(snapshotTree(await pvcDirectory(kc, 'dst', 'check-killed'))).toEqual(snapshotTree(p.dir));
  });

  it('a destination volume that fills up fails the sync clearly and keeps the previous image', async () => {
    const kc = runtime.kc;
    // 30 files of ~27 KiB fit in 4 MiB; the second sync adds 6 MiB of incompressible data.
    const p = await pair('full', 30, { copyMethod: 'Snapshot', capacity: '4Mi', storageClassName: SIZED_CLASS });
    await p.start('one');
    await p.synced('one');
    const first = await waitForObject('the first image', p.readDest, (d) => Boolean(d.status?.latestImage?.name));
    const previous = first.status?.latestImage?.name as string;
    const before = snapshotTree(p.dir);

    await writeFile(join(p.dir, 'd', 'big.bin'), randomBytes(6 * 1024 * 1024));
    await patch(kc, 'ReplicationSource', 'src', 'full', { spec: { trigger: { manual: 'two' } } });
    const failed = await waitForObject(
      'the failure in status',
      p.readSource,
      (rs) => rs.status?.latestMoverStatus?.result === 'Failed',
      240_000,
    );
    const reconciled = failed.status?.conditions?.find((c) => c.type === 'Reconciled');
    expect(reconciled?.status).toBe('False');
    expect(`${reconciled?.message}\n${failed.status?.latestMoverStatus?.logs}`).toMatch(
      /No space left on device|destination volume full/i,
    );
    expect(failed.status?.lastManualSync).toBe('one');
    // The previous image is still the latest, and still holds the first sync's data.
    expect((await p.readDest())?.status?.latestImage?.name).toBe(previous);
    await createPvc(kc, 'dst', 'check-full', {
      dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: previous },
    });
    expect(snapshotTree(await pvcDirectory(kc, 'dst', 'check-full'))).toEqual(before);
  });

  it('never writes private keys into logs, Events or status', async () => {
    const kc = runtime.kc;
    const secrets = await kubeRequest<{ items: Array<KubernetesObject & { data?: Record<string, string> }> }>(kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.Secret, 'dst'),
      query: { labelSelector: 'app.kubernetes.io/created-by=scribe' },
    });
    // The private keys' base64 bodies, line by line: any one line leaking is a leak.
    const privateLines = secrets.items
      .flatMap((s) => ['source', 'destination'].map((k) => s.data?.[k]))
      .filter((v): v is string => Boolean(v))
      .flatMap((b64) => Buffer.from(b64, 'base64').toString('utf8').split('\n'))
      .filter((line) => line.length > 20 && !line.startsWith('-----'));
    expect(privateLines.length).toBeGreaterThan(0);
    const haystacks: Array<[string, string]> = [['operator log', await readFile(runtime.operatorLog, 'utf8')]];
    for (const ns of ['src', 'dst']) {
      for (const kind of ['Event', 'ReplicationSource', 'ReplicationDestination'] as const) {
        const list = await kubeRequest<{ items: unknown[] }>(kc, {
          method: 'GET',
          path: collectionPath(RESOURCES[kind], ns),
        });
        haystacks.push([`${kind}s in ${ns}`, JSON.stringify(list.items)]);
      }
    }
    expect(haystacks.map(([, text]) => text.length).every((n) => n > 0)).toBe(true);
    for (const [where, text] of haystacks) {
      for (const line of privateLines) expect(text.includes(line), `a private key line in ${where}`).toBe(false);
    }
  });
});
