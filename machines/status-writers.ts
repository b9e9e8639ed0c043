/**
 * What the machine's transitions write into status, as pure functions of the context and the
 * observation. The machine (replication.ts) names them; nothing here decides WHETHER a transition
 * happens (predicates.ts) or what it says (notices.ts), only what it records.
 */
import type { LatestImage, ScribeCr, ScribeStatus } from './api.js';
import { retryDelayMs } from './backoff.js';
import {
  findCondition,
  reconciled,
  reconcileError,
  setCondition,
  synchronizing,
  SYNCHRONIZING,
  type ConditionValue,
} from './conditions.js';
import type { ReplicationContext, ReplicationState } from './context.js';
import { triggerFactsOf } from './context.js';
import { moverOptions, Objects, planCycle } from './cycle.js';
import { formatGoDurationMs } from './duration.js';
import {
  failureOf,
  specProblems,
  isStalled,
  stallMessage,
  waitingForPvcMessage,
  type FailingStage,
} from './findings.js';
import { completedImages, settledImages } from './images.js';
import { appendJournal } from './journal.js';
import { moverKindOf } from './mover.js';
import { destinationImageName, destinationPvcName } from './naming.js';
import type { Observation } from './observation.js';
import { formatTimestamp, toMs } from './time.js';
import { decideSync, nextSyncTimeFor, triggerKind } from './trigger.js';
import { startedCycleId } from './write-ahead.js';

type Status = ScribeStatus;

function withConditions(status: Status, cr: ScribeCr, now: number, ...values: ConditionValue[]): Status {
  let conditions = status.conditions;
  for (const value of values) conditions = setCondition(conditions, value, now, cr.metadata.generation);
  return { ...status, conditions };
}

function without<K extends keyof Status>(status: Status, key: K): Status {
  const copy = { ...status };
  delete copy[key];
  return copy;
}

function withTime(
  status: Status,
  key: 'nextSyncTime' | 'lastSyncTime' | 'lastSyncStartTime',
  ms: number | undefined,
): Status {
  return ms === undefined ? without(status, key) : { ...status, [key]: formatTimestamp(ms) };
}

/** Records entering `state`: status.state and one journal line (from, to, why). */
export function withStateEntered(ctx: ReplicationContext, state: ReplicationState, eventType: string): Status {
  const from = ctx.status.state ?? 'new';
  return {
    ...ctx.status,
    state,
    journal: appendJournal(ctx.status.journal, {
      time: formatTimestamp(ctx.now),
      event: eventType,
      from,
      to: state,
      ...(ctx.why !== undefined ? { reason: ctx.why } : {}),
    }),
  };
}

/** Idle: nextSyncTime for schedules only (decision 2) and a Synchronizing reason saying what it waits for. */
export function withIdleConditions(ctx: ReplicationContext, obs: Observation): Status {
  const facts = triggerFactsOf(obs.cr, ctx.status);
  const next = nextSyncTimeFor(facts);
  let waiting: ConditionValue;
  if (facts.paused) waiting = synchronizing('Paused', 'spec.paused is true: no new synchronization starts');
  else if (triggerKind(facts.trigger) === 'manual')
    waiting = synchronizing(
      'WaitingForManual',
      `waiting for spec.trigger.manual to differ from status.lastManualSync (${JSON.stringify(facts.lastManualSync ?? '')})`,
    );
  else if (next !== undefined)
    waiting = synchronizing('WaitingForSchedule', `next synchronization at ${formatTimestamp(next)}`);
  else waiting = synchronizing('SyncInProgress', 'starting a synchronization');
  const status = settledImages(obs.cr, ctx.status, obs.owned.snapshots, ctx.now);
  return withConditions(withTime(status, 'nextSyncTime', next), obs.cr, ctx.now, reconciled(), waiting);
}

/** A working state: Reconciled, and Synchronizing in progress (or cleaning up). */
export function withWorkingConditions(ctx: ReplicationContext, obs: Observation, state: ReplicationState): Status {
  const id = ctx.status.cycle?.id ?? '';
  const sync =
    state === 'complete'
      ? synchronizing('CleaningUp', `cycle ${id}: deleting temporary objects`)
      : synchronizing('SyncInProgress', `cycle ${id}: ${state}`);
  return withConditions(ctx.status, obs.cr, ctx.now, reconciled(), sync);
}

