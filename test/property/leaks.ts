/**
 * The data-safety invariants of the machine properties, judged on the simulated cluster (world.ts):
 *
 * - No temporary object outlives its cycle: when a cycle closes (the machine leaves it for idle,
 *   and only its id stays in status), nothing Scribe made for the CR remains except what is kept
 *   by design: the destination PVC Scribe provisions, the latestImage, the mover's objects its plan
 *   does not call temporary (a Service, generated keys, a cache), and snapshots the user labelled
 *   scribe.backube/do-not-delete. So the source's point-in-time PVC and snapshot, the mover's Job,
 *   a failed attempt's leftovers and the image a new one replaced are all gone.
 * - Nothing outlives its CR: once the CR is deleted and the garbage collector has run, nothing
 *   Scribe made for it remains (so it made nothing without a controller ownerReference) except the
 *   snapshots labelled do-not-delete, which all remain.
 * - The user's data is never deleted: a delete never hits an object Scribe did not make (the
 *   source PVC, a given destinationPVC), the destination PVC, the latestImage, or a snapshot
 *   labelled do-not-delete.
 * - A create answered 409 AlreadyExists never hides a missing object: the adapter carries on as if
 *   it had made it, so the object there must be the CR's own and either of the wanted cycle, kept
 *   across cycles, or on its way out (then a later step makes it again).
 */
import { expect } from 'vitest';
import type { ScribeCr, ScribeStatus } from '../../machines/api.js';
import { destinationPvcName } from '../../machines/naming.js';
import type { StepResult } from '../../machines/step.js';
import { DO_NOT_DELETE, type Entry, type World } from './world.js';

const describeEntry = (e: Entry) =>
  `${e.object.kind}/${e.object.metadata.name}${e.object.metadata.deletionTimestamp ? ' (being deleted)' : ''}`;

const labelled = (e: Entry) => e.object.kind === 'VolumeSnapshot' && DO_NOT_DELETE in e.object.metadata.labels;

/** Whether the CR's cycle objects are named in status (a cycle is running). */
function cycleRunning(status: ScribeStatus | undefined): boolean {
  return Object.keys(status?.cycle?.objects ?? {}).length > 0;
}

/** The given destinationPVC of a destination, if any. */
export function givenDestinationPvc(cr: ScribeCr): string | undefined {
  if (cr.kind !== 'ReplicationDestination') return undefined;
  for (const mover of ['rsync', 'rclone', 'restic'] as const) {
    const given = (cr.spec[mover] as { destinationPVC?: string } | undefined)?.destinationPVC;
    if (given !== undefined) return given;
  }
  return undefined;
}

/**
 * Whether an object may outlive its cycle: a mover's object its plan does not call temporary, the
 * destination PVC Scribe provisions, the latestImage (as `status` names it), a labelled snapshot.
 */
export function keptByDesign(e: Entry, cr: ScribeCr, status: ScribeStatus | undefined): boolean {
  const { kind, metadata } = e.object;
  if (e.via === 'ensureMover' && !e.temporary) return true;
  if (labelled(e)) return true;
  if (cr.kind === 'ReplicationDestination' && givenDestinationPvc(cr) === undefined)
    if (kind === 'PersistentVolumeClaim' && metadata.name === destinationPvcName(cr.metadata.name ?? '')) return true;
  const image = status?.latestImage;
  return image?.name === metadata.name && image.kind === kind;
}

/**
 * Before a step's actions run, on the world the step observed: if the step closed a cycle, nothing
 * but what is kept by design (or labelled do-not-delete) remains of what Scribe made.
 */
export function checkNoLeakAtClosure(before: ScribeCr, result: StepResult, world: World): void {
  const previous = before.status;
  const next = result.nextPersisted;
  // Closed: the cycle no longer runs and its completion is recorded (lastSyncTime ≥ its start). A
  // retry that takes a new point-in-time copy replaces the cycle without completing the sync.
  const start = Date.parse(previous?.lastSyncStartTime ?? '');
  const completed = next.lastSyncTime !== undefined && Date.parse(next.lastSyncTime) >= start;
  const closed = cycleRunning(previous) && completed && !(cycleRunning(next) && next.cycle?.id === previous?.cycle?.id);
  if (!closed) return;
  const leaked = world
    .madeForCr()
    .filter((e) => !keptByDesign(e, before, next))
    .map(describeEntry);
  expect(leaked, `cycle ${previous?.cycle?.id} closed with objects it made still there`).toEqual([]);
}

/** After a step's actions ran: its deletes spared the user's data, and its 409s hid nothing. */
export function checkDeletesAndConflicts(before: ScribeCr, result: StepResult, world: World): void {
  const next = result.nextPersisted;
  const uid = before.metadata.uid;
  for (const { target, kind, name } of world.deletes) {
    if (!target) continue; // 404: nothing there
    expect(target.madeFor, `deleted ${kind}/${name}, which Scribe did not make`).toBe(uid);
    expect(labelled(target), `sent a delete of ${kind}/${name}, labelled ${DO_NOT_DELETE}`).toBe(false);
    if (before.kind === 'ReplicationDestination')
      expect(name, 'deleted the destination PVC').not.toBe(destinationPvcName(before.metadata.name ?? ''));
    expect(name, 'deleted the latestImage').not.toBe(next.latestImage?.name);
  }
  for (const c of world.conflicts) {
    const what = `create of ${c.kind}/${c.name} (cycle ${c.wantedCycle}) answered 409 by an object`;
    if (c.existingDeleting) continue; // asked again once it is gone
    expect(c.existingOwned, `${what} this CR does not own: the machine cannot see what it waits for`).toBe(true);
    if (c.temporary) expect(c.existingCycle, `${what} of another cycle: this cycle's never comes`).toBe(c.wantedCycle);
  }
  // Judged: the next step's are judged alone.
  world.deletes.length = 0;
  world.conflicts.length = 0;
}

/**
 * Deletes the CR, lets the garbage collector and the snapshot controller finish, and checks that
 * nothing Scribe made remains but every snapshot labelled do-not-delete, and that the user's PVCs stay.
 */
export function checkNothingOutlivesTheCr(world: World, userPvcs: readonly string[]): void {
  const kept = (e: Entry) => labelled(e) && !e.object.metadata.deletionTimestamp;
  const keep = world.madeForCr().filter(kept).map(describeEntry);
  world.deleteCr();
  for (let pass = 0; pass < 20 && world.collectGarbage(); pass++) world.snapshotController(true);
  const remaining = world.madeForCr();
  expect(remaining.filter((e) => !kept(e)).map(describeEntry), 'left behind by a deleted CR').toEqual([]);
  expect(remaining.filter(kept).map(describeEntry), `${DO_NOT_DELETE} snapshots garbage-collected`).toEqual(keep);
  for (const name of userPvcs) expect(world.get('PersistentVolumeClaim', name), `user PVC ${name}`).toBeDefined();
}
