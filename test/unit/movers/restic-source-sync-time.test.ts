/**
 * Issue 26: a restic destination's image records when the source's data was taken, the restored
 * snapshot's time from the restore's summary, as status.images' sourceSyncTime.
 */
import { describe, expect, it } from 'vitest';
import { completedImages } from '../../../machines/images.js';
import { withRestoredSnapshotTime } from '../../../src/movers/restic/mover.js';

const LOGS =
  'scribe restic restore: restoring snapshot cb73744e taken at 2026-12-07T09:34:57.51425536Z into /data\n' +
  'scribe restic restore: result: restored snapshot cb73744e taken at 2026-12-07T09:34:57.51425536Z; exit code 0\n';

describe('the restored snapshot’s time (restic destination)', () => {
  it('is read from a succeeded restore’s summary, in status’s time format', () => {
    expect(withRestoredSnapshotTime({ phase: 'succeeded', logs: LOGS })).toMatchObject({
      sourceSyncTime: '2026-12-07T09:34:57.514Z',
    });
    expect(withRestoredSnapshotTime({ phase: 'failed', logs: LOGS }).sourceSyncTime).toBeUndefined();
    expect(withRestoredSnapshotTime({ phase: 'succeeded', logs: 'nothing to restore' }).sourceSyncTime).toBeUndefined();
  });

  it('becomes the new image’s sourceSyncTime when this cycle’s mover says it, and only then', () => {
    const cr = {
      apiVersion: 'scribe.backube/v1alpha1' as const,
      kind: 'ReplicationDestination' as const,
      metadata: { name: 'db', namespace: 'ns' },
      spec: { restic: { copyMethod: 'Snapshot' as const, repository: 'repo', capacity: '1Gi' } },
    };
    const before = { cycle: { id: '3-x', objects: { volume: 'scribe-dest-db', image: 'img' } } };
    const snapshots = { img: { name: 'img', readyToUse: true } };
    const image = { kind: 'VolumeSnapshot', name: 'img' };
    const mover = { phase: 'succeeded' as const, cycleId: '3-x', sourceSyncTime: '2026-12-07T09:34:57.514Z' };
    const done = completedImages(cr, before, {}, image, { snapshots, mover }, '2026-12-07T09:40:00Z');
    expect(done.status.images).toEqual([
      {
        apiGroup: 'snapshot.storage.k8s.io',
        kind: 'VolumeSnapshot',
        name: 'img',
        time: '2026-12-07T09:40:00Z',
        sourceSyncTime: '2026-12-07T09:34:57.514Z',
      },
    ]);
    const stale = completedImages(cr, before, {}, image, { snapshots, mover: { ...mover, cycleId: '2-x' } }, 'T');
    expect(stale.status.images?.[0]).not.toHaveProperty('sourceSyncTime');
  });
});
