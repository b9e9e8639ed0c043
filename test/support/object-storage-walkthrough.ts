/**
 * The restic and rclone walkthroughs of the object-storage movers: a source CR, the wait for its
 * sync, a destination CR, the wait for its restore. The source side and the destination side each
 * name their own cluster and namespace, so one cluster serves both sides or two clusters one each;
 * the tests keep their own assertions on what these return.
 */
import { chmod, lchown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { create, createPvc, get, pvcDirectory, waitForObject } from '../../src/local/objects.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';

const API = 'scribe.backube/v1alpha1';

/** The database's user (the seed's MySQL example runs as 999): it owns the volume's files. */
export const DB_USER = 999;
/** The movers run as the database's user, so they read its 0600 files (docs/permissions.md). */
export const AS_DB = { moverSecurityContext: { runAsUser: DB_USER, runAsGroup: DB_USER, fsGroup: DB_USER } };

/** One side of a walkthrough: a cluster and a namespace in it. */
export interface Side {
  kc: KubeConfig;
  namespace: string;
}

/** The source's PVC `mysql-pv-claim` in `side`, holding files owned by the database's user; its directory. */
export async function databaseVolume(side: Side): Promise<string> {
  await createPvc(side.kc, side.namespace, 'mysql-pv-claim');
  const dir = await pvcDirectory(side.kc, side.namespace, 'mysql-pv-claim');
  await mkdir(join(dir, 'db', 'tables'), { recursive: true });
  await writeFile(join(dir, 'db', 'tables', 'users'), 'alice\nbob\n'.repeat(5000));
  await writeFile(join(dir, 'db', 'secret.conf'), 'mode 600');
  await chmod(join(dir, 'db', 'secret.conf'), 0o600);
  await symlink('tables/users', join(dir, 'db', 'current'));
  for (const path of ['db', 'db/tables', 'db/tables/users', 'db/secret.conf', 'db/current'])
    await lchown(join(dir, path), DB_USER, DB_USER);
  return dir;
}

/**
 * A volume's tree without its root: the volume's root keeps the mode, times and fsGroup of the
 * volume itself (a mover running as the database's user may not set them; restic never does).
 */
export function treeBelowRoot(dir: string) {
  const tree = snapshotTree(dir);
  delete tree['.'];
  return tree;
}

/** The CRs' names in these walkthroughs. */
const SOURCE = 'database-source';
const DESTINATION = 'database-destination';

/**
 * restic: ReplicationSource `database-source` backs `source`'s mysql-pv-claim up with `restic`
 * (copyMethod, retain...; repository `restic-config`, run as the database's user), then
 * ReplicationDestination `database-destination` restores the latest snapshot into a new PVC
 * `restored` of `dest`. Resolves with both CRs as their syncs left them and the restored volume.
 */
export async function resticBackupAndRestore(source: Side, dest: Side, restic: Record<string, unknown>) {
  await create(source.kc, 'ReplicationSource', source.namespace, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: SOURCE },
    spec: {
      sourcePVC: 'mysql-pv-claim',
      trigger: { manual: 'backup-1' },
      restic: { repository: 'restic-config', ...restic, ...AS_DB },
    },
  });
  const backedUp = await waitForObject(
    `backup in ${source.namespace}`,
    () => get<ReplicationSource>(source.kc, 'ReplicationSource', source.namespace, SOURCE),
    (rs) => rs.status?.lastManualSync === 'backup-1',
  );

  await createPvc(dest.kc, dest.namespace, 'restored');
  await create(dest.kc, 'ReplicationDestination', dest.namespace, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: DESTINATION },
    spec: {
      trigger: { manual: 'restore' },
      restic: { destinationPVC: 'restored', repository: 'restic-config', copyMethod: 'None', ...AS_DB },
    },
  });
  const restored = await waitForObject(
    `restore in ${dest.namespace}`,
    () => get<ReplicationDestination>(dest.kc, 'ReplicationDestination', dest.namespace, DESTINATION),
    (rd) => rd.status?.lastManualSync === 'restore',
  );
  return { backedUp, restored, restoredDir: await pvcDirectory(dest.kc, dest.namespace, 'restored') };
}

/** Where rclone moves the data: a section of the Secret `rclone-secret`'s rclone.conf and a path in it. */
export interface RcloneTarget {
  rcloneConfigSection: string;
  rcloneDestPath: string;
}

/**
 * rclone: ReplicationSource `database-source` copies a Snapshot of `source`'s mysql-pv-claim to
 * `target`, then ReplicationDestination `database-destination` of `dest` copies it into a new
 * volume and snapshots it (both run as the database's user); a PVC `restored` of `dest` is made
 * from that VolumeSnapshot. Resolves with the destination CR and the restored volume.
 */
export async function rcloneThroughBucket(source: Side, dest: Side, target: RcloneTarget) {
  const rclone = { ...target, rcloneConfig: 'rclone-secret', ...AS_DB, copyMethod: 'Snapshot' };
  await create(source.kc, 'ReplicationSource', source.namespace, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: SOURCE },
    spec: { sourcePVC: 'mysql-pv-claim', trigger: { manual: 'one' }, rclone },
  });
  await waitForObject(
    `rclone source in ${source.namespace}`,
    () => get<ReplicationSource>(source.kc, 'ReplicationSource', source.namespace, SOURCE),
    (rs) => rs.status?.lastManualSync === 'one',
  );
  await create(dest.kc, 'ReplicationDestination', dest.namespace, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: DESTINATION },
    spec: { trigger: { manual: 'one' }, rclone: { ...rclone, accessModes: ['ReadWriteOnce'], capacity: '1Gi' } },
  });
  const rd = await waitForObject(
    `rclone destination in ${dest.namespace}`,
    () => get<ReplicationDestination>(dest.kc, 'ReplicationDestination', dest.namespace, DESTINATION),
    (d) => d.status?.lastManualSync === 'one' && Boolean(d.status?.latestImage),
  );
  await createPvc(dest.kc, dest.namespace, 'restored', {
    dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: rd.status?.latestImage?.name },
  });
  return { rd, restoredDir: await pvcDirectory(dest.kc, dest.namespace, 'restored') };
}
