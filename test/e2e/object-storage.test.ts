/**
 * restic and rclone end to end through a real S3 server (MinIO on loopback): a backup restored
 * into a new PVC, and a volume carried through a bucket to a destination's snapshot.
 */
import { describe, expect, inject, it } from 'vitest';
import { expectRcloneCopy } from '../support/rclone-tree.js';
import { e2eKubeConfig, e2eNamespace, get } from '../support/e2e.js';
import { createRcloneSecret, createResticSecret, newBucket } from '../support/object-store.js';
import {
  databaseVolume,
  rcloneThroughBucket,
  resticBackupAndRestore,
  treeBelowRoot,
} from '../support/object-storage-walkthrough.js';

describe('object storage movers on the local runtime', () => {
  it('restic: backs a Clone up and restores the latest snapshot into a new PVC', async () => {
    const kc = e2eKubeConfig();
    const s3 = inject('e2eS3');
    const bucket = await newBucket(s3, 'restic');
    const ns = await e2eNamespace(kc, 'restic');
    const side = { kc, namespace: ns };
    const sourceDir = await databaseVolume(side);
    await createResticSecret(kc, ns, s3, bucket, 'my-secure-restic-password');
    const { backedUp, restored, restoredDir } = await resticBackupAndRestore(side, side, {
      copyMethod: 'Clone',
      pruneIntervalDays: 15,
      retain: { daily: 2, last: 3 },
    });
    expect(backedUp.status?.latestMoverStatus?.result).toBe('Successful');
    expect(backedUp.status?.latestMoverStatus?.logs).not.toContain(s3.secretKey);
    expect(backedUp.status?.latestMoverStatus?.logs).not.toContain('my-secure-restic-password');
    // The cache PVC stays for the next backup.
    expect(await get(kc, 'PersistentVolumeClaim', ns, 'scribe-cache-src-database-source')).toBeDefined();
    expect(restored.status?.latestImage).toMatchObject({ kind: 'PersistentVolumeClaim', name: 'restored' });
    expect(treeBelowRoot(restoredDir)).toEqual(treeBelowRoot(sourceDir));
  });

  it('rclone: carries a Snapshot of the source through a bucket into a destination snapshot', async () => {
    const kc = e2eKubeConfig();
    const s3 = inject('e2eS3');
    const bucket = await newBucket(s3, 'rclone');
    const source = { kc, namespace: await e2eNamespace(kc, 'rcsrc') };
    const dest = { kc, namespace: await e2eNamespace(kc, 'rcdst') };
    const sourceDir = await databaseVolume(source);
    for (const side of [source, dest]) await createRcloneSecret(kc, side.namespace, s3, 'aws-s3-bucket');
    const { rd, restoredDir } = await rcloneThroughBucket(source, dest, {
      rcloneConfigSection: 'aws-s3-bucket',
      rcloneDestPath: `${bucket}/database`,
    });
    expect(rd.status?.latestImage?.name).toMatch(/^scribe-dest-database-destination-\d{14}$/);
    expectRcloneCopy(treeBelowRoot(restoredDir), treeBelowRoot(sourceDir));
  });
});
