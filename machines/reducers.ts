/**
 * What the machine's transitions write into status and what they say, as pure functions of the
 * context and the observation. The machine (replication.ts) names them; nothing here decides
 * WHETHER a transition happens, only what it records.
 */
import type { LatestImage, ScribeCr, ScribeStatus } from './api.js';
import { EventReasons, type EmitEventAction, type EventReason, type RecordMetricsAction } from './actions.js';
import { retryDelayMs, STALL_AFTER_MS } from './backoff.js';
import {
  findCondition,
  reconciled,
  reconcileError,
  setCondition,
  synchronizing,
  SYNCHRONIZING,
  RECONCILED,
  type ConditionValue,
} from './conditions.js';
import type { ReplicationContext, ReplicationState } from './context.js';
import { triggerFactsOf } from './context.js';
import {
  imageProgress,
  moverProgress,
  Objects,
  pitCopyLeftovers,
  planCycle,
  retakesCopy,
  retryTimeReached,
  volumeProgress,
  moverOptions,
  requiredUserPvc,
} from './cycle.js';
import { formatGoDurationMs } from './duration.js';
import { completedImages, settledImages } from './images.js';
import { appendJournal, enteredAt } from './journal.js';
import { moverKindOf } from './mover.js';
import { withFailureLine } from './mover-output.js';
import { destinationImageName, destinationPvcName } from './naming.js';
import type { Observation } from './observation.js';
import { formatTimestamp, toMs } from './time.js';
import { decideSync, isMissedInterval, nextSyncTimeFor, triggerKind } from './trigger.js';
import { describeErrors, validateSpec } from './validate.js';

type Status = ScribeStatus;

/** A stage of a cycle that can fail. */
export type FailingStage = 'volume' | 'mover' | 'image';

/** A failure: what the user reads and the Event reason that carries it. */
export interface Failure {
  message: string;
  reason: EventReason;
}

/**
 * What a transition says, as the machine's named actions with their params as data: an Event on
 * the CR, or a completed sync for the metrics. step() collects them; the adapter executes them.
 */
export type Notice =
  | { type: 'emitEvent'; params: Omit<EmitEventAction, 'type'> }
  | { type: 'recordMetrics'; params: { completedSync: NonNullable<RecordMetricsAction['completedSync']> } };

function event(eventType: EmitEventAction['eventType'], reason: EventReason, message: string): Notice {
  return { type: 'emitEvent', params: { eventType, reason, message } };
}

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

// ---- entering a state ------------------------------------------------------------------------

