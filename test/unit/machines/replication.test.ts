import { describe, expect, it } from 'vitest';
import { transition, initialTransition } from 'xstate';
import type { Action } from '../../../machines/actions.js';
import type { ScribeCr } from '../../../machines/api.js';
import { replicationMachine } from '../../../machines/replication.js';
import { step, type StepResult } from '../../../machines/step.js';
import { observation, type OwnedObjects } from '../../../machines/observation.js';
import { destination, owned, pvc, snapshot, source, stepAsOperator, T0 } from './fixtures.js';

const of = <T extends Action['type']>(r: StepResult, type: T) =>
  r.actions.filter((a): a is Extract<Action, { type: T }> => a.type === type);
const events = (r: StepResult) => of(r, 'emitEvent').map((e) => e.reason);
const cond = (r: StepResult, type: string) => r.nextPersisted.conditions?.find((c) => c.type === type);

/** Steps a CR and carries the persisted status forward, as the operator does. */
function driver<C extends ScribeCr>(initial: C) {
  let cr: C = initial;
  return {
    get cr() {
      return cr;
    },
    /** A spec change, with the generation bump the API server makes. */
    edit(spec: Partial<C['spec']>) {
      const generation = (cr.metadata.generation ?? 0) + 1;
      cr = { ...cr, metadata: { ...cr.metadata, generation }, spec: { ...cr.spec, ...spec } };
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

/** World of a source with copyMethod Clone at each stage of cycle `id`. */
const world = {
  pit: (id: string) => owned({ pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })] }),
  running: (id: string, attempt = 0) =>
    owned({
      pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })],
      mover: { phase: 'running', cycleId: id, attempt },
    }),
  succeeded: (id: string, attempt = 0) =>
    owned({
      pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })],
      mover: { phase: 'succeeded', cycleId: id, attempt, logs: 'sent 3 files' },
    }),
  failed: (id: string, attempt = 0) =>
    owned({
      pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })],
      mover: { phase: 'failed', cycleId: id, attempt, message: 'exit 12: connection refused' },
    }),
  clean: () => owned(),
};

/** Runs one full cycle of a Clone source from `start`; returns the completion step. */
function fullCycle(d: ReturnType<typeof driver>, start: number): StepResult {
  const first = d.step(start, world.clean());
  // From idle, the Job first: the step that sees the new PiT PVC writes status, and that PVC is
  // the volume; a cycle that follows a completed one at once is still snapshotting.
  expect(first.state).toMatch(/^(moving|snapshotting)$/);
  const id = d.cycleId;
  d.step(start + 1000, world.pit(id));
  const done = d.step(start + 2000, world.succeeded(id));
  expect(done.state).toBe('complete');
  expect(d.step(start + 3000, world.clean()).state).toMatch(/idle|snapshotting/);
  return done;
}

describe('the machine', () => {
  it('starts in idle and steps purely with transition()', () => {
    const [initial] = initialTransition(replicationMachine, { now: T0 });
    expect(initial.value).toBe('idle');
    const [next] = transition(replicationMachine, initial, observation(source(), owned(), T0));
    expect(next.value).toBe('snapshotting');
    expect(initial.value).toBe('idle');
  });
});