/** Waiting for a PVC that does not exist yet (decision 3): not an error. */
export function withWaitingConditions(ctx: ReplicationContext, obs: Observation): Status {
  return withConditions(
    without(ctx.status, 'nextSyncTime'),
    obs.cr,
    ctx.now,
    reconciled(),
    synchronizing('WaitingForPVC', `${waitingForPvcMessage(obs.cr)}; the synchronization starts when it does`),
  );
}

/** Invalid spec: Reconciled=False naming the fields; nothing runs, nothing is deleted. */
export function withInvalidConditions(ctx: ReplicationContext, obs: Observation): Status {
  return withConditions(
    without(ctx.status, 'nextSyncTime'),
    obs.cr,
    ctx.now,
    reconcileError(specProblems(ctx, obs)),
    synchronizing('Error', 'the spec is invalid; see the Reconciled condition'),
  );
}

/** Why a sync starts, for the journal. */
export function startReason(ctx: ReplicationContext, obs: Observation): string {
  const decision = decideSync(triggerFactsOf(obs.cr, ctx.status), ctx.now);
  if (decision.due) return `trigger: ${decision.reason}`;
  const started = startedCycleId(ctx.status, obs.owned);
  return started !== undefined ? `cycle ${started} started: its first object exists` : 'resumed';
}

/**
 * Starts a cycle: its plan and start time. Start and completion times are kept strictly ordered
 * (start > previous completion) so that "completion recorded" stays a fact even for a clock that
 * did not move between two observations.
 */
export function withCycleStarted(ctx: ReplicationContext, obs: Observation): Status {
  const previous = toMs(ctx.status.lastSyncTime);
  const start = previous !== undefined && previous >= ctx.now ? previous + 1 : ctx.now;
  const status = without(ctx.status, 'cycle');
  return withTime({ ...status, cycle: planCycle(obs.cr, ctx.status, start, obs.owned) }, 'lastSyncStartTime', start);
}

/** The mover's result goes to status.latestMoverStatus. */
export function withMoverSuccess(ctx: ReplicationContext, obs: Observation): Status {
  const logs = obs.owned.mover.logs;
  return { ...ctx.status, latestMoverStatus: { result: 'Successful', ...(logs !== undefined ? { logs } : {}) } };
}

/** Destination with copyMethod Snapshot: the image name, chosen once per cycle and persisted before it is created. */
export function withImageChosen(ctx: ReplicationContext, obs: Observation): Status {
  const cycle = ctx.status.cycle;
  if (!cycle || obs.cr.kind !== 'ReplicationDestination' || moverOptions(obs.cr).copyMethod !== 'Snapshot')
    return ctx.status;
  const chosen = cycle.objects?.[Objects.image];
  const held = chosen === undefined ? undefined : obs.owned.snapshots[chosen];
  // A failed image the user kept (decision 20) is theirs and is never deleted, so a retry would
  // find it failed for ever: the retry takes a new name instead.
  const keptAndFailed = held?.error !== undefined && (held.doNotDelete === true || held.released === true);
  if (chosen !== undefined && !keptAndFailed) return ctx.status;
  // Two cycles completing within one second would share a name; the next free second keeps them apart.
  let at = ctx.now;
  let name = destinationImageName(obs.cr.metadata.name ?? '', at);
  while (name === ctx.status.latestImage?.name || name === chosen) {
    at += 1000;
    name = destinationImageName(obs.cr.metadata.name ?? '', at);
  }
  return { ...ctx.status, cycle: { ...cycle, objects: { ...cycle.objects, [Objects.image]: name } } };
}

/** A failure: attempt counted, retry time set (a fact in status), conditions and latestMoverStatus written. */
export function withFailure(ctx: ReplicationContext, obs: Observation, stage: FailingStage): Status {
  const failure = failureOf(ctx, obs, stage);
  const cycle = ctx.status.cycle ?? {};
  const attempt = (cycle.attempt ?? 0) + 1;
  const retryAt = ctx.now + retryDelayMs(attempt);
  const message = `${failure.message}; retry ${attempt} at ${formatTimestamp(retryAt)}`;
  let status: Status = { ...ctx.status, cycle: { ...cycle, attempt, retryAfter: formatTimestamp(retryAt) } };
  if (stage === 'mover') {
    const logs = obs.owned.mover.logs;
    status = { ...status, latestMoverStatus: { result: 'Failed', ...(logs !== undefined ? { logs } : {}) } };
  }
  return withConditions(status, obs.cr, ctx.now, reconcileError(message), synchronizing('Error', message));
}

/** The reason written in the journal for a failure. */
export function failureReason(ctx: ReplicationContext, obs: Observation, stage: FailingStage): string {
  return failureOf(ctx, obs, stage).message;
}