/** Records entering `state`: status.state and one journal line (from, to, why). */
export function entered(ctx: ReplicationContext, state: ReplicationState, eventType: string): Status {
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
export function settledIdle(ctx: ReplicationContext, obs: Observation): Status {
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
export function settledWorking(ctx: ReplicationContext, obs: Observation, state: ReplicationState): Status {
  const id = ctx.status.cycle?.id ?? '';
  const sync =
    state === 'complete'
      ? synchronizing('CleaningUp', `cycle ${id}: deleting temporary objects`)
      : synchronizing('SyncInProgress', `cycle ${id}: ${state}`);
  return withConditions(ctx.status, obs.cr, ctx.now, reconciled(), sync);
}

/** The field that names the PVC a cycle waits for: spec.sourcePVC, or spec.<mover>.destinationPVC. */
function requiredUserPvcField(cr: ScribeCr): string {
  return cr.kind === 'ReplicationSource' ? 'spec.sourcePVC' : `spec.${moverKindOf(cr) ?? 'rsync'}.destinationPVC`;
}

/** What a wait for the user's PVC says, naming the field (decision 3). */
function waitingForPvcMessage(cr: ScribeCr): string {
  return `${requiredUserPvcField(cr)}: PersistentVolumeClaim ${requiredUserPvc(cr) ?? ''} does not exist yet; waiting for it`;
}

/** Waiting for a PVC that does not exist yet (decision 3): not an error. */
export function settledWaiting(ctx: ReplicationContext, obs: Observation): Status {
  return withConditions(
    without(ctx.status, 'nextSyncTime'),
    obs.cr,
    ctx.now,
    reconciled(),
    synchronizing('WaitingForPVC', `${waitingForPvcMessage(obs.cr)}; the synchronization starts when it does`),
  );
}

/** One Event when the wait starts, never a stream of them (decision 3). */
export function waitingNotice(_ctx: ReplicationContext, obs: Observation): Notice[] {
  return [event('Normal', EventReasons.WaitingForPVC, waitingForPvcMessage(obs.cr))];
}

/** The spec's problems as one message (empty when valid). */
export function invalidMessage(ctx: ReplicationContext, obs: Observation): string {
  const foreign = (obs.owned.foreign ?? []).map((object) => ({
    field: 'metadata.name',
    message: `${object.kind} "${object.name}" exists and is not this ${obs.cr.kind}'s (${object.why}); Scribe neither uses, changes nor deletes it: delete or rename it, or rename this ${obs.cr.kind}`,
  }));
  const moverProblems = [...(obs.owned.mover.problems ?? []), ...foreign];
  const facts = { volume: obs.owned.pvcs[requiredUserPvc(obs.cr) ?? ''], moverProblems };
  return describeErrors(validateSpec(obs.cr, facts));
}

/** Invalid spec: Reconciled=False naming the fields; nothing runs, nothing is deleted. */
export function settledInvalid(ctx: ReplicationContext, obs: Observation): Status {
  return withConditions(
    without(ctx.status, 'nextSyncTime'),
    obs.cr,
    ctx.now,
    reconcileError(invalidMessage(ctx, obs)),
    synchronizing('Error', 'the spec is invalid; see the Reconciled condition'),
  );
}

/** One Warning per distinct problem: when the Reconciled message differs from the persisted one. */
export function invalidNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const message = invalidMessage(ctx, obs);
  const current = findCondition(ctx.persisted.conditions, RECONCILED);
  if (current?.status === 'False' && current.message === message) return [];
  return [event('Warning', EventReasons.InvalidSpec, message)];
}

// ---- a cycle ------------------------------------------------------------------------------------

/** Why a sync starts, for the journal. */
export function startReason(ctx: ReplicationContext, obs: Observation): string {
  const decision = decideSync(triggerFactsOf(obs.cr, ctx.status), ctx.now);
  return decision.due ? `trigger: ${decision.reason}` : 'resumed';
}

/**
 * Starts a cycle: its plan and start time. Start and completion times are kept strictly ordered
 * (start > previous completion) so that "completion recorded" stays a fact even for a clock that
 * did not move between two observations.
 */
export function startedCycle(ctx: ReplicationContext, obs: Observation): Status {
  const previous = toMs(ctx.status.lastSyncTime);
  const start = previous !== undefined && previous >= ctx.now ? previous + 1 : ctx.now;
  const status = without(ctx.status, 'cycle');
  return withTime({ ...status, cycle: planCycle(obs.cr, ctx.status, start, obs.owned) }, 'lastSyncStartTime', start);
}

/** Events of a volume the cycle created (PiT snapshot and PVC, or a newly provisioned destination PVC). */
export function volumeNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const objects = ctx.status.cycle?.objects ?? {};
  const id = ctx.status.cycle?.id;
  const notices: Notice[] = [];
  const snap = objects[Objects.pitSnapshot];
  if (snap !== undefined)
    notices.push(event('Normal', EventReasons.VolumeSnapshotCreated, `created point-in-time VolumeSnapshot ${snap}`));
  const pit = objects[Objects.pitPvc];
  if (pit !== undefined)
    notices.push(
      event('Normal', EventReasons.PersistentVolumeClaimCreated, `created point-in-time PersistentVolumeClaim ${pit}`),
    );
  const volume = objects[Objects.volume];
  if (obs.cr.kind === 'ReplicationDestination' && volume !== undefined && obs.owned.pvcs[volume]?.cycleId === id) {
    notices.push(
      event('Normal', EventReasons.PersistentVolumeClaimCreated, `created destination PersistentVolumeClaim ${volume}`),
    );
  }
  return notices;
}

