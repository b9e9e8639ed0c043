/**
 * Rehydration (design: "Event sourcing", "Facts win"): the state a CR resumes in, from its
 * persisted status and what exists. A stored state the facts allow is kept, so the machine makes
 * its own progress (with its Events) on the next observation; a stored state the facts
 * contradict is replaced by the position the facts give, and the journal records why.
 */
import type { ScribeCr, ScribeStatus } from './api.js';
import { isReplicationState, type ReplicationState } from './context.js';
import { completionRecorded, cycleActive, moverProgress, Objects, positionFromFacts } from './cycle.js';
import type { OwnedObjects } from './observation.js';

/** Where to resume, and the correction made when the stored state was contradicted. */
export interface Rehydration {
  state: ReplicationState;
  /** Why the stored state was not used; absent when it was. */
  correction?: string | undefined;
  /** A CR the machine never touched: start from the machine's initial state. */
  fresh?: boolean | undefined;
}

/** The state to resume in for a CR's persisted status and the objects that exist. */
export function rehydrate(cr: ScribeCr, owned: OwnedObjects): Rehydration {
  const status: ScribeStatus = cr.status ?? {};
  // Decision 7: whatever an external provider wrote in status is not ours to interpret.
  if (cr.spec.external !== undefined) return { state: 'external' };
  const stored = status.state;
  if (stored === undefined && !cycleActive(status)) return { state: 'idle', fresh: true };
  if (isReplicationState(stored) && allowedByFacts(stored, status, owned)) return { state: stored };
  const position = positionFromFacts(cr, status, owned);
  return {
    state: position,
    correction: `stored state ${stored ?? '(none)'} contradicts the facts; resuming in ${position}`,
  };
}

/** Whether the facts allow the machine to be in `state`. */
export function allowedByFacts(state: ReplicationState, status: ScribeStatus, owned: OwnedObjects): boolean {
  const active = cycleActive(status);
  const done = completionRecorded(status);
  const image = status.cycle?.objects?.[Objects.image] !== undefined;
  switch (state) {
    case 'idle':
    case 'waitingForPvc':
      return !active;
    case 'invalid':
      // The machine re-checks the spec on every observation and leaves by itself once it is fixed.
      return true;
    case 'external':
      // Only a CR whose spec is external may be there, and rehydrate() handled those.
      return false;
    case 'failed':
      return active && status.cycle?.retryAfter !== undefined;
    case 'snapshotting': {
      // A mover already working for this cycle means snapshotting was left behind.
      const mover = status.cycle ? moverProgress(status.cycle, owned) : 'absent';
      return active && !done && !image && (mover === 'absent' || mover === 'stale');
    }
    case 'moving':
      return active && !done && !image;
    case 'preserving':
      return active && !done;
    case 'complete':
      return active && done;
  }
}
