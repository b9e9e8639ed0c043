/**
 * Issue 26: a copyMethod Snapshot destination keeps its last spec.<mover>.imagesToKeep images
 * (machines/images.ts): the pure retention, a fast-check property of it, and the machine that
 * uses it over several cycles (status.images, deletes, a restoring PVC, a labelled image, a status
 * with only latestImage, and the invalid combination with copyMethod None).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Action } from '../../../machines/actions.js';
import type { DestinationImage, ReplicationDestination } from '../../../machines/api.js';
import { imagesToKeep, listedImages, retention, type ImageSnapshots } from '../../../machines/images.js';
import type { ObservedSnapshot } from '../../../machines/observation.js';
import type { StepResult } from '../../../machines/step.js';
import { formatTimestamp } from '../../../machines/time.js';
import { destination, owned, pvc, snapshot, stepAsOperator, T0 } from './fixtures.js';

const image = (name: string, at = T0): DestinationImage => ({
  apiGroup: 'snapshot.storage.k8s.io',
  kind: 'VolumeSnapshot',
  name,
  time: formatTimestamp(at),
});
const names = (images: readonly { name: string }[]) => images.map((i) => i.name);
const deletes = (r: StepResult) =>
  r.actions.flatMap((a: Action) => (a.type === 'deleteObject' && a.kind === 'VolumeSnapshot' ? [a.name] : []));
const bySnapshot = (...snapshots: ObservedSnapshot[]): ImageSnapshots =>
  Object.fromEntries(snapshots.map((s) => [s.name, s]));

describe('retention (machines/images.ts)', () => {
  const five = ['i1', 'i2', 'i3', 'i4', 'i5'].map((n, i) => image(n, T0 + i * 60_000));
  const all = bySnapshot(...names(five).map((n) => snapshot(n)));

  it('keeps the newest N, deletes the older ones oldest first, and lists them until their deletion is seen', () => {
    const r = retention(five, 3, 'i5', all);
    expect(r.deletes).toEqual(['i1', 'i2']);
    expect(names(r.next)).toEqual(['i1', 'i2', 'i3', 'i4', 'i5']);
    const withoutI2: Record<string, ObservedSnapshot | undefined> = { ...all, i1: snapshot('i1', { deleting: true }) };
    delete withoutI2.i2;
    expect(names(retention(five, 3, 'i5', withoutI2).next)).toEqual(['i3', 'i4', 'i5']);
  });

  it('holds an image a PVC still restores from, and lets it go once that PVC is bound', () => {
    const restoring = { ...all, i1: snapshot('i1', { restoringPvcs: ['restore-me'] }) };
    const held = retention(five, 3, 'i5', restoring);
    expect(held.deletes).toEqual(['i2']);
    expect(held.held).toEqual(['i1']);
    expect(names(held.next)).toContain('i1');
    expect(retention(five, 3, 'i5', all).deletes).toEqual(['i1', 'i2']);
  });

  it('never deletes an image labelled do-not-delete or released: it leaves the list instead', () => {
    const kept = { ...all, i1: snapshot('i1', { doNotDelete: true }), i2: snapshot('i2', { released: true }) };
    const r = retention(five, 3, 'i5', kept);
    expect(r.deletes).toEqual([]);
    expect(r.released).toEqual(['i1', 'i2']);
    expect(names(r.next)).toEqual(['i3', 'i4', 'i5']);
    // Within the number kept, a labelled image stays listed: it is still one of the images.
    expect(names(retention(five, 5, 'i5', kept).next)).toEqual(['i1', 'i2', 'i3', 'i4', 'i5']);
  });

  it('never deletes latestImage, even with copyMethod None (nothing kept) until it is replaced', () => {
    expect(retention(five, 0, 'i5', all).deletes).toEqual(['i1', 'i2', 'i3', 'i4']);
    expect(names(retention(five, 0, 'i5', all).next)).toContain('i5');
  });

  it('a kept image whose snapshot is gone leaves the list; latestImage stays listed', () => {
    const rest: Record<string, ObservedSnapshot | undefined> = { ...all };
    delete rest.i3;
    delete rest.i5;
    expect(names(retention(five, 3, 'i5', rest).next)).toEqual(['i1', 'i2', 'i4', 'i5']);
  });

  it('imagesToKeep: default 1, the spec’s number with copyMethod Snapshot, none otherwise', () => {
    expect(imagesToKeep(destination())).toBe(1);
    expect(imagesToKeep(destination({ rsync: { copyMethod: 'Snapshot', capacity: '1Gi', imagesToKeep: 4 } }))).toBe(4);
    expect(imagesToKeep(destination({ rsync: { copyMethod: 'None', capacity: '1Gi' } }))).toBe(0);
  });

  it('a status with only latestImage (before status.images existed) lists it as the one image', () => {
    const status = {
      latestImage: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot' as const, name: 'old' },
      lastSyncTime: '2024-01-01T00:00:00Z',
    };
    expect(listedImages(status, T0)).toEqual([{ ...image('old'), time: '2024-01-01T00:00:00Z' }]);
    expect(listedImages({ latestImage: { kind: 'PersistentVolumeClaim', name: 'pvc' } }, T0)).toEqual([]);
  });
});

/** What a snapshot of an image may be when retention looks at it. */
const fate = fc.constantFrom('plain', 'plain', 'plain', 'gone', 'deleting', 'labelled', 'released', 'restoring');