describe('triggers', () => {
  it('decision 2: a new CR with a manual trigger syncs at once', () => {
    const d = driver(source({ trigger: { manual: 'first' } }));
    const r = d.step(T0, world.clean());
    // A new CR's first step writes status first (its conditions answer the apply).
    expect(r.statusDeferred).toBeUndefined();
    expect(r.state).toBe('snapshotting');
    expect(r.nextPersisted.lastSyncStartTime).toBe('2024-01-01T00:00:30Z');
    expect(of(r, 'ensurePvc').map((a) => a.name)).toEqual(['scribe-src-db']);
  });

  it('decision 1: a manual change during a sync does not interrupt it; lastManualSync takes the spec value at completion', () => {
    const d = driver(source({ trigger: { manual: 'first' } }));
    d.step(T0, world.clean());
    const id = d.cycleId;
    d.step(T0 + 1000, world.pit(id));
    d.edit({ trigger: { manual: 'second' } });
    const running = d.step(T0 + 2000, world.running(id));
    expect(running.state).toBe('moving');
    expect(d.cycleId).toBe(id);
    const done = d.step(T0 + 3000, world.succeeded(id));
    expect(done.nextPersisted.lastManualSync).toBe('second');
    expect(done.nextPersisted.nextSyncTime).toBeUndefined();
    // 'second' was absorbed by the running sync: no further sync.
    const idle = d.step(T0 + 4000, world.clean());
    expect(idle.state).toBe('idle');
    expect(cond(idle, 'Synchronizing')?.reason).toBe('WaitingForManual');
    expect(idle.requeueAt).toBeUndefined();
  });

  it('decision 1: a manual value seen while idle starts exactly one sync', () => {
    const d = driver(source({ trigger: { manual: 'a' } }));
    fullCycle(d, T0);
    expect(d.step(T0 + 10_000, world.clean()).state).toBe('idle');
    d.edit({ trigger: { manual: 'b' } });
    fullCycle(d, T0 + 20_000);
    expect(d.cr.status?.lastManualSync).toBe('b');
    expect(d.step(T0 + 30_000, world.clean()).state).toBe('idle');
  });

  it('manual wins over schedule: the schedule is paused while manual is set', () => {
    const d = driver(source({ trigger: { manual: 'a', schedule: '* * * * *' } }));
    fullCycle(d, T0);
    const later = d.step(T0 + 3_600_000, world.clean());
    expect(later.state).toBe('idle');
    expect(later.nextPersisted.nextSyncTime).toBeUndefined();
  });

  it('decision 14: a schedule sets nextSyncTime from the completion and wakes then', () => {
    const d = driver(source({ trigger: { schedule: '*/5 * * * *' } }));
    const done = fullCycle(d, T0);
    expect(done.nextPersisted.lastSyncTime).toBe('2024-01-01T00:00:32Z');
    expect(done.nextPersisted.nextSyncTime).toBe('2024-01-01T00:05:00Z');
    expect(done.nextPersisted.lastSyncDuration).toBe('2s');
    const idle = d.step(T0 + 4000, world.clean());
    expect(idle.state).toBe('idle');
    expect(idle.requeueAt).toBe(Date.parse('2024-01-01T00:05:00Z'));
    expect(cond(idle, 'Synchronizing')).toMatchObject({ status: 'False', reason: 'WaitingForSchedule' });
    expect(d.step(Date.parse('2024-01-01T00:04:59Z'), world.clean()).state).toBe('idle');
    expect(d.step(Date.parse('2024-01-01T00:05:00Z'), world.clean()).state).toBe('moving');
  });

  it('decision 14: a sync completing after the second cron time counts as a missed interval', () => {
    const d = driver(source({ trigger: { schedule: '*/5 * * * *' } }));
    fullCycle(d, T0); // completes 00:00:32
    const start = Date.parse('2024-01-01T00:05:00Z');
    d.step(start, world.clean());
    const id = d.cycleId;
    d.step(start + 1000, world.pit(id));
    const late = d.step(Date.parse('2024-01-01T00:10:00.500Z'), world.succeeded(id));
    expect(of(late, 'recordMetrics')[0]?.completedSync).toMatchObject({ missedInterval: true });
  });

  it('no trigger: the next sync starts right after the previous cycle is cleaned up', () => {
    const d = driver(source({ trigger: {} }));
    fullCycle(d, T0);
    // Started from a completed cycle, not from idle: status first, as a retry does (write-ahead.ts).
    expect(d.cr.status?.state).toBe('snapshotting');
    expect(d.cr.status?.nextSyncTime).toBeUndefined();
  });

  it('paused: no new sync starts, but a running one is not interrupted', () => {
    const d = driver(source({ trigger: {} }));
    d.step(T0, world.clean());
    const id = d.cycleId;
    d.edit({ paused: true });
    expect(d.step(T0 + 1000, world.pit(id)).state).toBe('moving');
    expect(d.step(T0 + 2000, world.succeeded(id)).state).toBe('complete');
    const idle = d.step(T0 + 3000, world.clean());
    expect(idle.state).toBe('idle');
    expect(cond(idle, 'Synchronizing')?.reason).toBe('Paused');
    expect(d.step(T0 + 999_000, world.clean()).state).toBe('idle');
  });
});

