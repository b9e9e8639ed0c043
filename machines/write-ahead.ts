/**
 * The Job first (issue 24): a cycle starts by creating its first object, and status is written
 * after. That object, labelled with the new cycle's id, is the cycle's write-ahead record: when
 * the operator stops before the status write (or defers it on purpose, see deferredStart), the
 * next observation finds the object, adopts its cycle id and resumes the same cycle with the
 * same objects, so a crash never makes a second Job.
 *
 * Why the status waits: in a burst of triggers every CR's status patch and Events would sit in
 * front of the next CR's Job on the API server. Creating only the object first puts every Job of
 * the burst ahead of the writes that merely describe them; the object's watch event brings the
 * CR back, and that step writes status and says the Events.
 */
import type { Action } from './actions.js';
import type { ScribeStatus } from './api.js';
import { CYCLE_LABEL } from './naming.js';
import type { OwnedObjects } from './observation.js';

/** The sequence number of a cycle id ("<sequence>-<start time>"); NaN for none. */
function sequenceOf(cycleId: string | undefined): number {
  return Number.parseInt(cycleId?.split('-')[0] ?? '', 10);
}

/** The cycle ids the observation's objects carry (the mover's Job, PVCs and snapshots), not those going away. */
function observedCycleIds(owned: OwnedObjects): string[] {
  const ids: string[] = [];
  if (owned.mover.phase !== 'absent' && owned.mover.cycleId !== undefined) ids.push(owned.mover.cycleId);
  for (const object of [...Object.values(owned.pvcs), ...Object.values(owned.snapshots)]) {
    if (object.cycleId !== undefined && object.deleting !== true) ids.push(object.cycleId);
  }
  return ids;
}

/**
 * The id of a cycle whose first object exists while status does not record it yet: an object
 * labelled with the sequence number after status.cycle.id (1 when status names no cycle). Only
 * while no cycle is active: a running cycle's objects are already recorded.
 */
export function startedCycleId(status: ScribeStatus, owned: OwnedObjects): string | undefined {
  if (recordsActiveCycle(status)) return undefined;
  const previous = sequenceOf(status.cycle?.id);
  const next = Number.isFinite(previous) ? previous + 1 : 1;
  return observedCycleIds(owned)
    .filter((id) => sequenceOf(id) === next)
    .sort()
    .at(-1);
}

/** Whether status names a running cycle's objects (cycle.ts's cycleActive, which imports this module). */
function recordsActiveCycle(status: ScribeStatus): boolean {
  return Object.keys(status.cycle?.objects ?? {}).length > 0;
}

/** Whether an action creates an object labelled with cycle `cycleId`. */
function createsObjectOf(action: Action, cycleId: string): boolean {
  switch (action.type) {
    case 'ensureMover':
      return action.cycleId === cycleId && action.attempt === 0;
    case 'ensurePvc':
    case 'ensureSnapshot':
      return action.labels[CYCLE_LABEL] === cycleId;
    default:
      return false;
  }
}

/**
 * Whether this step starts a new cycle whose first object is still to be made: then only the
 * object is made now and status waits for the object's watch event (see above). Only a cycle
 * started from idle by a CR Scribe has written before: a new CR's first step answers the user's
 * apply with its conditions (Reconciled) at once, and a retry's new cycle replaces one status
 * records, whose names its objects may reuse. A step that adopted a started cycle, or that starts
 * one with nothing to create yet (a destination waiting for its volume, say), writes status at
 * once as before.
 */
export function deferredStart(
  persisted: ScribeStatus,
  next: ScribeStatus,
  actions: readonly Action[],
  owned: OwnedObjects,
): boolean {
  const cycleId = next.cycle?.id;
  if (persisted.state === undefined || recordsActiveCycle(persisted)) return false;
  if (cycleId === undefined || cycleId === persisted.cycle?.id) return false;
  if (observedCycleIds(owned).includes(cycleId)) return false;
  return actions.some((action) => createsObjectOf(action, cycleId));
}