describe('retention, property (fast-check)', () => {
  it('never more than N kept unless restoring; never a restoring, labelled or released one deleted; order kept', () => {
    fc.assert(
      fc.property(fc.array(fate, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 8 }), (fates, keep) => {
        const images = fates.map((_, i) => image(`img-${i}`, T0 + i * 1000));
        const latest = images.at(-1)?.name;
        const snapshots: Record<string, ObservedSnapshot> = {};
        fates.forEach((f, i) => {
          const name = `img-${i}`;
          // latestImage exists: it was ready when it was recorded.
          if (f === 'gone' && name !== latest) return;
          snapshots[name] = snapshot(name, {
            deleting: f === 'deleting',
            doNotDelete: f === 'labelled',
            released: f === 'released',
            restoringPvcs: f === 'restoring' ? ['p'] : undefined,
          });
        });
        const r = retention(images, keep, latest, snapshots);
        // Order kept: the next list is a subsequence of the images, oldest first.
        const positions = r.next.map((i) => images.indexOf(i));
        expect([...positions].sort((a, b) => a - b)).toEqual(positions);
        expect(positions.every((p) => p >= 0)).toBe(true);
        // latestImage is listed and never deleted.
        expect(names(r.next)).toContain(latest);
        expect(r.deletes).not.toContain(latest);
        // Never a restoring, labelled, released, gone or deleting snapshot deleted.
        for (const name of r.deletes) {
          const s = snapshots[name];
          expect(s?.restoringPvcs).toBeUndefined();
          expect(s?.doNotDelete || s?.released || s?.deleting).toBe(false);
        }
        // A delete stays listed until it is seen; deletes are the oldest, older than every kept one.
        for (const name of r.deletes) expect(names(r.next)).toContain(name);
        const kept = r.next.filter((i) => !r.deletes.includes(i.name) && !r.held.includes(i.name));
        expect(kept.length).toBeLessThanOrEqual(Math.max(keep, 1));
        const newestDelete = Math.max(-1, ...r.deletes.map((n) => names(images).indexOf(n)));
        const oldestKept = Math.min(Infinity, ...kept.map((i) => images.indexOf(i)));
        expect(newestDelete).toBeLessThan(oldestKept);
        // Once the deletes are seen, at most N are listed besides the held ones.
        const after = { ...snapshots };
        for (const name of r.deletes) delete after[name];
        const settled = retention(r.next, keep, latest, after);
        expect(settled.deletes).toEqual([]);
        expect(settled.next.length - settled.held.length).toBeLessThanOrEqual(Math.max(keep, 1));
      }),
      { numRuns: 500 },
    );
  });
});

/** Steps a destination and carries the persisted status forward, as the operator does. */
function driver(initial: ReplicationDestination) {
  let cr = initial;
  return {
    get cr() {
      return cr;
    },
    set spec(spec: ReplicationDestination['spec']) {
      cr = { ...cr, spec, metadata: { ...cr.metadata, generation: (cr.metadata.generation ?? 1) + 1 } };
    },
    step(now: number, world: ReturnType<typeof owned>): StepResult {
      const r = stepAsOperator(cr, { now, owned: world });
      cr = { ...cr, status: r.nextPersisted };
      return r;
    },
  };
}

/**
 * One whole cycle of a continuous destination whose existing images are `seen`: returns the step
 * that made the new image ready (the completion) and the new image's name.
 */