describe('decision 3: a missing source PVC', () => {
  it('decision 3: waits with a clear reason and one Event naming spec.sourcePVC, and starts by itself when the PVC appears', () => {
    const d = driver(source({ trigger: {} }));
    const first = d.step(T0, owned({ pvcs: [] }));
    expect(first.state).toBe('waitingForPvc');
    expect(events(first)).toEqual(['WaitingForPVC']);
    expect(of(first, 'emitEvent')[0]).toMatchObject({
      eventType: 'Normal',
      message: 'spec.sourcePVC: PersistentVolumeClaim data does not exist yet; waiting for it',
    });
    expect(cond(first, 'Reconciled')?.status).toBe('True');
    expect(cond(first, 'Synchronizing')).toMatchObject({
      status: 'False',
      reason: 'WaitingForPVC',
      message:
        'spec.sourcePVC: PersistentVolumeClaim data does not exist yet; waiting for it; the synchronization starts when it does',
    });
    const again = d.step(T0 + 60_000, owned({ pvcs: [] }));
    expect(again.state).toBe('waitingForPvc');
    expect(events(again)).toEqual([]);
    expect(of(again, 'patchStatus')).toEqual([]);
    expect(d.step(T0 + 120_000, world.clean()).state).toBe('moving');
  });
});

describe('decision 7: external', () => {
  it('does nothing at all: no status write, no Event, no object', () => {
    const cr = source({ external: { provider: 'x.io/p' }, rsync: undefined }, { state: 'whatever', conditions: [] });
    const r = step(cr, { now: T0, owned: owned() });
    expect(r.state).toBe('external');
    expect(r.actions).toEqual([]);
    expect(r.nextPersisted).toBe(cr.status);
  });
});

describe('invalid spec', () => {
  it('sets Reconciled=False naming the field, warns once, runs and deletes nothing', () => {
    const d = driver(source({ trigger: { schedule: '61 * * * *' } }));
    const r = d.step(T0, world.clean());
    expect(r.state).toBe('invalid');
    expect(cond(r, 'Reconciled')).toMatchObject({ status: 'False', reason: 'ReconcileError' });
    expect(cond(r, 'Reconciled')?.message).toMatch(/^spec\.trigger\.schedule: /);
    expect(events(r)).toEqual(['InvalidSpec']);
    expect(
      r.actions.filter((a) => a.type !== 'patchStatus' && a.type !== 'emitEvent' && a.type !== 'recordMetrics'),
    ).toEqual([]);
    expect(events(d.step(T0 + 1000, world.clean()))).toEqual([]);
    d.edit({ trigger: { schedule: '*/5 * * * *' } });
    expect(d.step(T0 + 2000, world.clean()).state).toBe('moving');
  });

  it('decision 6: a CR without a mover is refused', () => {
    const r = step(source({ rsync: undefined }), { now: T0, owned: owned() });
    expect(r.state).toBe('invalid');
    // The machine knows no mover by name; the CRD's rule names the catalog's (test/unit/movers/catalog.test.ts).
    expect(cond(r, 'Reconciled')?.message).toMatch(/^spec: a mover is required/);
  });

  it('mid-cycle: stops asking for objects, keeps them, and resumes the same cycle once fixed', () => {
    const d = driver(source({ trigger: {} }));
    d.step(T0, world.clean());
    const id = d.cycleId;
    d.step(T0 + 1000, world.pit(id));
    d.edit({ trigger: { schedule: 'nope' } });
    const broken = d.step(T0 + 2000, world.running(id));
    expect(broken.state).toBe('invalid');
    expect(of(broken, 'deleteObject')).toEqual([]);
    expect(of(broken, 'ensureMover')).toEqual([]);
    d.edit({ trigger: {} });
    const fixed = d.step(T0 + 3000, world.running(id));
    expect(fixed.state).toBe('moving');
    expect(d.cycleId).toBe(id);
  });
});

