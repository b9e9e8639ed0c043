/**
 * Issue 26, several destination images, end to end on the local runtime: an rsync destination
 * with copyMethod Snapshot keeping 3 images receives five syncs of a source whose data differs
 * before each; status.images then lists exactly the last three, oldest first, the two oldest
 * VolumeSnapshots are gone, and a PVC restored from the oldest kept image holds the source as it
 * was at that sync. And imagesToKeep above 1 with copyMethod None is refused, naming the field.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CoreV1Event, CoreV1EventList, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { copySecret, listeningAddress } from '../../src/local/objects.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import {
  create,
  createPvc,
  e2eKubeConfig,
  e2eNamespace,
  get,
  patch,
  PRIVILEGED_MOVERS,
  pvcDirectory,
  waitForObject,
} from '../support/e2e.js';

/** The source's data of sync `n`: a file that changes, one that grows, and one only some syncs have. */
async function writeGeneration(dir: string, n: number): Promise<void> {
  await mkdir(join(dir, 'db'), { recursive: true });
  await writeFile(join(dir, 'db', 'VERSION'), `${n}\n`);
  await writeFile(join(dir, 'db', 'rows'), `row of generation ${n}\n`.repeat(200 * n));
  if (n % 2 === 0) await writeFile(join(dir, 'even'), `even generation ${n}\n`);
  else await rm(join(dir, 'even'), { force: true });
}

describe('a ReplicationDestination keeping several images (issue 26)', () => {
  it('keeps the last 3 of five images, oldest first; the oldest kept restores the source as it was then', async () => {
    const kc = e2eKubeConfig();
    const sourceNs = await e2eNamespace(kc, 'images-src', { annotations: PRIVILEGED_MOVERS });
    const destNs = await e2eNamespace(kc, 'images-dst', { annotations: PRIVILEGED_MOVERS });
    await createPvc(kc, sourceNs, 'data');
    const sourceDir = await pvcDirectory(kc, sourceNs, 'data');

    // No trigger: after each sync the destination listens again for the next one.
    await create(kc, 'ReplicationDestination', destNs, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'keeper' },
      spec: { rsync: { serviceType: 'ClusterIP', copyMethod: 'Snapshot', capacity: '1Gi', imagesToKeep: 3 } },
    });
    const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', destNs, 'keeper');
    const { address, keys } = await listeningAddress(kc, destNs, 'keeper');
    await copySecret(kc, keys, destNs, sourceNs);

    const trees: ReturnType<typeof snapshotTree>[] = [];
    const images: string[] = [];
    for (let n = 1; n <= 5; n++) {
      await writeGeneration(sourceDir, n);
      trees.push(snapshotTree(sourceDir));
      if (n === 1) {
        await create(kc, 'ReplicationSource', sourceNs, {
          apiVersion: 'scribe.backube/v1alpha1',
          kind: 'ReplicationSource',
          metadata: { name: 'origin' },
          spec: {
            sourcePVC: 'data',
            trigger: { manual: 'sync-1' },
            rsync: { sshKeys: keys, address, copyMethod: 'Clone' },
          },
        });
      } else {
        await patch(kc, 'ReplicationSource', sourceNs, 'origin', { spec: { trigger: { manual: `sync-${n}` } } });
      }
      await waitForObject(
        `sync ${n} at the source`,
        () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'origin'),
        (rs) => rs.status?.lastManualSync === `sync-${n}`,
      );
      const received = await waitForObject(
        `image ${n} at the destination`,
        readDest,
        (rd) => Boolean(rd.status?.latestImage?.name) && !images.includes(rd.status?.latestImage?.name ?? ''),
      );
      const latest = received.status?.latestImage?.name as string;
      images.push(latest);
      // latestImage is the newest image: the last of status.images.
      expect(received.status?.images?.at(-1)).toMatchObject({
        apiGroup: 'snapshot.storage.k8s.io',
        kind: 'VolumeSnapshot',
        name: latest,
      });
    }

    // The two oldest go once their deletion is seen; the list is the last three, oldest first.
    const settled = await waitForObject(
      'exactly three images listed',
      readDest,
      (rd) => rd.status?.images?.length === 3,
      120_000,
    );
    const listed = settled.status?.images ?? [];
    expect(listed.map((image) => image.name)).toEqual(images.slice(2));
    for (const image of listed) {
      expect(image).toMatchObject({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot' });
      expect(Number.isNaN(Date.parse(image.time))).toBe(false);
    }
    const times = listed.map((image) => Date.parse(image.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(settled.status?.latestImage?.name).toBe(images[4]);
    for (const gone of images.slice(0, 2)) {
      await waitForObject(
        `VolumeSnapshot ${gone} deleted`,
        async () => ({ snapshot: await get(kc, 'VolumeSnapshot', destNs, gone) }),
        (o) => o.snapshot === undefined,
        60_000,
      );
    }
    for (const kept of images.slice(2)) expect(await get(kc, 'VolumeSnapshot', destNs, kept)).toBeDefined();

    // The oldest kept image is sync 3's: a PVC restored from it holds the source as it was then.
    await createPvc(kc, destNs, 'restored-3', {
      dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: listed[0]?.name },
    });
    const restored = await pvcDirectory(kc, destNs, 'restored-3');
    expect(snapshotTree(restored)).toEqual(trees[2]);
    expect(snapshotTree(restored)).not.toEqual(trees[4]);

    // Still three after the restore: nothing else goes meanwhile.
    expect((await readDest())?.status?.images?.map((image) => image.name)).toEqual(images.slice(2));
  });

  it('refuses imagesToKeep above 1 with copyMethod None, naming spec.rsync.imagesToKeep', async () => {
    const kc = e2eKubeConfig();
    const ns = await e2eNamespace(kc, 'images-bad');
    await create(kc, 'ReplicationDestination', ns, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'bad' },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi', imagesToKeep: 2 } },
    });
    const refused = await waitForObject(
      'Reconciled False naming the field',
      () => get<ReplicationDestination>(kc, 'ReplicationDestination', ns, 'bad'),
      (rd) =>
        rd.status?.conditions?.some((c) => c.type === 'Reconciled' && c.status === 'False') === true &&
        rd.status.state === 'invalid',
      60_000,
    );
    const reconciled = refused.status?.conditions?.find((c) => c.type === 'Reconciled');
    expect(reconciled?.message).toMatch(/^spec\.rsync\.imagesToKeep: 2 images need copyMethod Snapshot/);
    const warning = await waitForObject(
      'the InvalidSpec Warning',
      async () => {
        const events = await kubeRequest<CoreV1EventList>(kc, {
          method: 'GET',
          path: `/api/v1/namespaces/${ns}/events`,
          query: { fieldSelector: 'involvedObject.name=bad' },
        });
        return (events.items as CoreV1Event[]).find((e) => e.type === 'Warning' && e.reason === 'InvalidSpec');
      },
      () => true,
      30_000,
    );
    expect(warning.message).toContain('spec.rsync.imagesToKeep');
    // Nothing runs: no mover Job, no PVC.
    const jobs = await kubeRequest<{ items: KubernetesObject[] }>(kc, {
      method: 'GET',
      path: `/apis/batch/v1/namespaces/${ns}/jobs`,
    });
    expect(jobs.items).toEqual([]);
  });
});
