/**
 * The engine end to end, one test per copyMethod on each side: the exact objects Scribe creates,
 * their ownerReferences and labels, the status fields and conditions, and the cleanup of the
 * cycle's temporary objects. Then bad input: a problem named in Reconciled=False and a Warning
 * Event, nothing deleted, and another CR in the same namespace syncing on regardless.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../src/kube/resources.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
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
  PRIVILEGED_MOVERS,
} from '../support/e2e.js';
import { copySecret, listeningAddress } from '../../src/local/objects.js';

const API = 'scribe.backube/v1alpha1';

async function sourceVolume(kc: KubeConfig, namespace: string, name = 'data') {
  await createPvc(kc, namespace, name);
  const dir = await pvcDirectory(kc, namespace, name);
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(dir, 'sub', 'file'), `contents of ${namespace}\n`.repeat(100));
  return dir;
}

/** A listening rsync destination, and its key Secret copied to the source namespace. */
async function destination(kc: KubeConfig, destNs: string, sourceNs: string, copyMethod: 'None' | 'Snapshot') {
  await create(kc, 'ReplicationDestination', destNs, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: 'dest' },
    spec: { rsync: { copyMethod, capacity: '1Gi', accessModes: ['ReadWriteOnce'] } },
  });
  const { address, keys, rd } = await listeningAddress(kc, destNs, 'dest', 'destination address');
  await copySecret(kc, keys, destNs, sourceNs);
  return { address, keys, uid: rd.metadata?.uid as string };
}

function expectOwned(object: KubernetesObject, owner: { kind: string; name: string; uid: string }) {
  expect(object.metadata?.ownerReferences, `${object.kind} ${object.metadata?.name}`).toEqual([
    expect.objectContaining({ kind: owner.kind, name: owner.name, uid: owner.uid, controller: true }),
  ]);
  expect(object.metadata?.labels?.['app.kubernetes.io/created-by']).toBe('scribe');
}

const waitSynced = (kc: KubeConfig, ns: string, name: string, token: string) =>
  waitForObject(
    `source ${name} synced ${token}`,
    () => get<ReplicationSource>(kc, 'ReplicationSource', ns, name),
    (rs) => rs.status?.lastManualSync === token && rs.status?.state === 'idle',
  );

/** The name of each copyMethod row: the decisions it checks besides the engine's objects and status. */
const ENGINE_ROW =
  'source copyMethod %s, destination copyMethod %s; decision 2: no nextSyncTime without a schedule; decision 4: Go-style lastSyncDuration and "Reconcile complete"';