describe('failures', () => {
  it('retry with capped exponential backoff, the retry time a fact in status, nothing of the user deleted', () => {
    // copyMethod None: the live volume, so every retry resumes the same cycle.
    const d = driver(source({ trigger: {}, rsync: { copyMethod: 'None', address: 'x', sshKeys: 'k' } }));
    d.step(T0, world.clean());
    const id = d.cycleId;
    d.step(T0 + 1000, world.pit(id));
    let now = T0 + 2000;
    const delays: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      const failed = d.step(now, world.failed(id, attempt));
      expect(failed.state).toBe('failed');
      expect(events(failed)).toEqual(['TransferFailed']);
      expect(cond(failed, 'Synchronizing')).toMatchObject({ status: 'False', reason: 'Error' });
      expect(of(failed, 'cleanupMover')).toHaveLength(1);
      expect(of(failed, 'deleteObject')).toEqual([]);
      expect(failed.nextPersisted.latestMoverStatus?.result).toBe('Failed');
      const retryAt = Date.parse(failed.nextPersisted.cycle?.retryAfter ?? '');
      delays.push(retryAt - now);
      expect(failed.requeueAt).toBe(retryAt);
      expect(d.step(retryAt - 1, world.pit(id)).state).toBe('failed');
      const retry = d.step(retryAt, world.pit(id));
      expect(retry.state).toBe('moving');
      expect(of(retry, 'ensureMover')[0]).toMatchObject({ cycleId: id, attempt: attempt + 1 });
      now = retryAt + 1000;
    }
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });

  it('a Clone source retries with a new point-in-time copy after every 3 failed attempts; the backoff keeps growing', () => {
    const d = driver(source({ trigger: {} }));
    d.step(T0, world.clean());
    const first = d.cycleId;
    d.step(T0 + 1000, world.pit(first));
    let now = T0 + 2000;
    for (let attempt = 0; attempt < 2; attempt++) {
      const failed = d.step(now, world.failed(first, attempt));
      const retryAt = Date.parse(failed.nextPersisted.cycle?.retryAfter ?? '');
      expect(d.step(retryAt, world.pit(first)).state).toBe('moving');
      now = retryAt + 1000;
    }
    const third = d.step(now, world.failed(first, 2));
    const retryAt = Date.parse(third.nextPersisted.cycle?.retryAfter ?? '');
    // The failed cycle's copy goes first; the source stays.
    const deleting = d.step(retryAt, world.pit(first));
    expect(deleting.state).toBe('failed');
    expect(of(deleting, 'deleteObject')).toEqual([
      expect.objectContaining({ kind: 'PersistentVolumeClaim', name: 'scribe-src-db' }),
    ]);
    expect(of(deleting, 'ensureMover')).toEqual([]);
    const retake = d.step(retryAt + 500, owned({ pvcs: [pvc('data')] }));
    expect(retake.state).toBe('snapshotting');
    const second = d.cycleId;
    expect(second).not.toBe(first);
    expect(retake.nextPersisted.cycle).toMatchObject({ attempt: 3, objects: { volume: 'scribe-src-db' } });
    expect(retake.nextPersisted.lastSyncStartTime).toBe(third.nextPersisted.lastSyncStartTime);
    expect(of(retake, 'ensurePvc')[0]).toMatchObject({
      name: 'scribe-src-db',
      labels: { 'scribe.backube/cycle': second },
    });
    const moving = d.step(retryAt + 2000, world.pit(second));
    expect(moving.state).toBe('moving');
    expect(of(moving, 'ensureMover')[0]).toMatchObject({ cycleId: second, attempt: 3 });
    const fourth = d.step(retryAt + 3000, world.failed(second, 3));
    expect(Date.parse(fourth.nextPersisted.cycle?.retryAfter ?? '') - (retryAt + 3000)).toBe(80_000);
  });

  it('a changed spec is retried at once, with a new point-in-time copy taken for it', () => {
    const d = driver(source({ trigger: {} }));
    d.step(T0, world.clean());
    const first = d.cycleId;
    d.step(T0 + 1000, world.pit(first));
    expect(d.step(T0 + 2000, world.failed(first, 0)).state).toBe('failed');
    expect(d.step(T0 + 3000, world.pit(first)).state).toBe('failed');
    d.edit({ rsync: { copyMethod: 'Clone', address: 'fixed.example.com', sshKeys: 'keys' } });
    expect(d.step(T0 + 4000, world.pit(first)).state).toBe('failed');
    const retry = d.step(T0 + 4500, owned({ pvcs: [pvc('data')] }));
    expect(retry.state).toBe('snapshotting');
    expect(d.cycleId).not.toBe(first);
    expect(retry.nextPersisted.cycle?.generation).toBe(2);
  });

  it('a destination whose spec changed retries the same cycle at once, and only once for that change', () => {
    const d = driver(destination({ trigger: {}, rsync: { copyMethod: 'None', destinationPVC: 'mine' } }));
    const mine = (mover?: OwnedObjects['mover']) => owned({ pvcs: [pvc('mine')], ...(mover ? { mover } : {}) });
    d.step(T0, mine());
    const id = d.cycleId;
    expect(d.step(T0 + 1000, mine({ phase: 'failed', cycleId: id, attempt: 0 })).state).toBe('failed');
    d.edit({ rsync: { copyMethod: 'None', destinationPVC: 'mine', capacity: '2Gi' } });
    const retry = d.step(T0 + 2000, mine());
    expect(retry.state).toBe('moving');
    expect(d.cycleId).toBe(id);
    const again = d.step(T0 + 3000, mine({ phase: 'failed', cycleId: id, attempt: 1 }));
    expect(again.state).toBe('failed');
    expect(d.step(T0 + 4000, mine()).state).toBe('failed');
  });

  it('ignores a failed Job of an earlier attempt and clears it first', () => {
    const d = driver(source({ trigger: {} }));
    d.step(T0, world.clean());
    const id = d.cycleId;
    d.step(T0 + 1000, world.pit(id));
    const failed = d.step(T0 + 2000, world.failed(id, 0));
    const retryAt = Date.parse(failed.nextPersisted.cycle?.retryAfter ?? '');
    const retry = d.step(retryAt, world.failed(id, 0));
    expect(retry.state).toBe('moving');
    expect(of(retry, 'cleanupMover')).toHaveLength(1);
    expect(of(retry, 'ensureMover')).toEqual([]);
  });
});

