/**
 * The replication machine against a reference model of the trigger rules, over random sequences
 * of spec edits, manual token changes, clock advances, mover completions and failures.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ReplicationDestination, ReplicationSource, ScribeCr, ScribeStatus } from '../../machines/api.js';
import { isDnsLabel } from '../../machines/naming.js';
import type { StepResult } from '../../machines/step.js';
import { triggerKind } from '../../machines/trigger.js';
import { periodOf, referenceDue, SCHEDULES } from './reference.js';
import { World } from './world.js';

const T0 = Date.parse('2024-01-01T00:00:30Z');

type Command =
  | { kind: 'tick'; ms: number }
  | { kind: 'wake' }
  | { kind: 'manual'; value: string | undefined }
  | { kind: 'schedule'; value: string | undefined }
  | { kind: 'paused'; value: boolean }
  | { kind: 'mover'; ok: boolean }
  | { kind: 'csi'; ok: boolean };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 120_000 }),
        fc.integer({ min: 60_000, max: 2 * 3_600_000 }),
      ),
    }),
    weight: 4,
  },
  { arbitrary: fc.constant({ kind: 'wake' as const }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('manual' as const),
      value: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('schedule' as const),
      value: fc.option(fc.constantFrom(...SCHEDULES), { nil: undefined }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant('paused' as const), value: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('mover' as const), ok: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('csi' as const), ok: fc.boolean() }), weight: 2 },
);

/** What the test remembers across steps to judge the machine. */
interface Model {
  lastSync?: number | undefined;
  lastManual?: string | undefined;
  starts: number;
  completions: number;
  lastScheduledStart?: { schedule: string; at: number } | undefined;
}

function names(result: StepResult): string[] {
  return result.actions.flatMap((a) => ('name' in a && typeof a.name === 'string' ? [a.name] : []));
}

/** The invariants every step must keep, plus the reference model of the trigger rules. */
function checker(model: Model) {
  return (before: ScribeCr, result: StepResult, world: World) => {
    const previous: ScribeStatus = before.status ?? {};
    const next = result.nextPersisted;
    const now = world.now;

    // Deletes never touch the user's data: source PVC, destination PVC, latestImage. The image
    // being replaced goes only in the step that records a new, ready one (patchStatus runs first).
    const protectedNames = new Set<string>(['data', 'scribe-dest-db']);
    if (next.latestImage?.name) protectedNames.add(next.latestImage.name);
    for (const a of result.actions) {
      if (a.type !== 'deleteObject') continue;
      expect(protectedNames.has(a.name), `deleted ${a.name}`).toBe(false);
      if (a.name === previous.latestImage?.name) {
        expect(result.state, 'replaced image deleted outside completion').toBe('complete');
        expect(
          world.snapshots.get(next.latestImage?.name ?? '')?.readyToUse,
          'replaced image deleted before the new one was ready',
        ).toBe(true);
      }
    }

    // Names are DNS labels of at most 63 characters; the journal is bounded.
    for (const name of names(result)) expect(isDnsLabel(name), name).toBe(true);
    expect((next.journal ?? []).length).toBeLessThanOrEqual(20);

    // A completion in this step updates the model (decision 1: lastManualSync = the spec's value now).
    if (next.lastSyncTime !== previous.lastSyncTime && next.lastSyncTime !== undefined) {
      model.completions++;
      model.lastSync = Date.parse(next.lastSyncTime);
      expect(model.lastSync).toBe(Math.max(now, Date.parse(previous.lastSyncStartTime ?? '')));
      if (before.spec.trigger?.manual !== undefined) model.lastManual = before.spec.trigger.manual;
      expect(next.lastManualSync).toBe(model.lastManual);
    }

    // A start must be due by the reference model, and only once the previous sync completed.
    const started = next.cycle?.id !== previous.cycle?.id && Object.keys(next.cycle?.objects ?? {}).length > 0;
    if (started) {
      expect(model.starts, 'never two syncs at once').toBe(model.completions);
      model.starts++;
      const facts = {
        trigger: before.spec.trigger,
        paused: before.spec.paused,
        lastSyncTime: model.lastSync,
        lastManualSync: model.lastManual,
      };
      expect(referenceDue(facts, now), 'started a sync the reference model says is not due').toBe(true);
      const schedule = before.spec.trigger?.schedule;
      if (triggerKind(before.spec.trigger) === 'schedule' && schedule !== undefined) {
        const last = model.lastScheduledStart;
        if (last && last.schedule === schedule) {
          const period = periodOf(schedule);
          expect(Math.floor(now / period), 'a schedule fired twice in one interval').toBeGreaterThan(
            Math.floor(last.at / period),
          );
        }
        model.lastScheduledStart = { schedule, at: now };
      } else {
        model.lastScheduledStart = undefined;
      }
    }
    expect(model.starts - model.completions).toBeGreaterThanOrEqual(0);
    expect(model.starts - model.completions).toBeLessThanOrEqual(1);

    // Idle means: not due by the reference model, and nextSyncTime (if any) in the future.
    if (result.state === 'idle') {
      const facts = {
        trigger: before.spec.trigger,
        paused: before.spec.paused,
        lastSyncTime: model.lastSync,
        lastManualSync: model.lastManual,
      };
      expect(referenceDue(facts, now), 'idle although the reference model says a sync is due').toBe(false);
      if (next.nextSyncTime !== undefined) expect(Date.parse(next.nextSyncTime)).toBeGreaterThan(now);
    }

    // The mover works only for the running cycle.
    for (const a of result.actions) if (a.type === 'ensureMover') expect(a.cycleId).toBe(next.cycle?.id);
  };
}

