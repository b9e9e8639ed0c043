/**
 * Decision 20: a VolumeSnapshot labelled scribe.backube/do-not-delete is never deleted by Scribe.
 * The machine releases it (releaseObject: the CR's ownerReference removed, so garbage collection
 * after the CR's deletion cannot take it either) instead of deleting it, in whatever state it is.
 */
import { describe, expect, it } from 'vitest';
import type { Action } from '../../../machines/actions.js';
import type { ScribeCr } from '../../../machines/api.js';
import { keepLabelled } from '../../../machines/level.js';
import { DO_NOT_DELETE_LABEL, observation, type OwnedObjects } from '../../../machines/observation.js';
import { step, type StepResult } from '../../../machines/step.js';
import { destination, owned, pvc, snapshot, source, stepAsOperator, T0 } from './fixtures.js';

const of = <T extends Action['type']>(r: StepResult, type: T) =>
  r.actions.filter((a): a is Extract<Action, { type: T }> => a.type === type);
const names = (actions: readonly { name: string }[]) => actions.map((a) => a.name);

/** Steps a CR and carries the persisted status forward, as the operator does. */
function driver<C extends ScribeCr>(initial: C) {
  let cr: C = initial;
  return {
    get cr() {
      return cr;
    },
    edit(spec: Partial<C['spec']>) {
      cr = { ...cr, spec: { ...cr.spec, ...spec } };
    },
    step(now: number, world: OwnedObjects): StepResult {
      const r = stepAsOperator(cr, { now, owned: world });
      cr = { ...cr, status: r.nextPersisted };
      return r;
    },
    get cycleId() {
      return cr.status?.cycle?.id ?? '';
    },
  };
}

type Dest = ReturnType<typeof driver<ReturnType<typeof destination>>>;

/**
 * Runs a copyMethod Snapshot destination's cycle up to the step whose new image is ready, with
 * the replaced image `previous` (if any) observed as `previousSeen`; returns that step and the
 * new image's name.
 */
function cycleUntilReady(
  d: Dest,
  now: number,
  previousSeen: ReturnType<typeof snapshot>[] = [],
): { ready: StepResult; image: string } {
  d.step(now, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: previousSeen }));
  const id = d.cycleId;
  const volume = pvc('scribe-dest-db', { cycleId: id });
  const mover = { phase: 'succeeded' as const, cycleId: id, attempt: 0 };
  const preserving = d.step(now + 1000, owned({ pvcs: [volume], mover, snapshots: previousSeen }));
  expect(preserving.state).toBe('preserving');
  const image = preserving.nextPersisted.cycle?.objects?.image ?? '';
  const ready = d.step(
    now + 2000,
    owned({ pvcs: [volume], mover, snapshots: [...previousSeen, snapshot(image, { cycleId: id })] }),
  );
  expect(ready.state).toBe('complete');
  return { ready, image };
}