describe('the engine on the local runtime', () => {
  it.each([
    ['Clone', 'Snapshot'],
    ['Snapshot', 'Snapshot'],
    ['None', 'None'],
  ] as const)(ENGINE_ROW, async (sourceMethod, destMethod) => {
    const kc = e2eKubeConfig();
    // Owners must arrive as they are: the rsync movers run privileged (docs/permissions.md).
    const sourceNs = await e2eNamespace(kc, 'src', { annotations: PRIVILEGED_MOVERS });
    const destNs = await e2eNamespace(kc, 'dst', { annotations: PRIVILEGED_MOVERS });
    const recorder = new CreatedObjects(kc, [sourceNs, destNs]);
    await recorder.start();
    try {
      const sourceDir = await sourceVolume(kc, sourceNs);
      const dest = await destination(kc, destNs, sourceNs, destMethod);
      const rs = await create<ReplicationSource>(kc, 'ReplicationSource', sourceNs, {
        apiVersion: API,
        kind: 'ReplicationSource',
        metadata: { name: 'src' },
        spec: {
          sourcePVC: 'data',
          trigger: { manual: 'once' },
          rsync: { copyMethod: sourceMethod, address: dest.address, sshKeys: dest.keys },
        },
      });
      const synced = await waitSynced(kc, sourceNs, 'src', 'once');
      // The destination has no trigger: once its cycle is cleaned up, the next one listens again.
      const rd = await waitForObject(
        'destination image, and the destination listening again',
        () => get<ReplicationDestination>(kc, 'ReplicationDestination', destNs, 'dest'),
        (d) => Boolean(d.status?.latestImage && d.status.lastSyncTime) && d.status?.state === 'moving',
      );

      // Status of the source, as the seed shows it, plus the engine's own facts.
      expect(synced.status).toMatchObject({
        state: 'idle',
        lastManualSync: 'once',
        latestMoverStatus: { result: 'Successful' },
      });
      expect(synced.status?.nextSyncTime).toBeUndefined(); // decision 2: only schedules have one
      expect(synced.status?.lastSyncDuration).toMatch(/^(\d+m)?\d+(\.\d+)?(ms|s)$/); // decision 4
      const conditions = Object.fromEntries((synced.status?.conditions ?? []).map((c) => [c.type, c]));
      expect(conditions.Reconciled).toMatchObject({
        status: 'True',
        reason: 'ReconcileComplete',
        message: 'Reconcile complete',
      });
      expect(conditions.Synchronizing).toMatchObject({ status: 'False', reason: 'WaitingForManual' });
      expect(synced.status?.journal?.map((j) => j.to)).toEqual(
        expect.arrayContaining(['snapshotting', 'moving', 'preserving', 'complete', 'idle']),
      );
      expect(synced.status?.latestMoverStatus?.logs).toMatch(/Number of files/);

      // Status of the destination after its sync.
      const destLastSync = Date.parse(rd.status?.lastSyncTime ?? '');
      expect(destLastSync).toBeGreaterThanOrEqual(Date.parse(synced.status?.lastSyncStartTime ?? ''));
      expect(destLastSync).toBeLessThanOrEqual(Date.now());
      expect(rd.status?.lastSyncDuration).toMatch(/^(\d+m)?\d+(\.\d+)?(ms|s)$/); // decision 4
      expect(rd.status?.nextSyncTime).toBeUndefined(); // decision 2
      expect(rd.status?.latestMoverStatus?.result).toBe('Successful');
      const destConditions = Object.fromEntries((rd.status?.conditions ?? []).map((c) => [c.type, c]));
      expect(destConditions.Reconciled).toMatchObject({
        status: 'True',
        reason: 'ReconcileComplete',
        message: 'Reconcile complete',
      });
      expect(destConditions.Synchronizing).toMatchObject({
        status: 'True',
        reason: 'SyncInProgress',
        message: `cycle ${rd.status?.cycle?.id}: moving`,
      });
      expect(rd.status?.journal?.map((j) => j.to)).toEqual(
        expect.arrayContaining(['moving', 'preserving', 'complete', 'idle']),
      );

      // Objects of the source side.
      const srcOwner = { kind: 'ReplicationSource', name: 'src', uid: rs.metadata?.uid as string };
      const jobs = recorder.ofKind('Job').filter((o) => o.metadata?.namespace === sourceNs);
      expect(jobs.map((j) => j.metadata?.name)).toEqual(['scribe-rsync-src-src']);
      jobs.forEach((job) => expectOwned(job, srcOwner));
      const pitPvcs = recorder.ofKind('PersistentVolumeClaim').filter((o) => o.metadata?.namespace === sourceNs);
      const pitSnapshots = recorder.ofKind('VolumeSnapshot').filter((o) => o.metadata?.namespace === sourceNs);
      expect(pitPvcs.map((p) => p.metadata?.name)).toEqual(sourceMethod === 'None' ? [] : ['scribe-src-src']);
      expect(pitSnapshots.map((p) => p.metadata?.name)).toEqual(sourceMethod === 'Snapshot' ? ['scribe-src-src'] : []);
      for (const temporary of [...pitPvcs, ...pitSnapshots]) expectOwned(temporary, srcOwner);
      // What the point-in-time copy is made from: the clone names the source PVC; the snapshot
      // names the source PVC and the restored PVC names that snapshot.
      type Spec = { spec?: { dataSource?: object; source?: { persistentVolumeClaimName?: string } } };
      const [pitPvc] = pitPvcs as Spec[];
      const [pitSnapshot] = pitSnapshots as Spec[];
      if (sourceMethod === 'Clone') {
        expect(pitPvc?.spec?.dataSource).toMatchObject({ kind: 'PersistentVolumeClaim', name: 'data' });
      }
      if (sourceMethod === 'Snapshot') {
        expect(pitSnapshot?.spec?.source).toEqual({ persistentVolumeClaimName: 'data' });
        expect(pitPvc?.spec?.dataSource).toEqual({
          apiGroup: 'snapshot.storage.k8s.io',
          kind: 'VolumeSnapshot',
          name: 'scribe-src-src',
        });
      }
      // ... and every temporary object is gone once the cycle completed.
      await waitForObject(
        'source temporaries removed',
        async () =>
          ['Job', 'PersistentVolumeClaim', 'VolumeSnapshot'].some((k) =>
            recorder.exists(k as 'Job', sourceNs, k === 'Job' ? 'scribe-rsync-src-src' : 'scribe-src-src'),
          ),
        (anyLeft) => !anyLeft,
        60_000,
      );
      expect(await get(kc, 'PersistentVolumeClaim', sourceNs, 'data')).toBeDefined(); // the user's PVC stays

      // Objects of the destination side.
      const destOwner = { kind: 'ReplicationDestination', name: 'dest', uid: dest.uid };
      const destObjects = [...recorder.seen.values()].filter((o) => o.metadata?.namespace === destNs);
      const names = (kind: string) =>
        [...new Set(destObjects.filter((o) => o.kind === kind).map((o) => o.metadata?.name))].sort();
      expect(names('Service')).toEqual(['scribe-rsync-dest-dest']);
      expect(names('Secret')).toEqual(['scribe-rsync-dest-dest-dest', 'scribe-rsync-dest-src-dest']);
      expect(names('PersistentVolumeClaim')).toEqual(['scribe-dest-dest']);
      expect(names('Job')).toEqual(['scribe-rsync-dest-dest']);
      destObjects.forEach((o) => expectOwned(o, destOwner));
      const image = rd.status?.latestImage;
      if (destMethod === 'Snapshot') {
        expect(image).toMatchObject({ kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io' });
        expect(names('VolumeSnapshot')).toContain(image?.name);
        const imageSnapshot = destObjects.find(
          (o) => o.kind === 'VolumeSnapshot' && o.metadata?.name === image?.name,
        ) as (KubernetesObject & { spec?: { source?: { persistentVolumeClaimName?: string } } }) | undefined;
        expect(imageSnapshot?.spec?.source).toEqual({ persistentVolumeClaimName: 'scribe-dest-dest' });
        await createPvc(kc, destNs, 'restored', {
          dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: image?.name },
        });
        expect(snapshotTree(await pvcDirectory(kc, destNs, 'restored'))).toEqual(snapshotTree(sourceDir));
      } else {
        expect(image).toMatchObject({ kind: 'PersistentVolumeClaim', name: 'scribe-dest-dest' });
        expect(snapshotTree(await pvcDirectory(kc, destNs, 'scribe-dest-dest'))).toEqual(snapshotTree(sourceDir));
      }
    } finally {
      await recorder.stop();
    }
  });

  it('reports bad input on the field, deletes nothing, and lets other CRs in the namespace sync; decision 3: a missing source PVC waits; decision 7: an external-only CR is left alone', async () => {
    const kc = e2eKubeConfig();
    const sourceNs = await e2eNamespace(kc, 'bad');
    const destNs = await e2eNamespace(kc, 'baddst');
    await sourceVolume(kc, sourceNs);
    const dest = await destination(kc, destNs, sourceNs, 'None');
    const source = (name: string, spec: object) =>
      create<ReplicationSource>(kc, 'ReplicationSource', sourceNs, {
        apiVersion: API,
        kind: 'ReplicationSource',
        metadata: { name },
        spec: { sourcePVC: 'data', trigger: { manual: 'go' }, ...spec },
      });
    const rsync = { copyMethod: 'Clone', address: dest.address, sshKeys: dest.keys };
    // Accepted by the schema, refused by the machine: a minute that does not exist.
    await source('bad-cron', { trigger: { schedule: '61 * * * *' }, rsync });
    // A key Secret that was never copied over.
    await source('no-secret', { rsync: { ...rsync, sshKeys: 'never-copied' } });
    // Decision 3: a source PVC that does not exist yet waits, without an error.
    await source('no-pvc', { sourcePVC: 'later', rsync });
    // Decision 7: a CR with only spec.external belongs to its provider; Scribe writes nothing.
    await create(kc, 'ReplicationSource', sourceNs, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'external' },
      spec: { sourcePVC: 'data', external: { provider: 'example.com/replicator', parameters: { a: 'b' } } },
    });
    // A healthy neighbour.
    await source('good', { rsync });

    const reconciled = (name: string) =>
      waitForObject(
        `${name} reports Reconciled=False`,
        () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, name),
        (rs) => rs.status?.conditions?.some((c) => c.type === 'Reconciled' && c.status === 'False') ?? false,
      );
    const badCron = await reconciled('bad-cron');
    expect(badCron.status?.conditions?.find((c) => c.type === 'Reconciled')?.message).toMatch(
      /^spec\.trigger\.schedule: /,
    );
    const noSecret = await reconciled('no-secret');
    expect(noSecret.status?.conditions?.find((c) => c.type === 'Reconciled')?.message).toMatch(
      /spec\.rsync\.sshKeys: Secret "never-copied" is missing.*copy it from the destination's namespace/,
    );
    await waitSynced(kc, sourceNs, 'good', 'go');
    // By now the operator has seen the external CR (created before 'good') and left it alone.
    expect((await get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'external'))?.status).toBeUndefined();

    const noPvc = await waitForObject(
      'no-pvc waiting',
      () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'no-pvc'),
      (rs) => rs.status?.state === 'waitingForPvc',
    );
    expect(noPvc.status?.conditions?.find((c) => c.type === 'Synchronizing')).toMatchObject({
      reason: 'WaitingForPVC',
      message: expect.stringMatching(
        /^spec\.sourcePVC: PersistentVolumeClaim later does not exist yet; waiting for it/,
      ),
    });
    expect(noPvc.status?.conditions?.find((c) => c.type === 'Reconciled')?.status).toBe('True');

    // Warning Events name the field.
    const events = await kubeRequest<{
      items: Array<{ type: string; reason: string; note: string; regarding: { name: string } }>;
    }>(kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.Event, sourceNs),
    });
    const warnings = events.items.filter((e) => e.type === 'Warning');
    expect(warnings.find((e) => e.regarding.name === 'bad-cron')?.note).toMatch(/spec\.trigger\.schedule/);
    expect(warnings.find((e) => e.regarding.name === 'no-secret')?.note).toMatch(/spec\.rsync\.sshKeys/);
    // Decision 3: one Normal Event naming the field, no Warning.
    expect(warnings.filter((e) => e.regarding.name === 'no-pvc')).toEqual([]);
    expect(
      events.items.filter((e) => e.regarding.name === 'no-pvc' && e.reason === 'WaitingForPVC').map((e) => e.note),
    ).toEqual(['spec.sourcePVC: PersistentVolumeClaim later does not exist yet; waiting for it']);

    // Nothing of the user's went away, and fixing the input is enough to recover.
    expect(await get(kc, 'PersistentVolumeClaim', sourceNs, 'data')).toBeDefined();
    await patch(kc, 'ReplicationSource', sourceNs, 'bad-cron', { spec: { trigger: { schedule: '*/5 * * * *' } } });
    await waitForObject(
      'bad-cron recovers',
      () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'bad-cron'),
      (rs) => Boolean(rs.status?.lastSyncTime),
    );
    await createPvc(kc, sourceNs, 'later');
    await waitSynced(kc, sourceNs, 'no-pvc', 'go');
  });
});