describe('copy methods', () => {
  it('Snapshot source: VolumeSnapshot first, the PVC from it once ready, both deleted after completion', () => {
    const d = driver(
      source({
        trigger: {},
        rsync: { copyMethod: 'Snapshot', volumeSnapshotClassName: 'csi', address: 'x', sshKeys: 'k' },
      }),
    );
    const first = d.step(T0, world.clean());
    const id = d.cycleId;
    expect(of(first, 'ensureSnapshot')).toMatchObject([
      { name: 'scribe-src-db', sourcePvc: 'data', temporary: true, volumeSnapshotClassName: 'csi' },
    ]);
    expect(of(first, 'ensurePvc')).toEqual([]);
    const ready = d.step(T0 + 1000, owned({ snapshots: [snapshot('scribe-src-db', { cycleId: id })] }));
    expect(of(ready, 'ensurePvc')[0]?.spec.dataSource).toEqual({ kind: 'VolumeSnapshot', name: 'scribe-src-db' });
    const both = {
      pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })],
      snapshots: [snapshot('scribe-src-db', { cycleId: id })],
    };
    const moving = d.step(T0 + 2000, owned(both));
    expect(events(moving)).toEqual(['VolumeSnapshotCreated', 'PersistentVolumeClaimCreated', 'TransferStarted']);
    const done = d.step(T0 + 3000, owned({ ...both, mover: { phase: 'succeeded', cycleId: id, attempt: 0 } }));
    expect(
      of(done, 'deleteObject')
        .map((a) => `${a.kind}/${a.name}`)
        .sort(),
    ).toEqual(['PersistentVolumeClaim/scribe-src-db', 'VolumeSnapshot/scribe-src-db']);
  });

  it("Snapshot source: a snapshot the user kept under the copy's name is left alone; the cycle takes another name", () => {
    const d = driver(source({ trigger: {}, rsync: { copyMethod: 'Snapshot', address: 'x', sshKeys: 'k' } }));
    const kept = snapshot('scribe-src-db', { cycleId: 'old', doNotDelete: true, released: true });
    const first = d.step(T0, owned({ pvcs: [pvc('data')], snapshots: [kept] }));
    expect(first.state).toBe('snapshotting');
    expect(first.nextPersisted.cycle?.objects).toMatchObject({
      pitSnapshot: 'scribe-srcpit-db-1',
      pitPvc: 'scribe-src-db',
    });
    expect(of(first, 'ensureSnapshot')).toMatchObject([{ name: 'scribe-srcpit-db-1' }]);
    expect(of(first, 'deleteObject')).toEqual([]);
  });

  it('a mover the spec no longer names is cleaned up, whatever the state, so its Job stops holding the volume', () => {
    const d = driver(
      source({ trigger: { manual: 'once' }, rsync: { copyMethod: 'None', address: 'x', sshKeys: 'k' } }),
    );
    const first = d.step(T0, owned({ pvcs: [pvc('data')], strayMovers: ['restic'] }));
    expect(first.state).toBe('moving');
    expect(of(first, 'cleanupMover')).toEqual([{ type: 'cleanupMover', mover: 'restic' }]);
    expect(of(first, 'ensureMover')).toHaveLength(1);
  });

  it('None source: the mover uses the live PVC, which is never deleted', () => {
    const d = driver(source({ trigger: {}, rsync: { copyMethod: 'None', address: 'x', sshKeys: 'k' } }));
    const r = d.step(T0, owned({ mover: { phase: 'absent' } }));
    expect(r.state).toBe('moving');
    expect(of(r, 'ensureMover')[0]?.volume).toBe('data');
    const done = d.step(T0 + 1000, owned({ mover: { phase: 'succeeded', cycleId: d.cycleId, attempt: 0 } }));
    expect(done.state).toBe('complete');
    expect(of(done, 'deleteObject')).toEqual([]);
  });

  it('decision 12: the PiT copy falls back to the source PVC for capacity, access modes and class', () => {
    const r = step(source({ rsync: { copyMethod: 'Clone', capacity: '9Gi', address: 'x', sshKeys: 'k' } }), {
      now: T0,
      owned: owned({ pvcs: [pvc('data', { accessModes: ['ReadWriteMany'], storageClassName: 'slow' })] }),
    });
    expect(of(r, 'ensurePvc')[0]?.spec).toMatchObject({
      capacity: '9Gi',
      accessModes: ['ReadWriteMany'],
      storageClassName: 'slow',
    });
  });
});