/** The mover is asked to run. */
export function transferNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const attempt = ctx.status.cycle?.attempt ?? 0;
  const retry = attempt > 0 ? ` (retry ${attempt})` : '';
  return [
    event(
      'Normal',
      EventReasons.TransferStarted,
      `starting ${moverKindOf(obs.cr) ?? 'mover'} transfer for cycle ${ctx.status.cycle?.id ?? ''}${retry}`,
    ),
  ];
}

/** The mover's result goes to status.latestMoverStatus. */
export function moverSucceeded(ctx: ReplicationContext, obs: Observation): Status {
  const logs = obs.owned.mover.logs;
  return { ...ctx.status, latestMoverStatus: { result: 'Successful', ...(logs !== undefined ? { logs } : {}) } };
}

/** The transfer finished. */
export function transferDoneNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  return [
    event(
      'Normal',
      EventReasons.TransferCompleted,
      `${moverKindOf(obs.cr) ?? 'mover'} transfer of cycle ${ctx.status.cycle?.id ?? ''} completed`,
    ),
  ];
}

/** Destination with copyMethod Snapshot: the image name, chosen once per cycle and persisted before it is created. */
export function choseImage(ctx: ReplicationContext, obs: Observation): Status {
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

/** Whether a stage of this cycle has failed (the mover: this cycle's attempt). */
export function stageFailed(ctx: ReplicationContext, obs: Observation, stage: FailingStage): boolean {
  const cycle = ctx.status.cycle;
  if (!cycle) return false;
  if (stage === 'mover') return moverProgress(cycle, obs.owned) === 'failed';
  const progress = stage === 'volume' ? volumeProgress(obs.cr, cycle, obs.owned) : imageProgress(cycle, obs.owned);
  return progress.phase === 'failed';
}

/**
 * What a failed stage says. It reads only what recording the failure leaves alone (the cycle's
 * objects and the observation, not the attempt), so the failure's writer, its notice and its
 * journal line agree whichever runs first.
 */
export function failureOf(ctx: ReplicationContext, obs: Observation, stage: FailingStage): Failure {
  const cycle = ctx.status.cycle ?? {};
  if (stage === 'mover') {
    const mover = obs.owned.mover;
    return {
      reason: EventReasons.TransferFailed,
      message: `transfer failed: ${withFailureLine(mover.message ?? 'the mover Job failed', mover.logs)}`,
    };
  }
  const progress = stage === 'volume' ? volumeProgress(obs.cr, cycle, obs.owned) : imageProgress(cycle, obs.owned);
  return {
    reason:
      progress.phase === 'failed' && progress.stage === 'snapshot'
        ? EventReasons.SnapshotFailed
        : EventReasons.VolumeFailed,
    message: progress.phase === 'failed' ? progress.message : `${stage} failed`,
  };
}

/** A failure: attempt counted, retry time set (a fact in status), conditions and latestMoverStatus written. */
export function failed(ctx: ReplicationContext, obs: Observation, stage: FailingStage): Status {
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

/** One Warning per failure. */
export function failureNotice(ctx: ReplicationContext, obs: Observation, stage: FailingStage): Notice[] {
  const failure = failureOf(ctx, obs, stage);
  return [event('Warning', failure.reason, failure.message)];
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
export function completed(ctx: ReplicationContext, obs: Observation): Status {
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

/**
 * Metrics and Events of a completed sync. The previous completion is the persisted one (a step
 * completes one sync at most), so recording this completion does not change what is said.
 */
export function completionNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const start = toMs(ctx.status.lastSyncStartTime) ?? ctx.now;
  const done = Math.max(ctx.now, start);
  const schedule = triggerKind(obs.cr.spec.trigger) === 'schedule' ? obs.cr.spec.trigger?.schedule : undefined;
  const missedInterval = schedule !== undefined && isMissedInterval(schedule, toMs(ctx.persisted.lastSyncTime), done);
  const notices: Notice[] = [
    { type: 'recordMetrics', params: { completedSync: { durationSeconds: (done - start) / 1000, missedInterval } } },
  ];
  const image = ctx.status.cycle?.objects?.[Objects.image];
  if (image !== undefined) {
    notices.push(
      event(
        'Normal',
        EventReasons.VolumeSnapshotCreated,
        `VolumeSnapshot ${image} is ready and is now status.latestImage`,
      ),
    );
  }
  notices.push(
    event('Normal', EventReasons.SyncCompleted, `synchronization completed in ${formatGoDurationMs(done - start)}`),
  );
  return notices;
}

/** The cycle is over: only its id is kept, to number the next one. */
export function closedCycle(ctx: ReplicationContext): Status {
  const id = ctx.status.cycle?.id;
  return { ...without(ctx.status, 'cycle'), ...(id !== undefined ? { cycle: { id } } : {}) };
}

// ---- things noticed on any observation -----------------------------------------------------------

/**
 * When the working state last made progress: when it was entered, or, for a running mover that
 * reports its output, when that output last moved on (whichever is later).
 */
function lastProgressAt(ctx: ReplicationContext, obs: Observation, state: ReplicationState): number | undefined {
  const since = enteredAt(ctx.status.journal, state) ?? toMs(ctx.status.lastSyncStartTime);
  const output = runningMoverOutput(ctx, obs, state);
  return since === undefined || output === undefined ? since : Math.max(since, output.changedAt);
}

/** The output of this cycle's running mover, when it reports one (observation.ts, ObservedMover.output). */
function runningMoverOutput(ctx: ReplicationContext, obs: Observation, state: ReplicationState) {
  const cycle = ctx.status.cycle;
  const running = state === 'moving' && cycle !== undefined && moverProgress(cycle, obs.owned) === 'running';
  return running ? obs.owned.mover.output : undefined;
}

/** The stall period: the operator's (--stall-after), else STALL_AFTER_MS. */
function stallAfter(ctx: ReplicationContext): number {
  return ctx.stallAfterMs ?? STALL_AFTER_MS;
}

/**
 * Whether the state has gone without progress past the deadline. A running mover is progress
 * while its output moves on; one that reports no output at all (it waits for a peer) always is.
 */
export function isStalled(ctx: ReplicationContext, obs: Observation, state: ReplicationState): boolean {
  const since = lastProgressAt(ctx, obs, state);
  if (since === undefined || ctx.now - since < stallAfter(ctx)) return false;
  const cycle = ctx.status.cycle;
  const running = state === 'moving' && cycle !== undefined && moverProgress(cycle, obs.owned) === 'running';
  return !running || obs.owned.mover.output !== undefined;
}

/** When the current working state will count as stalled, if it has not yet. */
export function stallDeadline(ctx: ReplicationContext, obs: Observation, state: ReplicationState): number | undefined {
  const since = lastProgressAt(ctx, obs, state);
  return since === undefined ? undefined : since + stallAfter(ctx);
}

/** What a stall says: the state, and the running mover's last output line when there is one. */
function stallMessage(ctx: ReplicationContext, obs: Observation, state: ReplicationState): string {
  const base = `no progress in ${state} for ${formatGoDurationMs(stallAfter(ctx))}`;
  const output = runningMoverOutput(ctx, obs, state);
  return output ? `${base}; the mover's last output: ${output.line}` : base;
}

/** Synchronizing=False/Stalled after the deadline; back to in progress once progress resumes. */
export function stallChecked(ctx: ReplicationContext, obs: Observation, state: ReplicationState): Status {
  const stalled = isStalled(ctx, obs, state);
  const current = findCondition(ctx.status.conditions, SYNCHRONIZING);
  if (stalled && current?.reason !== 'Stalled') {
    const message = `${stallMessage(ctx, obs, state)} (cycle ${ctx.status.cycle?.id ?? ''})`;
    return withConditions(ctx.status, obs.cr, ctx.now, synchronizing('Stalled', message));
  }
  if (!stalled && current?.reason === 'Stalled') return settledWorking(ctx, obs, state);
  return ctx.status;
}

/** One Warning when a cycle becomes stalled: the persisted condition does not say Stalled yet. */
export function stallNotice(ctx: ReplicationContext, obs: Observation, state: ReplicationState): Notice[] {
  const current = findCondition(ctx.persisted.conditions, SYNCHRONIZING);
  if (!isStalled(ctx, obs, state) || current?.reason === 'Stalled') return [];
  return [event('Warning', EventReasons.SyncStalled, stallMessage(ctx, obs, state))];
}

/** What the mover publishes (rsync address, restic lastPruned) goes under status.<mover>. */
export function published(ctx: ReplicationContext, obs: Observation): Status {
  const kind = moverKindOf(obs.cr);
  const values = obs.owned.mover.published;
  if (!kind || !values) return ctx.status;
  const current = (ctx.status[kind] ?? {}) as Record<string, unknown>;
  const merged = { ...current, ...values };
  if (JSON.stringify(merged) === JSON.stringify(current)) return ctx.status;
  return { ...ctx.status, [kind]: merged };
}

/** ServiceAddressAssigned when the published address differs from the persisted one. */
export function publishedNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const kind = moverKindOf(obs.cr);
  const address = obs.owned.mover.published?.address;
  if (!kind || address === undefined) return [];
  const current = (ctx.persisted[kind] ?? {}) as Record<string, unknown>;
  if (current.address === address) return [];
  return [event('Normal', EventReasons.ServiceAddressAssigned, `${kind} listens at ${String(address)}`)];
}

/** Whether the failed cycle's retry is due: its time reached, or the spec changed (cycle.ts). */
export function retryDue(ctx: ReplicationContext, obs: Observation): boolean {
  return retryTimeReached(obs.cr, ctx.status, ctx.now);
}

/** Whether the retry takes a new point-in-time copy (cycle.ts, retakesCopy). */
export function retakesCopyNow(ctx: ReplicationContext, obs: Observation): boolean {
  return retakesCopy(obs.cr, ctx.status, obs.owned);
}

/** Whether the failed cycle's copy is gone, so a new cycle can take its own under the same names. */
export function oldCopyGone(ctx: ReplicationContext, obs: Observation): boolean {
  const cycle = ctx.status.cycle;
  return !cycle || pitCopyLeftovers(cycle, obs.owned).length === 0;
}

/**
 * A retry with a new copy: a new cycle (id, object names, generation) whose objects replace the
 * old cycle's (level.ts deletes those as stale). The failed attempts stay counted, so the backoff
 * keeps growing for a cause a new copy does not fix; the sync's start time stays too.
 */
export function restartedCycle(ctx: ReplicationContext, obs: Observation): Status {
  const cycle = planCycle(obs.cr, ctx.status, ctx.now, obs.owned);
  return { ...ctx.status, cycle: { ...cycle, attempt: ctx.status.cycle?.attempt ?? 0 } };
}

/** A retry of the same cycle records the spec generation it retries with, so only a later change counts as new. */
export function retriedCycle(ctx: ReplicationContext, obs: Observation): Status {
  const cycle = ctx.status.cycle;
  const generation = obs.cr.metadata.generation;
  if (!cycle || generation === undefined || cycle.generation === undefined || cycle.generation === generation)
    return ctx.status;
  return { ...ctx.status, cycle: { ...cycle, generation } };
}
