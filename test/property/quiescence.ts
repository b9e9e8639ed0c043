/**
 * A step that decided nothing holds until its requeueAt: the same CR and the same observation, at
 * any later time before requeueAt, give the same result. Whatever time would change a decision
 * must be a deadline among requeueAt's candidates (machines/step.ts, nextObservationAt), or an idle
 * CR would wait for an unrelated watch event (the work queue's timer is its only other wake-up).
 * Every quiescent step is taken again just after it, halfway to its requeueAt (an hour on when it
 * has none) and just before it.
 */
import { expect } from 'vitest';
import type { ScribeCr } from '../../machines/api.js';
import { step, type StepResult } from '../../machines/step.js';
import type { World } from './world.js';

/**
 * Whether a step decided nothing: no status to write, no object to make or remove, no Event, no
 * completed sync to count; only the out-of-sync gauge, as it already stands.
 */
function isQuiescent(result: StepResult): boolean {
  if (result.statusDeferred) return false;
  return result.actions.every((action) => action.type === 'recordMetrics' && action.completedSync === undefined);
}

/** How far a quiescent step with no requeueAt is taken again. */
const NO_REQUEUE_HORIZON_MS = 3_600_000;

/** A World check: a quiescent step taken again later, before its requeueAt, gives the same result. */
export function checkQuiescentHolds(before: ScribeCr, result: StepResult, world: World): void {
  if (!isQuiescent(result)) return;
  const until = result.requeueAt ?? world.now + NO_REQUEUE_HORIZON_MS;
  const owned = world.owned();
  for (const later of new Set([world.now + 1, Math.floor((world.now + until) / 2), until - 1])) {
    if (later <= world.now || later >= until) continue;
    const again = step(before, { now: later, owned });
    expect(
      again,
      `a quiescent step at ${world.now} decided otherwise at ${later} (requeueAt ${result.requeueAt})`,
    ).toEqual(result);
  }
}