/**
 * A sync completes: lastSyncTime, lastSyncDuration (decision 4), lastManualSync = the spec's value
 * NOW (decision 1), nextSyncTime from this completion (decision 14), and for a destination the
 * new latestImage, the previous one being deleted only now that the new one is ready.
 */
export function withCompletion(ctx: ReplicationContext, obs: Observation): Status {
  const start = toMs(ctx.status.lastSyncStartTime) ?? ctx.now;
  const done = Math.max(ctx.now, start);
  let status: Status = { ...ctx.status, lastSyncDuration: formatGoDurationMs(done - start) };
  status = withTime(status, 'lastSyncTime', done);
  const manual = obs.cr.spec.trigger?.manual;
  if (manual !== undefined) status.lastManualSync = manual;
  status = withTime(status, 'nextSyncTime', nextSyncTimeFor(triggerFactsOf(obs.cr, status)));
  const cycle = status.cycle ?? {};
  const objects = { ...cycle.objects };
  if (obs.cr.kind === 'ReplicationDestination') {
    const snapshot = objects[Objects.image];
    const image: LatestImage =
      snapshot !== undefined
        ? { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: snapshot }
        : {
            kind: 'PersistentVolumeClaim',
            name: objects[Objects.volume] ?? destinationPvcName(obs.cr.metadata.name ?? ''),
          };
    // Retention (images.ts): the new image joins status.images; the replaced one goes unless kept.
    const images = completedImages(obs.cr, ctx.status, status, image, obs.owned, formatTimestamp(done));
    if (images.previousImage !== undefined) objects[Objects.previousImage] = images.previousImage;
    status = { ...images.status, latestImage: image };
  }
  const { retryAfter: _dropped, ...kept } = cycle;
  return { ...status, cycle: { ...kept, objects } };
}

/** The cycle is over: only its id is kept, to number the next one. */
export function withCycleClosed(ctx: ReplicationContext): Status {
  const id = ctx.status.cycle?.id;
  return { ...without(ctx.status, 'cycle'), ...(id !== undefined ? { cycle: { id } } : {}) };
}

/** Synchronizing=False/Stalled after the deadline; back to in progress once progress resumes. */
export function withStallCondition(ctx: ReplicationContext, obs: Observation, state: ReplicationState): Status {
  const stalled = isStalled(ctx, obs, state);
  const current = findCondition(ctx.status.conditions, SYNCHRONIZING);
  if (stalled && current?.reason !== 'Stalled') {
    const message = `${stallMessage(ctx, obs, state)} (cycle ${ctx.status.cycle?.id ?? ''})`;
    return withConditions(ctx.status, obs.cr, ctx.now, synchronizing('Stalled', message));
  }
  if (!stalled && current?.reason === 'Stalled') return withWorkingConditions(ctx, obs, state);
  return ctx.status;
}

/** What the mover publishes (rsync address, restic lastPruned) goes under status.<mover>. */
export function withPublishedValues(ctx: ReplicationContext, obs: Observation): Status {
  const kind = moverKindOf(obs.cr);
  const values = obs.owned.mover.published;
  if (!kind || !values) return ctx.status;
  const current = (ctx.status[kind] ?? {}) as Record<string, unknown>;
  const merged = { ...current, ...values };
  if (JSON.stringify(merged) === JSON.stringify(current)) return ctx.status;
  return { ...ctx.status, [kind]: merged };
}

/**
 * A retry with a new copy: a new cycle (id, object names, generation) whose objects replace the
 * old cycle's (level.ts deletes those as stale). The failed attempts stay counted, so the backoff
 * keeps growing for a cause a new copy does not fix; the sync's start time stays too.
 */
export function withCycleRestarted(ctx: ReplicationContext, obs: Observation): Status {
  const cycle = planCycle(obs.cr, ctx.status, ctx.now, obs.owned);
  return { ...ctx.status, cycle: { ...cycle, attempt: ctx.status.cycle?.attempt ?? 0 } };
}

/** A retry of the same cycle records the spec generation it retries with, so only a later change counts as new. */
export function withRetriedGeneration(ctx: ReplicationContext, obs: Observation): Status {
  const cycle = ctx.status.cycle;
  const generation = obs.cr.metadata.generation;
  if (!cycle || generation === undefined || cycle.generation === undefined || cycle.generation === generation)
    return ctx.status;
  return { ...ctx.status, cycle: { ...cycle, generation } };
}
