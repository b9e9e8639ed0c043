/**
 * restic and rclone end to end through a real S3 server (MinIO on loopback): a backup restored
 * into a new PVC, and a volume carried through a bucket to a destination's snapshot.
 */
import { chmod, lchown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { createBucket } from '../../src/local/s3.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import { expectRcloneCopy } from '../support/rclone-tree.js';
import { create, createPvc, e2eKubeConfig, e2eNamespace, get, pvcDirectory, waitForObject } from '../support/e2e.js';

const API = 'scribe.backube/v1alpha1';

/** The database's user (the seed's MySQL example runs as 999): it owns the volume's files. */
const DB_USER = 999;
/** The movers run as the database's user, so they read its 0600 files (docs/permissions.md). */
const AS_DB = { moverSecurityContext: { runAsUser: DB_USER, runAsGroup: DB_USER, fsGroup: DB_USER } };

/**
 * A volume's tree without its root: the volume's root keeps the mode, times and fsGroup of the
 * volume itself (a mover running as the database's user may not set them; restic never does).
 */
function treeBelowRoot(dir: string) {
  const tree = snapshotTree(dir);
  delete tree['.'];
  return tree;
}

async function sampleVolume(dir: string) {
  await mkdir(join(dir, 'db', 'tables'), { recursive: true });
  await writeFile(join(dir, 'db', 'tables', 'users'), 'alice\nbob\n'.repeat(5000));
  await writeFile(join(dir, 'db', 'secret.conf'), 'mode 600');
  await chmod(join(dir, 'db', 'secret.conf'), 0o600);
  await symlink('tables/users', join(dir, 'db', 'current'));
  for (const path of ['db', 'db/tables', 'db/tables/users', 'db/secret.conf', 'db/current'])
    await lchown(join(dir, path), DB_USER, DB_USER);
}

describe('object storage movers on the local runtime', () => {
  it('restic: backs a Clone up and restores the latest snapshot into a new PVC', async () => {
    const kc = e2eKubeConfig();
    const s3 = inject('e2eS3');
    const bucket = `restic-${randomBytes(3).toString('hex')}`;
    await createBucket(s3.endpoint, s3.accessKey, s3.secretKey, bucket);
    const ns = await e2eNamespace(kc, 'restic');
    await createPvc(kc, ns, 'mysql-pv-claim');
    const sourceDir = await pvcDirectory(kc, ns, 'mysql-pv-claim');
    await sampleVolume(sourceDir);
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'restic-config' },
      stringData: {
        RESTIC_REPOSITORY: `s3:${s3.endpoint}/${bucket}/repo`,
        RESTIC_PASSWORD: 'my-secure-restic-password',
        AWS_ACCESS_KEY_ID: s3.accessKey,
        AWS_SECRET_ACCESS_KEY: s3.secretKey,
      },
    };
    await create(kc, 'Secret', ns, secret);
    await create(kc, 'ReplicationSource', ns, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'database-source' },
      spec: {
        sourcePVC: 'mysql-pv-claim',
        trigger: { manual: 'backup-1' },
        restic: {
          repository: 'restic-config',
          copyMethod: 'Clone',
          pruneIntervalDays: 15,
          retain: { daily: 2, last: 3 },
          ...AS_DB,
        },
      },
    });
    const backedUp = await waitForObject(
      'backup',
      () => get<ReplicationSource>(kc, 'ReplicationSource', ns, 'database-source'),
      (rs) => rs.status?.lastManualSync === 'backup-1',
    );
    expect(backedUp.status?.latestMoverStatus?.result).toBe('Successful');
    expect(backedUp.status?.latestMoverStatus?.logs).not.toContain(s3.secretKey);
    expect(backedUp.status?.latestMoverStatus?.logs).not.toContain('my-secure-restic-password');
    // The cache PVC stays for the next backup.
    expect(await get(kc, 'PersistentVolumeClaim', ns, 'scribe-cache-src-database-source')).toBeDefined();

    await createPvc(kc, ns, 'restored');
    await create(kc, 'ReplicationDestination', ns, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'database-destination' },
      spec: {
        trigger: { manual: 'restore' },
        restic: { destinationPVC: 'restored', repository: 'restic-config', copyMethod: 'None', ...AS_DB },
      },
    });
    const restored = await waitForObject(
      'restore',
      () => get<ReplicationDestination>(kc, 'ReplicationDestination', ns, 'database-destination'),
      (rd) => rd.status?.lastManualSync === 'restore',
    );
    expect(restored.status?.latestImage).toMatchObject({ kind: 'PersistentVolumeClaim', name: 'restored' });
    expect(treeBelowRoot(await pvcDirectory(kc, ns, 'restored'))).toEqual(treeBelowRoot(sourceDir));
  });

  it('rclone: carries a Snapshot of the source through a bucket into a destination snapshot', async () => {
    const kc = e2eKubeConfig();
    const s3 = inject('e2eS3');
    const bucket = `rclone-${randomBytes(3).toString('hex')}`;
    await createBucket(s3.endpoint, s3.accessKey, s3.secretKey, bucket);
    const sourceNs = await e2eNamespace(kc, 'rcsrc');
    const destNs = await e2eNamespace(kc, 'rcdst');
    await createPvc(kc, sourceNs, 'mysql-pv-claim');
    const sourceDir = await pvcDirectory(kc, sourceNs, 'mysql-pv-claim');
    await sampleVolume(sourceDir);
    const rcloneConf = [
      '[aws-s3-bucket]',
      'type = s3',
      'provider = Minio',
      'env_auth = false',
      `access_key_id = ${s3.accessKey}`,
      `secret_access_key = ${s3.secretKey}`,
      `endpoint = ${s3.endpoint}`,
      '',
    ].join('\n');
    for (const ns of [sourceNs, destNs]) {
      await create(kc, 'Secret', ns, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'rclone-secret' },
        stringData: { 'rclone.conf': rcloneConf },
      });
    }
    const rclone = {
      rcloneConfigSection: 'aws-s3-bucket',
      rcloneDestPath: `${bucket}/database`,
      rcloneConfig: 'rclone-secret',
    };
    await create(kc, 'ReplicationSource', sourceNs, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'database-source' },
      spec: {
        sourcePVC: 'mysql-pv-claim',
        trigger: { manual: 'one' },
        rclone: { ...rclone, ...AS_DB, copyMethod: 'Snapshot' },
      },
    });
    await waitForObject(
      'rclone source',
      () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'database-source'),
      (rs) => rs.status?.lastManualSync === 'one',
    );
    await create(kc, 'ReplicationDestination', destNs, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'database-destination' },
      spec: {
        trigger: { manual: 'one' },
        rclone: { ...rclone, ...AS_DB, copyMethod: 'Snapshot', accessModes: ['ReadWriteOnce'], capacity: '1Gi' },
      },
    });
    const rd = await waitForObject(
      'rclone destination',
      () => get<ReplicationDestination>(kc, 'ReplicationDestination', destNs, 'database-destination'),
      (d) => d.status?.lastManualSync === 'one' && Boolean(d.status?.latestImage),
    );
    expect(rd.status?.latestImage?.name).toMatch(/^scribe-dest-database-destination-\d{14}$/);
    await createPvc(kc, destNs, 'restored', {
      dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: rd.status?.latestImage?.name },
    });
    expectRcloneCopy(treeBelowRoot(await pvcDirectory(kc, destNs, 'restored')), treeBelowRoot(sourceDir));
  });
});