describe('decision 20: a snapshot labelled scribe.backube/do-not-delete', () => {
  it('names the label as VolSync does, under Scribe’s group', () => {
    expect(DO_NOT_DELETE_LABEL).toBe('scribe.backube/do-not-delete');
  });

  it('the image a new latestImage replaces is released instead of deleted; the cycle then ends', () => {
    const d = driver(destination({ trigger: {} }));
    const first = cycleUntilReady(d, T0);
    // Cleanup of the first cycle, then idle → the next cycle starts.
    const id1 = d.cycleId;
    d.step(T0 + 3000, owned({ pvcs: [pvc('scribe-dest-db', { cycleId: id1 })], snapshots: [snapshot(first.image)] }));

    const labelled = snapshot(first.image, { cycleId: id1, doNotDelete: true });
    const { ready, image } = cycleUntilReady(d, T0 + 60_000, [labelled]);
    expect(ready.nextPersisted.latestImage?.name).toBe(image);
    expect(ready.nextPersisted.cycle?.objects?.previousImage).toBe(first.image);
    expect(of(ready, 'deleteObject')).toEqual([]);
    expect(of(ready, 'releaseObject')).toEqual([
      {
        type: 'releaseObject',
        kind: 'VolumeSnapshot',
        name: first.image,
        reason: 'labelled scribe.backube/do-not-delete',
      },
    ]);
    // Released, the snapshot no longer carries the CR's ownerReference, so the operator's
    // observation (owned objects and latestImage) no longer holds it: the cycle is clean.
    const after = d.step(T0 + 63_000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(image)] }));
    expect(after.state).not.toBe('complete');
    expect(of(after, 'deleteObject')).toEqual([]);
    expect(of(after, 'releaseObject')).toEqual([]);
  });

  it('without the label, the same replaced image is deleted (the control case)', () => {
    const d = driver(destination({ trigger: {} }));
    const first = cycleUntilReady(d, T0);
    const id1 = d.cycleId;
    d.step(T0 + 3000, owned({ pvcs: [pvc('scribe-dest-db', { cycleId: id1 })], snapshots: [snapshot(first.image)] }));
    const { ready } = cycleUntilReady(d, T0 + 60_000, [snapshot(first.image, { cycleId: id1 })]);
    expect(names(of(ready, 'deleteObject'))).toEqual([first.image]);
    expect(of(ready, 'releaseObject')).toEqual([]);
  });

  it('an already released replaced image (observed only as latestImage) is neither deleted nor released again', () => {
    const d = driver(destination({ trigger: {} }));
    const first = cycleUntilReady(d, T0);
    const id1 = d.cycleId;
    d.step(T0 + 3000, owned({ pvcs: [pvc('scribe-dest-db', { cycleId: id1 })], snapshots: [snapshot(first.image)] }));
    const kept = snapshot(first.image, { cycleId: id1, doNotDelete: true, released: true });
    const { ready } = cycleUntilReady(d, T0 + 60_000, [kept]);
    expect(of(ready, 'deleteObject')).toEqual([]);
    expect(of(ready, 'releaseObject')).toEqual([]);
  });

  it('is released as soon as it is seen, in idle too (the CR may be deleted at any moment)', () => {
    const d = driver(destination({ trigger: { manual: 'once' } }));
    cycleUntilReady(d, T0);
    const id = d.cycleId;
    const image = d.cr.status?.latestImage?.name ?? '';
    const idle = d.step(
      T0 + 3000,
      owned({ pvcs: [pvc('scribe-dest-db', { cycleId: id })], snapshots: [snapshot(image)] }),
    );
    expect(idle.state).toBe('idle');
    expect(idle.actions.filter((a) => a.type !== 'recordMetrics' && a.type !== 'patchStatus')).toEqual([]);

    // The user labels latestImage while the CR is idle: released at the next observation.
    const seen = d.step(
      T0 + 4000,
      owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(image, { doNotDelete: true })] }),
    );
    expect(seen.state).toBe('idle');
    expect(names(of(seen, 'releaseObject'))).toEqual([image]);
    // Once released it is observed (as latestImage) without the reference: nothing more to do.
    const later = d.step(
      T0 + 5000,
      owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(image, { doNotDelete: true, released: true })] }),
    );
    expect(of(later, 'releaseObject')).toEqual([]);
  });

  it('an image labelled before it is ready is released, not asked for again, and still becomes latestImage', () => {
    const d = driver(destination({ trigger: {} }));
    d.step(T0, owned({ pvcs: [pvc('scribe-dest-db')] }));
    const id = d.cycleId;
    const volume = pvc('scribe-dest-db', { cycleId: id });
    const mover = { phase: 'succeeded' as const, cycleId: id, attempt: 0 };
    const preserving = d.step(T0 + 1000, owned({ pvcs: [volume], mover }));
    const image = preserving.nextPersisted.cycle?.objects?.image ?? '';
    expect(names(of(preserving, 'ensureSnapshot'))).toEqual([image]);
    const labelled = (extra: Partial<ReturnType<typeof snapshot>>) =>
      owned({ pvcs: [volume], mover, snapshots: [snapshot(image, { cycleId: id, doNotDelete: true, ...extra })] });
    const seen = d.step(T0 + 2000, labelled({ readyToUse: false }));
    expect(seen.state).toBe('preserving');
    expect(names(of(seen, 'releaseObject'))).toEqual([image]);
    expect(of(seen, 'ensureSnapshot')).toEqual([]);
    // Released, it is observed as the cycle's image (the operator's observation holds the
    // snapshots the running cycle awaits): no create that its name would answer with a 409.
    const waiting = d.step(T0 + 3000, labelled({ readyToUse: false, released: true }));
    expect(waiting.state).toBe('preserving');
    expect(of(waiting, 'ensureSnapshot')).toEqual([]);
    expect(of(waiting, 'releaseObject')).toEqual([]);
    const ready = d.step(T0 + 4000, labelled({ released: true }));
    expect(ready.state).toBe('complete');
    expect(ready.nextPersisted.latestImage?.name).toBe(image);
  });

  it('is released while the spec is invalid, where nothing else runs', () => {
    const cr = destination({ trigger: { schedule: '61 * * * *' } });
    const r = step(cr, { now: T0, owned: owned({ snapshots: [snapshot('kept', { doNotDelete: true })] }) });
    expect(r.state).toBe('invalid');
    expect(names(of(r, 'releaseObject'))).toEqual(['kept']);
  });

  it('a failed snapshot that is labelled is not deleted for the retry, but released', () => {
    const d = driver(destination({ trigger: {} }));
    d.step(T0, owned({ pvcs: [pvc('scribe-dest-db')] }));
    const id = d.cycleId;
    const volume = pvc('scribe-dest-db', { cycleId: id });
    const mover = { phase: 'succeeded' as const, cycleId: id, attempt: 0 };
    const preserving = d.step(T0 + 1000, owned({ pvcs: [volume], mover }));
    const image = preserving.nextPersisted.cycle?.objects?.image ?? '';
    const broken = (extra: Partial<ReturnType<typeof snapshot>>) =>
      owned({
        pvcs: [volume],
        mover,
        snapshots: [snapshot(image, { cycleId: id, readyToUse: false, error: 'no space', ...extra })],
      });
    const failed = d.step(T0 + 2000, broken({}));
    expect(failed.state).toBe('failed');
    // The control case: unlabelled, a broken snapshot is removed so that the retry makes it again.
    expect(names(of(failed, 'deleteObject'))).toEqual([image]);
    const labelled = d.step(T0 + 3000, broken({ doNotDelete: true }));
    expect(labelled.state).toBe('failed');
    expect(of(labelled, 'deleteObject')).toEqual([]);
    expect(names(of(labelled, 'releaseObject'))).toEqual([image]);
  });

  it("a source's labelled point-in-time snapshot of an earlier cycle is not deleted as stale", () => {
    const d = driver(source({ trigger: {}, rsync: { copyMethod: 'Snapshot', address: 'x', sshKeys: 'k' } }));
    const stale = snapshot('scribe-src-db', { cycleId: 'old', doNotDelete: true });
    const r = d.step(T0, owned({ snapshots: [stale] }));
    expect(r.state).toBe('snapshotting');
    expect(of(r, 'deleteObject')).toEqual([]);
    expect(names(of(r, 'releaseObject'))).toEqual(['scribe-src-db']);
    // The control case: unlabelled, it is deleted before this cycle's is made.
    const plain = driver(source({ trigger: {}, rsync: { copyMethod: 'Snapshot', address: 'x', sshKeys: 'k' } }));
    const control = plain.step(T0, owned({ snapshots: [snapshot('scribe-src-db', { cycleId: 'old' })] }));
    expect(names(of(control, 'deleteObject'))).toEqual(['scribe-src-db']);
  });

  it('a labelled snapshot already being deleted is left alone (a release cannot stop that)', () => {
    const cr = destination({ trigger: { manual: 'x' } }, { lastManualSync: 'x', lastSyncTime: '2024-01-01T00:00:00Z' });
    const r = step(cr, {
      now: T0,
      owned: owned({ snapshots: [snapshot('going', { doNotDelete: true, deleting: true })] }),
    });
    expect(of(r, 'releaseObject')).toEqual([]);
  });

  it('keepLabelled: drops only deletes of labelled snapshots and puts the releases first, in name order', () => {
    const obs = observation(
      destination(),
      owned({
        pvcs: [pvc('p')],
        snapshots: [
          snapshot('b-kept', { doNotDelete: true }),
          snapshot('a-kept', { doNotDelete: true }),
          snapshot('plain'),
          snapshot('done', { doNotDelete: true, released: true }),
        ],
      }),
      T0,
    );
    const actions: Action[] = [
      { type: 'cleanupMover', mover: 'rsync' },
      { type: 'deleteObject', kind: 'VolumeSnapshot', name: 'b-kept', reason: 'r' },
      { type: 'deleteObject', kind: 'VolumeSnapshot', name: 'done', reason: 'r' },
      { type: 'deleteObject', kind: 'VolumeSnapshot', name: 'plain', reason: 'r' },
      { type: 'deleteObject', kind: 'PersistentVolumeClaim', name: 'p', reason: 'r' },
    ];
    expect(keepLabelled(actions, obs)).toEqual([
      {
        type: 'releaseObject',
        kind: 'VolumeSnapshot',
        name: 'a-kept',
        reason: 'labelled scribe.backube/do-not-delete',
      },
      {
        type: 'releaseObject',
        kind: 'VolumeSnapshot',
        name: 'b-kept',
        reason: 'labelled scribe.backube/do-not-delete',
      },
      { type: 'cleanupMover', mover: 'rsync' },
      { type: 'deleteObject', kind: 'VolumeSnapshot', name: 'plain', reason: 'r' },
      { type: 'deleteObject', kind: 'PersistentVolumeClaim', name: 'p', reason: 'r' },
    ]);
  });
});