describe('destinations', () => {
  const dest = (extra = {}) => destination({ trigger: {}, ...extra });

  it('Snapshot: a new image becomes latestImage; the previous one is deleted only after the new one is ready', () => {
    const d = driver(dest());
    const names: string[] = [];
    let now = T0;
    for (let cycle = 0; cycle < 2; cycle++) {
      const start = d.step(now, owned({ pvcs: cycle === 0 ? [] : [pvc('scribe-dest-db')] }));
      const id = d.cycleId;
      if (cycle === 0) expect(of(start, 'ensurePvc')).toMatchObject([{ name: 'scribe-dest-db', temporary: false }]);
      const volume = pvc('scribe-dest-db', { cycleId: cycle === 0 ? id : 'old' });
      d.step(now + 1000, owned({ pvcs: [volume] }));
      // The succeeded Job stays in the caches until the cycle's cleanup removes it.
      const mover = { phase: 'succeeded' as const, cycleId: id, attempt: 0 };
      const preserving = d.step(now + 2000, owned({ pvcs: [volume], mover }));
      expect(preserving.state).toBe('preserving');
      const image = preserving.nextPersisted.cycle?.objects?.image ?? '';
      names.push(image);
      expect(of(preserving, 'ensureSnapshot')).toMatchObject([
        { name: image, sourcePvc: 'scribe-dest-db', temporary: false },
      ]);
      expect(of(preserving, 'deleteObject')).toEqual([]);
      const previous = names[cycle - 1];
      const oldImages = previous ? [snapshot(previous, { cycleId: 'old' })] : [];
      const notReady = d.step(
        now + 3000,
        owned({
          pvcs: [volume],
          mover,
          snapshots: [...oldImages, snapshot(image, { cycleId: id, readyToUse: false })],
        }),
      );
      expect(notReady.state).toBe('preserving');
      expect(of(notReady, 'deleteObject')).toEqual([]);
      const ready = d.step(
        now + 4000,
        owned({ pvcs: [volume], mover, snapshots: [...oldImages, snapshot(image, { cycleId: id })] }),
      );
      expect(ready.state).toBe('complete');
      expect(ready.nextPersisted.latestImage).toEqual({
        apiGroup: 'snapshot.storage.k8s.io',
        kind: 'VolumeSnapshot',
        name: image,
      });
      expect(events(ready)).toContain('VolumeSnapshotCreated');
      expect(of(ready, 'deleteObject').map((a) => a.name)).toEqual(previous ? [previous] : []);
      expect(
        d.step(now + 5000, owned({ pvcs: [volume], snapshots: [snapshot(image, { cycleId: id })] })).state,
      ).not.toBe('complete');
      now += 60_000;
    }
    expect(names[0]).toMatch(/^scribe-dest-db-\d{14}$/);
    expect(names[0]).not.toBe(names[1]);
  });

  it('None: latestImage is the PVC', () => {
    const d = driver(dest({ rsync: { copyMethod: 'None', destinationPVC: 'mine' } }));
    d.step(T0, owned({ pvcs: [pvc('mine')] }));
    const done = d.step(
      T0 + 1000,
      owned({ pvcs: [pvc('mine')], mover: { phase: 'succeeded', cycleId: d.cycleId, attempt: 0 } }),
    );
    expect(done.state).toBe('complete');
    expect(done.nextPersisted.latestImage).toEqual({ kind: 'PersistentVolumeClaim', name: 'mine' });
    expect(of(done, 'deleteObject')).toEqual([]);
  });

  it('decision 3: a missing destinationPVC is waited for, like a source PVC, naming spec.rsync.destinationPVC', () => {
    const r = step(dest({ rsync: { copyMethod: 'None', destinationPVC: 'mine' } }), {
      now: T0,
      owned: owned({ pvcs: [] }),
    });
    expect(r.state).toBe('waitingForPvc');
    expect(of(r, 'emitEvent').map((e) => e.message)).toEqual([
      'spec.rsync.destinationPVC: PersistentVolumeClaim mine does not exist yet; waiting for it',
    ]);
    expect(cond(r, 'Synchronizing')?.message).toMatch(/^spec\.rsync\.destinationPVC: PersistentVolumeClaim mine /);
  });

  it('publishes the mover address once, with ServiceAddressAssigned', () => {
    const d = driver(dest());
    d.step(T0, owned({ pvcs: [] }));
    const id = d.cycleId;
    const volume = pvc('scribe-dest-db', { cycleId: id });
    const mover = {
      phase: 'running' as const,
      cycleId: id,
      attempt: 0,
      published: { address: '10.0.0.7', sshKeys: 'scribe-rsync-dest-src-db' },
    };
    d.step(T0 + 1000, owned({ pvcs: [volume] }));
    const first = d.step(T0 + 2000, owned({ pvcs: [volume], mover }));
    expect(events(first)).toEqual(['ServiceAddressAssigned']);
    expect(first.nextPersisted.rsync).toEqual({ address: '10.0.0.7', sshKeys: 'scribe-rsync-dest-src-db' });
    expect(events(d.step(T0 + 3000, owned({ pvcs: [volume], mover })))).toEqual([]);
  });
});