function apply(world: World, c: Command): void {
  const edit = (spec: Partial<ScribeCr['spec']>) => {
    world.cr = { ...world.cr, spec: { ...world.cr.spec, ...spec } } as ScribeCr;
  };
  switch (c.kind) {
    case 'tick':
      world.now += c.ms;
      break;
    case 'wake':
      if (world.wake !== undefined && world.wake > world.now) world.now = world.wake;
      break;
    case 'manual': {
      const trigger = { ...world.cr.spec.trigger, manual: c.value };
      if (c.value === undefined) delete trigger.manual;
      edit({ trigger });
      break;
    }
    case 'schedule': {
      const trigger = { ...world.cr.spec.trigger, schedule: c.value };
      if (c.value === undefined) delete trigger.schedule;
      edit({ trigger });
      break;
    }
    case 'paused':
      edit({ paused: c.value });
      break;
    case 'mover':
      world.finishMover(c.ok);
      break;
    case 'csi':
      world.snapshotController(c.ok);
      break;
  }
  world.settle();
}

/** Lets everything succeed for a while; a set manual value must then have been synced (liveness). */
function drain(world: World): void {
  apply(world, { kind: 'paused', value: false });
  for (let i = 0; i < 40; i++) {
    world.snapshotController(true);
    world.finishMover(true);
    world.now = world.wake !== undefined && world.wake > world.now ? world.wake : world.now + 60_000;
    world.settle();
  }
}

function sourceCr(
  copyMethod: 'None' | 'Clone' | 'Snapshot',
  trigger: ReplicationSource['spec']['trigger'],
): ReplicationSource {
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationSource',
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-1', generation: 1 },
    spec: { sourcePVC: 'data', trigger, rsync: { copyMethod, address: 'dest.example.com', sshKeys: 'keys' } },
  };
}

function destinationCr(
  copyMethod: 'None' | 'Snapshot',
  trigger: ReplicationDestination['spec']['trigger'],
): ReplicationDestination {
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationDestination',
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-2', generation: 1 },
    spec: { trigger, rsync: { copyMethod, capacity: '1Gi' } },
  };
}

const trigger = fc.record(
  { schedule: fc.constantFrom(...SCHEDULES), manual: fc.constantFrom('a', 'b') },
  { requiredKeys: [] },
);

describe('the replication machine against the reference model', () => {
  it('sources: triggers, one sync at a time, manual values, schedule intervals, names, journal, deletes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('None', 'Clone', 'Snapshot' as const),
        trigger,
        fc.array(command, { maxLength: 60 }),
        (method, t, commands) => {
          const model: Model = { starts: 0, completions: 0 };
          const world = new World(sourceCr(method, t), T0, checker(model));
          world.pvcs.set('data', { name: 'data', phase: 'Bound', capacity: '1Gi' });
          world.settle();
          for (const c of commands) apply(world, c);
          drain(world);
          const spec = world.cr.spec.trigger?.manual;
          if (spec !== undefined) expect(world.cr.status?.lastManualSync, 'a manual value was never synced').toBe(spec);
          expect(model.completions).toBeGreaterThan(0);
          expect(world.jobsCreated).toBeGreaterThanOrEqual(model.completions);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("destinations: latestImage always exists and is ready; the user's volume and image are never deleted", () => {
    fc.assert(
      fc.property(
        fc.constantFrom('None', 'Snapshot' as const),
        trigger,
        fc.array(command, { maxLength: 60 }),
        (method, t, commands) => {
          const model: Model = { starts: 0, completions: 0 };
          const check = checker(model);
          const world = new World(destinationCr(method, t), T0, (before, result, w) => {
            check(before, result, w);
            const image = result.nextPersisted.latestImage;
            if (image?.kind === 'VolumeSnapshot') {
              // The image in status was ready when it was recorded, and stays until replaced.
              expect(w.snapshots.get(image.name)?.readyToUse, `latestImage ${image.name} missing or not ready`).toBe(
                true,
              );
            }
          });
          world.settle();
          for (const c of commands) apply(world, c);
          drain(world);
          expect(model.completions).toBeGreaterThan(0);
          const image = (world.cr.status as ScribeStatus | undefined)?.latestImage;
          expect(image?.kind).toBe(method === 'Snapshot' ? 'VolumeSnapshot' : 'PersistentVolumeClaim');
        },
      ),
      { numRuns: 150 },
    );
  });
});