function cycle(d: ReturnType<typeof driver>, now: number, seen: ObservedSnapshot[]) {
  d.step(now, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: seen }));
  const id = d.cr.status?.cycle?.id ?? '';
  const volume = pvc('scribe-dest-db', { cycleId: id });
  const mover = { phase: 'succeeded' as const, cycleId: id, attempt: 0 };
  const preserving = d.step(now + 1000, owned({ pvcs: [volume], mover, snapshots: seen }));
  expect(preserving.state).toBe('preserving');
  const name = preserving.nextPersisted.cycle?.objects?.image ?? '';
  const ready = d.step(
    now + 2000,
    owned({ pvcs: [volume], mover, snapshots: [...seen, snapshot(name, { cycleId: id })] }),
  );
  expect(ready.state).toBe('complete');
  return { ready, name, id };
}

describe('the machine keeps imagesToKeep images', () => {
  const keeping = (n: number) =>
    destination({ trigger: {}, rsync: { copyMethod: 'Snapshot', capacity: '1Gi', imagesToKeep: n } });

  it('five syncs keeping 3: status.images lists the last three oldest first; the older two are deleted after a sync', () => {
    const d = driver(keeping(3));
    const made: string[] = [];
    const existing = new Map<string, ObservedSnapshot>();
    for (let n = 0; n < 5; n++) {
      const now = T0 + n * 60_000;
      const { ready, name } = cycle(d, now, [...existing.values()]);
      made.push(name);
      existing.set(name, snapshot(name));
      expect(ready.nextPersisted.latestImage?.name).toBe(name);
      expect(ready.nextPersisted.images?.at(-1)).toEqual(image(name, now + 2000));
      // The sync's completion deletes the image beyond the three kept, and no other; the cycle
      // waits until it is gone (a destination that starts its next cycle at once lists it no more).
      expect(deletes(ready)).toEqual(n >= 3 ? [made[n - 3]] : []);
      expect(ready.nextPersisted.cycle?.objects?.previousImage).toBe(n >= 3 ? made[n - 3] : undefined);
      // Still being deleted: the cycle waits (the Job is gone already).
      for (const gone of deletes(ready)) existing.set(gone, snapshot(gone, { deleting: true }));
      const waiting = d.step(now + 2500, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [...existing.values()] }));
      expect(waiting.state).toBe(n >= 3 ? 'complete' : 'moving');
      // The deletion is seen: the cycle is cleaned up, idle lists the three left.
      for (const gone of deletes(ready)) existing.delete(gone);
      const idle = d.step(now + 3000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [...existing.values()] }));
      expect(idle.state).not.toBe('complete');
      expect(names(d.cr.status?.images ?? [])).toEqual(made.slice(-3));
    }
    const times = (d.cr.status?.images ?? []).map((i) => Date.parse(i.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('with the default (1) it behaves as the seed: the replaced image is the cycle’s previousImage and goes', () => {
    const d = driver(destination({ trigger: {} }));
    const first = cycle(d, T0, []);
    d.step(T0 + 3000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(first.name)] }));
    const second = cycle(d, T0 + 60_000, [snapshot(first.name)]);
    expect(second.ready.nextPersisted.cycle?.objects?.previousImage).toBe(first.name);
    expect(deletes(second.ready)).toEqual([first.name]);
    expect(names(second.ready.nextPersisted.images ?? [])).toEqual([first.name, second.name]);
    d.step(T0 + 63_000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(second.name)] }));
    expect(names(d.cr.status?.images ?? [])).toEqual([second.name]);
  });

  it('an image a PVC still restores from stays listed and undeleted until the PVC is bound, then goes', () => {
    // A manual trigger, so the destination stays idle between its syncs.
    const manual = (value: string) => ({
      trigger: { manual: value },
      rsync: { copyMethod: 'Snapshot' as const, capacity: '1Gi', imagesToKeep: 1 },
    });
    const d = driver(destination(manual('one')));
    const first = cycle(d, T0, []);
    d.step(T0 + 3000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(first.name)] }));
    d.spec = manual('two');
    const restoring = snapshot(first.name, { restoringPvcs: ['restore'] });
    const second = cycle(d, T0 + 60_000, [restoring]);
    expect(deletes(second.ready)).toEqual([]);
    expect(second.ready.nextPersisted.cycle?.objects?.previousImage).toBeUndefined();
    const newest = snapshot(second.name);
    const idle = d.step(T0 + 63_000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [restoring, newest] }));
    expect(idle.state).toBe('idle');
    expect(deletes(idle)).toEqual([]);
    expect(names(d.cr.status?.images ?? [])).toEqual([first.name, second.name]);
    // The PVC is bound: the image goes now, in idle, and leaves the list once its deletion is seen.
    const bound = d.step(
      T0 + 70_000,
      owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(first.name), newest] }),
    );
    expect(deletes(bound)).toEqual([first.name]);
    d.step(T0 + 71_000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [newest] }));
    expect(names(d.cr.status?.images ?? [])).toEqual([second.name]);
  });

  it('an image labelled do-not-delete beyond the number kept is released, not deleted, and leaves the list', () => {
    const d = driver(keeping(1));
    const first = cycle(d, T0, []);
    d.step(T0 + 3000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(first.name)] }));
    const labelled = snapshot(first.name, { doNotDelete: true });
    const second = cycle(d, T0 + 60_000, [labelled]);
    expect(deletes(second.ready)).toEqual([]);
    expect(second.ready.actions).toContainEqual(expect.objectContaining({ type: 'releaseObject', name: first.name }));
    expect(names(second.ready.nextPersisted.images ?? [])).toEqual([second.name]);
  });

  it('an image labelled while its deletion is pending is released, and the cycle does not wait for it', () => {
    const d = driver(keeping(1));
    const first = cycle(d, T0, []);
    d.step(T0 + 3000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot(first.name)] }));
    const second = cycle(d, T0 + 60_000, [snapshot(first.name)]);
    expect(deletes(second.ready)).toEqual([first.name]);
    // Labelled before the delete went through, then released: listed, so still observed by name.
    const newest = snapshot(second.name);
    const labelled = snapshot(first.name, { doNotDelete: true });
    const releasing = d.step(T0 + 63_000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [labelled, newest] }));
    expect(deletes(releasing)).toEqual([]);
    const released = snapshot(first.name, { doNotDelete: true, released: true });
    const after = d.step(T0 + 64_000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [released, newest] }));
    expect(after.state).not.toBe('complete');
    expect(deletes(after)).toEqual([]);
    expect(names(d.cr.status?.images ?? [])).toEqual([second.name]);
  });

  it('a status with only latestImage (an existing CR) gets it as the single entry of status.images', () => {
    const d = driver(
      destination(
        { trigger: { manual: 'a' }, rsync: { copyMethod: 'Snapshot', capacity: '1Gi', imagesToKeep: 2 } },
        {
          state: 'idle',
          lastManualSync: 'a',
          lastSyncTime: '2024-01-01T00:00:00Z',
          lastSyncStartTime: '2023-12-31T23:59:00Z',
          latestImage: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'scribe-dest-db-old' },
        },
      ),
    );
    const idle = d.step(T0, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [snapshot('scribe-dest-db-old')] }));
    expect(idle.state).toBe('idle');
    expect(d.cr.status?.images).toEqual([{ ...image('scribe-dest-db-old'), time: '2024-01-01T00:00:00Z' }]);
    expect(deletes(idle)).toEqual([]);
  });

  it('imagesToKeep above 1 with copyMethod None is invalid, naming the field, and nothing is deleted', () => {
    const d = driver(keeping(2));
    const seen: ObservedSnapshot[] = [];
    for (let n = 0; n < 2; n++) {
      const { name } = cycle(d, T0 + n * 60_000, [...seen]);
      seen.push(snapshot(name));
      d.step(T0 + n * 60_000 + 3000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [...seen] }));
    }
    expect(d.cr.status?.images).toHaveLength(2);
    d.spec = { trigger: {}, rsync: { copyMethod: 'None', capacity: '1Gi', imagesToKeep: 2 } };
    const invalid = d.step(T0 + 200_000, owned({ pvcs: [pvc('scribe-dest-db')], snapshots: [...seen] }));
    expect(invalid.state).toBe('invalid');
    const reconciled = invalid.nextPersisted.conditions?.find((c) => c.type === 'Reconciled');
    expect(reconciled).toMatchObject({ status: 'False' });
    expect(reconciled?.message).toMatch(/^spec\.rsync\.imagesToKeep: 2 images need copyMethod Snapshot/);
    expect(invalid.actions).toContainEqual(
      expect.objectContaining({ type: 'emitEvent', eventType: 'Warning', reason: 'InvalidSpec' }),
    );
    expect(deletes(invalid)).toEqual([]);
    expect(invalid.nextPersisted.images).toHaveLength(2);
  });
});
