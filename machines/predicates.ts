/**
 * The machine's guards: whether a transition happens, as pure predicates over the context and the
 * observation. replication.ts names them; what a transition records is in status-writers.ts and
 * what it says in notices.ts.
 */
import type { ReplicationContext } from './context.js';
import { triggerFactsOf } from './context.js';
import {
  cleanedUp as cycleCleanedUp,
  imageProgress,
  moverProgress,
  pitCopyLeftovers,
  positionFromFacts,
  requiredUserPvc,
  retakesCopy as retakesNewCopy,
  retryTimeReached,
  usablePvc,
  volumeProgress,
  type CyclePosition,
} from './cycle.js';
import { specProblems, type FailingStage } from './findings.js';
import type { Observation } from './observation.js';
import { decideSync } from './trigger.js';
import { startedCycleId } from './write-ahead.js';

/** Whether the CR is left to an external provider (decision 7). */
export function isExternal(_ctx: ReplicationContext, obs: Observation): boolean {
  return obs.cr.spec.external !== undefined;
}

/** Whether the spec has problems (validate.ts, and objects of its names that are not the CR's). */
export function specInvalid(ctx: ReplicationContext, obs: Observation): boolean {
  return specProblems(ctx, obs) !== '';
}

/** Whether a sync is due (trigger.ts). */
export function syncDue(ctx: ReplicationContext, obs: Observation): boolean {
  return decideSync(triggerFactsOf(obs.cr, ctx.status), ctx.now).due;
}

/** Whether a cycle's first object exists that status does not record yet: that cycle goes on (write-ahead.ts). */
export function startRecorded(ctx: ReplicationContext, obs: Observation): boolean {
  return startedCycleId(ctx.status, obs.owned) !== undefined;
}

/** Whether the PVC a cycle needs from the user (sourcePVC, or a given destinationPVC) is missing (decision 3). */
export function userPvcMissing(_ctx: ReplicationContext, obs: Observation): boolean {
  const name = requiredUserPvc(obs.cr);
  return name !== undefined && usablePvc(obs.owned, name) === undefined;
}

/** Whether the volume the mover uses is there for this cycle. */
export function volumeReady(ctx: ReplicationContext, obs: Observation): boolean {
  return !!ctx.status.cycle && volumeProgress(obs.cr, ctx.status.cycle, obs.owned).phase === 'ready';
}

/** Whether this cycle's attempt of the mover succeeded. */
export function moverSucceeded(ctx: ReplicationContext, obs: Observation): boolean {
  return !!ctx.status.cycle && moverProgress(ctx.status.cycle, obs.owned) === 'succeeded';
}

/** Whether the destination's image of this cycle is ready (or none is needed). */
export function imageReady(ctx: ReplicationContext, obs: Observation): boolean {
  return !!ctx.status.cycle && imageProgress(ctx.status.cycle, obs.owned).phase === 'ready';
}

/** Whether the cycle's temporary objects are gone. */
export function cleanedUp(ctx: ReplicationContext, obs: Observation): boolean {
  return !!ctx.status.cycle && cycleCleanedUp(ctx.status.cycle, obs.owned);
}

/** Whether the facts place the cycle in `state` (design: "Facts win"). */
export function resumesIn(ctx: ReplicationContext, obs: Observation, state: CyclePosition): boolean {
  return positionFromFacts(obs.cr, ctx.status, obs.owned) === state;
}

/** Whether a stage of this cycle has failed (the mover: this cycle's attempt). */
export function stageFailed(ctx: ReplicationContext, obs: Observation, stage: FailingStage): boolean {
  const cycle = ctx.status.cycle;
  if (!cycle) return false;
  if (stage === 'mover') return moverProgress(cycle, obs.owned) === 'failed';
  const progress = stage === 'volume' ? volumeProgress(obs.cr, cycle, obs.owned) : imageProgress(cycle, obs.owned);
  return progress.phase === 'failed';
}

/** Whether the failed cycle's retry is due: its time reached, or the spec changed (cycle.ts). */
export function retryDue(ctx: ReplicationContext, obs: Observation): boolean {
  return retryTimeReached(obs.cr, ctx.status, ctx.now);
}

/** Whether the retry takes a new point-in-time copy (cycle.ts, retakesCopy). */
export function retakesCopy(ctx: ReplicationContext, obs: Observation): boolean {
  return retakesNewCopy(obs.cr, ctx.status, obs.owned);
}

/** Whether the failed cycle's copy is gone, so a new cycle can take its own under the same names. */
export function oldCopyGone(ctx: ReplicationContext, obs: Observation): boolean {
  const cycle = ctx.status.cycle;
  return !cycle || pitCopyLeftovers(cycle, obs.owned).length === 0;
}