describe('stalls', () => {
  it('a working state without progress for 10 minutes turns Synchronizing Stalled with one Warning', () => {
    const d = driver(source({ trigger: {} }));
    const first = d.step(T0, world.clean());
    expect(first.requeueAt).toBe(T0 + 600_000);
    expect(cond(d.step(T0 + 599_999, world.clean()), 'Synchronizing')?.reason).toBe('SyncInProgress');
    const stalled = d.step(T0 + 600_000, world.clean());
    expect(cond(stalled, 'Synchronizing')).toMatchObject({ status: 'False', reason: 'Stalled' });
    expect(events(stalled)).toEqual(['SyncStalled']);
    expect(events(d.step(T0 + 700_000, world.clean()))).toEqual([]);
    const moving = d.step(T0 + 800_000, world.running(d.cycleId));
    expect(cond(moving, 'Synchronizing')?.reason).toBe('SyncInProgress');
  });

  it('a long transfer with a running mover is not a stall', () => {
    const d = driver(source({ trigger: {} }));
    d.step(T0, world.clean());
    const id = d.cycleId;
    d.step(T0 + 1000, world.pit(id));
    const r = d.step(T0 + 3 * 3_600_000, world.running(id));
    expect(cond(r, 'Synchronizing')?.reason).toBe('SyncInProgress');
    expect(events(r)).toEqual([]);
  });

  it('a running mover whose output has not moved on for 10 minutes is Stalled, with its last output line', () => {
    const d = driver(source({ trigger: {} }));
    d.step(T0, world.clean());
    const id = d.cycleId;
    d.step(T0 + 1000, world.pit(id));
    const running = (line: string, changedAt: number) =>
      owned({
        pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })],
        mover: { phase: 'running', cycleId: id, attempt: 0, output: { line, changedAt } },
      });
    // Output that keeps moving on is progress, however long the transfer.
    const busy = d.step(T0 + 3_600_000, running('sent 1000 files', T0 + 3_590_000));
    expect(cond(busy, 'Synchronizing')?.reason).toBe('SyncInProgress');
    expect(busy.requeueAt).toBe(T0 + 3_590_000 + 600_000);
    const line = 'retrying after 2s: dial tcp 10.0.0.1:9000: connection refused';
    const quiet = d.step(T0 + 3_590_000 + 600_000, running(line, T0 + 3_590_000));
    expect(cond(quiet, 'Synchronizing')).toMatchObject({ status: 'False', reason: 'Stalled' });
    expect(cond(quiet, 'Synchronizing')?.message).toContain(`the mover's last output: ${line}`);
    expect(of(quiet, 'emitEvent')).toEqual([
      expect.objectContaining({ reason: 'SyncStalled', message: expect.stringContaining(line) }),
    ]);
    const again = d.step(T0 + 4_300_000, running('sent 1001 files', T0 + 4_290_000));
    expect(cond(again, 'Synchronizing')?.reason).toBe('SyncInProgress');
  });
});

