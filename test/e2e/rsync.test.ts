/**
 * rsync end to end, as the seed's "Rsync Database Example" does it: a destination first, its
 * address and generated key Secret copied to the source side, then a manual-trigger source.
 * Real bytes go through real Jobs, Services, PVCs and VolumeSnapshots on the local runtime.
 */
import { rm, writeFile, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import {
  create,
  createPvc,
  e2eKubeConfig,
  e2eNamespace,
  get,
  PRIVILEGED_MOVERS,
  patch,
  pvcDirectory,
  waitForObject,
} from '../support/e2e.js';

type Secret = KubernetesObject & { data?: Record<string, string>; type?: string };

async function writeSample(dir: string, generation: number) {
  await mkdir(join(dir, 'db', 'tables'), { recursive: true });
  await writeFile(join(dir, 'db', 'tables', 'users'), `users generation ${generation}\n`.repeat(1000));
  await writeFile(join(dir, 'db', 'VERSION'), `${generation}\n`);
  await writeFile(join(dir, 'empty'), '');
  if (generation === 1) {
    await writeFile(join(dir, 'obsolete'), 'removed in generation 2');
    await symlink('db/VERSION', join(dir, 'current'));
  } else {
    await rm(join(dir, 'obsolete'), { force: true });
  }
}

describe('rsync replication on the local runtime', () => {
  it('copies a Clone of the source into a Snapshot destination, twice, converging after edits', async () => {
    const kc = e2eKubeConfig();
    // The seed's example preserves owners: both sides' movers run privileged (docs/permissions.md).
    const sourceNs = await e2eNamespace(kc, 'source', { annotations: PRIVILEGED_MOVERS });
    const destNs = await e2eNamespace(kc, 'dest', { annotations: PRIVILEGED_MOVERS });

    await createPvc(kc, sourceNs, 'mysql-pv-claim');
    const sourceDir = await pvcDirectory(kc, sourceNs, 'mysql-pv-claim');
    await writeSample(sourceDir, 1);

    await create(kc, 'ReplicationDestination', destNs, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'database-destination' },
      spec: {
        rsync: { serviceType: 'ClusterIP', copyMethod: 'Snapshot', capacity: '2Gi', accessModes: ['ReadWriteOnce'] },
      },
    });
    const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', destNs, 'database-destination');
    const listening = await waitForObject('destination address and keys', readDest, (rd) =>
      Boolean(rd.status?.rsync?.address && rd.status.rsync.sshKeys),
    );
    const address = listening.status?.rsync?.address as string;
    const keysName = listening.status?.rsync?.sshKeys as string;
    expect(keysName).toBe('scribe-rsync-dest-src-database-destination');

    // The seed: "we need the ssh secret from the dest namespace".
    const secret = await get<Secret>(kc, 'Secret', destNs, keysName);
    expect(Object.keys(secret?.data ?? {}).sort()).toEqual(['destination.pub', 'source', 'source.pub']);
    await create(kc, 'Secret', sourceNs, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: keysName },
      data: secret?.data,
    });

    await create(kc, 'ReplicationSource', sourceNs, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'database-source' },
      spec: {
        sourcePVC: 'mysql-pv-claim',
        trigger: { manual: 'first' },
        rsync: { sshKeys: keysName, address, copyMethod: 'Clone' },
      },
    });
    const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'database-source');
    const synced = await waitForObject('first manual sync', readSource, (rs) => rs.status?.lastManualSync === 'first');
    expect(synced.status?.lastSyncTime).toBeTruthy();
    expect(synced.status?.lastSyncDuration).toMatch(/^[0-9.]+(ms|s)$|m/);
    expect(synced.status?.conditions?.find((c) => c.type === 'Reconciled')).toMatchObject({
      status: 'True',
      reason: 'ReconcileComplete',
      message: 'Reconcile complete',
    });
    expect(synced.status?.latestMoverStatus?.result).toBe('Successful');

    const firstImage = await waitForObject('destination latestImage', readDest, (rd) =>
      Boolean(rd.status?.latestImage?.name),
    );
    expect(firstImage.status?.latestImage).toMatchObject({
      apiGroup: 'snapshot.storage.k8s.io',
      kind: 'VolumeSnapshot',
    });
    expect(firstImage.status?.latestImage?.name).toMatch(/^scribe-dest-database-destination-\d{14}$/);

    const restored = async (image: string, pvcName: string) => {
      await createPvc(kc, destNs, pvcName, {
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: image },
      });
      return pvcDirectory(kc, destNs, pvcName);
    };
    const firstCopy = await restored(firstImage.status?.latestImage?.name as string, 'restored-1');
    expect(snapshotTree(firstCopy)).toEqual(snapshotTree(sourceDir));

    // Second cycle: edits and a deletion at the source, then a new manual token.
    await writeSample(sourceDir, 2);
    await patch(kc, 'ReplicationSource', sourceNs, 'database-source', { spec: { trigger: { manual: 'second' } } });
    await waitForObject('second manual sync', readSource, (rs) => rs.status?.lastManualSync === 'second');
    const secondImage = await waitForObject(
      'a new latestImage',
      readDest,
      (rd) =>
        Boolean(rd.status?.latestImage?.name) && rd.status?.latestImage?.name !== firstImage.status?.latestImage?.name,
    );
    const secondCopy = await restored(secondImage.status?.latestImage?.name as string, 'restored-2');
    expect(snapshotTree(secondCopy)).toEqual(snapshotTree(sourceDir));

    // The temporary clone of the source is gone once the cycle completed.
    await waitForObject(
      'the clone cleaned up',
      async () => (await get(kc, 'PersistentVolumeClaim', sourceNs, 'scribe-src-database-source')) ?? null,
      (pvc) => pvc === null,
    );
  });
});
