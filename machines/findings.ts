/**
 * What an observation shows, read alike by the status writers, the notices and the guards: the
 * spec's problems, what a failed stage says, what a wait for the user's PVC says, and the stall
 * rule. Pure functions of the context and the observation.
 */
import type { ScribeCr } from './api.js';
import { EventReasons, type EventReason } from './actions.js';
import { STALL_AFTER_MS } from './backoff.js';
import type { ReplicationContext, ReplicationState } from './context.js';
import { imageProgress, moverProgress, requiredUserPvc, volumeProgress } from './cycle.js';
import { formatGoDurationMs } from './duration.js';
import { enteredAt } from './journal.js';
import { moverKindOf } from './mover.js';
import { withFailureLine } from './mover-output.js';
import type { Observation } from './observation.js';
import { toMs } from './time.js';
import { describeErrors, validateSpec } from './validate.js';

/** A stage of a cycle that can fail. */
export type FailingStage = 'volume' | 'mover' | 'image';

/** A failure: what the user reads and the Event reason that carries it. */
export interface Failure {
  message: string;
  reason: EventReason;
}

/** The field that names the PVC a cycle waits for: spec.sourcePVC, or spec.<mover>.destinationPVC. */
function requiredUserPvcField(cr: ScribeCr): string {
  return cr.kind === 'ReplicationSource' ? 'spec.sourcePVC' : `spec.${moverKindOf(cr) ?? 'rsync'}.destinationPVC`;
}

/** What a wait for the user's PVC says, naming the field (decision 3). */
export function waitingForPvcMessage(cr: ScribeCr): string {
  return `${requiredUserPvcField(cr)}: PersistentVolumeClaim ${requiredUserPvc(cr) ?? ''} does not exist yet; waiting for it`;
}

/** The spec's problems as one message (empty when valid). */
export function specProblems(ctx: ReplicationContext, obs: Observation): string {
  const foreign = (obs.owned.foreign ?? []).map((object) => ({
    field: 'metadata.name',
    message: `${object.kind} "${object.name}" exists and is not this ${obs.cr.kind}'s (${object.why}); Scribe neither uses, changes nor deletes it: delete or rename it, or rename this ${obs.cr.kind}`,
  }));
  const moverProblems = [...(obs.owned.mover.problems ?? []), ...foreign];
  const facts = { volume: obs.owned.pvcs[requiredUserPvc(obs.cr) ?? ''], moverProblems };
  return describeErrors(validateSpec(obs.cr, facts));
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
export function runningMoverOutput(ctx: ReplicationContext, obs: Observation, state: ReplicationState) {
  const cycle = ctx.status.cycle;
  const running = state === 'moving' && cycle !== undefined && moverProgress(cycle, obs.owned) === 'running';
  return running ? obs.owned.mover.output : undefined;
}

/** The stall period: the operator's (--stall-after), else STALL_AFTER_MS. */
export function stallAfter(ctx: ReplicationContext): number {
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
export function stallMessage(ctx: ReplicationContext, obs: Observation, state: ReplicationState): string {
  const base = `no progress in ${state} for ${formatGoDurationMs(stallAfter(ctx))}`;
  const output = runningMoverOutput(ctx, obs, state);
  return output ? `${base}; the mover's last output: ${output.line}` : base;
}