describe('level-based stepping', () => {
  it('writes no status when nothing changed', () => {
    const d = driver(source({ trigger: {} }));
    d.step(T0, world.clean());
    const id = d.cycleId;
    d.step(T0 + 1000, world.running(id));
    const again = d.step(T0 + 2000, world.running(id));
    expect(of(again, 'patchStatus')).toEqual([]);
    expect(of(again, 'ensureMover')).toHaveLength(1);
  });

  it('starts a cycle with its first object only; the step that sees it writes status first (the Job first)', () => {
    const cr = source({ rsync: { copyMethod: 'None', address: 'x', sshKeys: 'k' } }, { state: 'idle' });
    const start = step(cr, { now: T0, owned: owned() });
    expect(start.statusDeferred).toBe(true);
    expect(start.nextPersisted).toEqual({ state: 'idle' });
    expect(start.actions.map((a) => a.type)).toEqual(['ensureMover', 'recordMetrics']);
    const id = (start.actions[0] as Extract<Action, { type: 'ensureMover' }>).cycleId;
    // The Job's watch event: the same cycle is adopted from its label, and status comes first.
    const seen = step(cr, { now: T0 + 5, owned: owned({ mover: { phase: 'pending', cycleId: id, attempt: 0 } }) });
    expect(seen.statusDeferred).toBeUndefined();
    expect(seen.state).toBe('moving');
    expect(seen.nextPersisted.cycle?.id).toBe(id);
    expect(seen.actions[0]?.type).toBe('patchStatus');
    expect(seen.actions.filter((a) => a.type === 'ensureMover')).toEqual([start.actions[0]]);
  });

  it('keeps the journal to 20 entries', () => {
    const d = driver(source({ trigger: {} }));
    for (let i = 0; i < 10; i++) fullCycle(d, T0 + i * 10_000);
    expect(d.cr.status?.journal).toHaveLength(20);
  });
});
