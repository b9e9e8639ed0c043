/**
 * Facts of one sync cycle: which objects it uses (planned at its start and persisted in
 * status.cycle.objects), and what the observation says about them. Everything the machine's
 * guards and the rehydration read about the world goes through here.
 */
import type { CycleStatus, ScribeCr, ScribeStatus } from './api.js';
import { destinationPvcName, sourcePitName, sourcePitSnapshotAlternative } from './naming.js';
import type { ObservedPvc, ObservedSnapshot, OwnedObjects } from './observation.js';
import { moverSections, type CommonMoverOptions } from './mover.js';
import { RETAKE_COPY_EVERY } from './backoff.js';
import { compactTimestamp, toMs } from './time.js';
import { startedCycleId } from './write-ahead.js';

/** Keys of status.cycle.objects. */
export const Objects = {
  /** The PVC the mover reads (source) or writes (destination). */
  volume: 'volume',
  /** Source: the point-in-time PVC (Clone, Snapshot); temporary. */
  pitPvc: 'pitPvc',
  /** Source: the VolumeSnapshot the PiT PVC is made from (Snapshot); temporary. */
  pitSnapshot: 'pitSnapshot',
  /** Destination: the snapshot being made of this cycle's result (copyMethod Snapshot). */
  image: 'image',
  /** Destination: the image this cycle replaces, deleted once the new one is ready. */
  previousImage: 'previousImage',
} as const;

/** Where a stage of the cycle stands according to the observation. */
export type Progress =
  { phase: 'waiting' } | { phase: 'ready' } | { phase: 'failed'; message: string; stage: 'snapshot' | 'volume' };

/** The mover options of the CR (copyMethod, capacity, ...), whatever the mover. */
export function moverOptions(cr: ScribeCr): CommonMoverOptions {
  return moverSections(cr)[0]?.[1] ?? {};
}

/** A source whose mover reads a point-in-time copy (copyMethod Clone or Snapshot), which nothing writes to meanwhile. */
export function readsPointInTimeCopy(cr: ScribeCr): boolean {
  const method = moverOptions(cr).copyMethod;
  return cr.kind === 'ReplicationSource' && (method === 'Clone' || method === 'Snapshot');
}

/** The user's PVC the cycle needs before it can start: the source PVC, or a given destinationPVC. */
export function requiredUserPvc(cr: ScribeCr): string | undefined {
  if (cr.kind === 'ReplicationSource') return cr.spec.sourcePVC;
  const given = moverOptions(cr).destinationPVC;
  return typeof given === 'string' ? given : undefined;
}

/** The PVC as usable: present and not being deleted. */
export function usablePvc(owned: OwnedObjects, name: string | undefined): ObservedPvc | undefined {
  const pvc = name === undefined ? undefined : owned.pvcs[name];
  return pvc && !pvc.deleting ? pvc : undefined;
}

/** The next cycle id: a sequence number (from the previous id kept in status) and the start time. */
export function nextCycleId(previousId: string | undefined, now: number): string {
  const previous = Number.parseInt(previousId?.split('-')[0] ?? '', 10);
  return `${Number.isFinite(previous) ? previous + 1 : 1}-${compactTimestamp(now)}`;
}

/**
 * Plans a new cycle from the spec: its id and the names of its objects. A cycle whose first object
 * already exists (write-ahead.ts) keeps that object's id, so its names are the ones in use.
 */
export function planCycle(cr: ScribeCr, status: ScribeStatus, now: number, owned?: OwnedObjects): CycleStatus {
  const id = (owned && startedCycleId(status, owned)) ?? nextCycleId(status.cycle?.id, now);
  // The generation tells a retry whether the spec changed since the cycle's copy was taken.
  const generation = cr.metadata.generation;
  const planned = { id, attempt: 0, ...(generation !== undefined ? { generation } : {}) };
  const objects = cycleObjects(cr);
  const snapshot = objects[Objects.pitSnapshot];
  // A name held by a snapshot the user kept (decision 20) is not ours to wait for or delete.
  if (snapshot !== undefined && owned?.snapshots[snapshot]?.released === true)
    objects[Objects.pitSnapshot] = sourcePitSnapshotAlternative(cr.metadata.name ?? '', id.split('-')[0] ?? '');
  return { ...planned, objects };
}

/** The names of a new cycle's objects, by kind and copy method. */
function cycleObjects(cr: ScribeCr): Record<string, string> {
  const name = cr.metadata.name ?? '';
  if (cr.kind === 'ReplicationDestination') {
    return { [Objects.volume]: requiredUserPvc(cr) ?? destinationPvcName(name) };
  }
  const method = moverOptions(cr).copyMethod;
  const pit = sourcePitName(name);
  if (method === 'Clone') return { [Objects.volume]: pit, [Objects.pitPvc]: pit };
  if (method === 'Snapshot') return { [Objects.volume]: pit, [Objects.pitPvc]: pit, [Objects.pitSnapshot]: pit };
  return { [Objects.volume]: cr.spec.sourcePVC ?? '' };
}

/** Whether the spec changed since the running cycle was planned (unknown for cycles planned before this was kept). */
export function specChangedSinceCycle(cr: ScribeCr, cycle: CycleStatus | undefined): boolean {
  const planned = cycle?.generation;
  const current = cr.metadata.generation;
  return planned !== undefined && current !== undefined && planned !== current;
}

/** Whether a cycle is running: its objects are named in status. */
export function cycleActive(status: ScribeStatus): boolean {
  return Object.keys(status.cycle?.objects ?? {}).length > 0;
}

/** The object of this cycle, if the cache holds it for THIS cycle and it is not going away. */
function ofCycle<T extends { cycleId?: string | undefined; deleting?: boolean | undefined }>(
  object: T | undefined,
  cycleId: string | undefined,
): T | undefined {
  return object && !object.deleting && object.cycleId === cycleId ? object : undefined;
}

/** Whether the volume the mover needs exists (snapshotting done), failed, or is still coming. */
export function volumeProgress(cr: ScribeCr, cycle: CycleStatus, owned: OwnedObjects): Progress {
  const objects = cycle.objects ?? {};
  const pitSnapshotName = objects[Objects.pitSnapshot];
  if (pitSnapshotName !== undefined) {
    const snapshot = ofCycle(owned.snapshots[pitSnapshotName], cycle.id);
    if (snapshot?.error)
      return { phase: 'failed', stage: 'snapshot', message: `VolumeSnapshot ${pitSnapshotName}: ${snapshot.error}` };
  }
  const pitName = objects[Objects.pitPvc];
  const volumeName = objects[Objects.volume];
  // Our own PiT PVC must be of this cycle; the user's PVC (or a kept destination PVC) is whatever exists.
  const ownedByCycle = pitName !== undefined;
  const pvc = ownedByCycle ? ofCycle(owned.pvcs[pitName], cycle.id) : usablePvc(owned, volumeName);
  if (pvc?.phase === 'Lost')
    return { phase: 'failed', stage: 'volume', message: `PersistentVolumeClaim ${pvc.name} lost its volume` };
  // Bound is not required: with WaitForFirstConsumer binding waits for the mover's pod.
  return pvc ? { phase: 'ready' } : { phase: 'waiting' };
}

/** The PiT snapshot of this cycle when it is ready to make the PiT PVC from. */
export function pitSnapshotReady(cycle: CycleStatus, owned: OwnedObjects): ObservedSnapshot | undefined {
  const name = cycle.objects?.[Objects.pitSnapshot];
  const snapshot = name === undefined ? undefined : ofCycle(owned.snapshots[name], cycle.id);
  return snapshot?.readyToUse ? snapshot : undefined;
}

/** What the mover did for this cycle and attempt; results of another cycle or attempt are 'stale'. */
export function moverProgress(
  cycle: CycleStatus,
  owned: OwnedObjects,
): 'absent' | 'stale' | 'pending' | 'running' | 'succeeded' | 'failed' {
  const mover = owned.mover;
  if (mover.phase === 'absent') return 'absent';
  if (mover.cycleId !== cycle.id || (mover.attempt ?? 0) !== (cycle.attempt ?? 0)) return 'stale';
  return mover.phase;
}

/** Whether the destination's image of this cycle is ready (or none is needed), failed, or coming. */
export function imageProgress(cycle: CycleStatus, owned: OwnedObjects): Progress {
  const name = cycle.objects?.[Objects.image];
  if (name === undefined) return { phase: 'ready' };
  const snapshot = ofCycle(owned.snapshots[name], cycle.id);
  if (snapshot?.error)
    return { phase: 'failed', stage: 'snapshot', message: `VolumeSnapshot ${name}: ${snapshot.error}` };
  return snapshot?.readyToUse ? { phase: 'ready' } : { phase: 'waiting' };
}

/** Names of the cycle's temporary objects the observation still shows (what cleanup must remove). */
export function leftovers(
  cycle: CycleStatus,
  owned: OwnedObjects,
): { kind: 'PersistentVolumeClaim' | 'VolumeSnapshot'; name: string }[] {
  const objects = cycle.objects ?? {};
  const found: { kind: 'PersistentVolumeClaim' | 'VolumeSnapshot'; name: string }[] = [];
  const pit = objects[Objects.pitPvc];
  if (pit !== undefined && owned.pvcs[pit]) found.push({ kind: 'PersistentVolumeClaim', name: pit });
  for (const key of [Objects.pitSnapshot, Objects.previousImage]) {
    const name = objects[key];
    // A snapshot released to the user (decision 20) is theirs: nothing to remove or wait for.
    if (name !== undefined && owned.snapshots[name] && owned.snapshots[name].released !== true)
      found.push({ kind: 'VolumeSnapshot', name });
  }
  return found;
}

/** Whether the cycle's temporary objects and the mover's Job are gone. */
export function cleanedUp(cycle: CycleStatus, owned: OwnedObjects): boolean {
  return leftovers(cycle, owned).length === 0 && owned.mover.phase === 'absent';
}

/** Whether status records the completion of the running cycle (start and completion are kept strictly ordered). */
export function completionRecorded(status: ScribeStatus): boolean {
  const start = toMs(status.lastSyncStartTime);
  const last = toMs(status.lastSyncTime);
  return start !== undefined && last !== undefined && last >= start;
}

/** A working position of a cycle. */
export type CyclePosition = 'idle' | 'snapshotting' | 'moving' | 'preserving' | 'complete';

/**
 * Where a cycle stands according to the facts alone (design: "Facts win"): the persisted names
 * and times plus what exists. Used on rehydration and when resuming after a failure or a fix.
 */
export function positionFromFacts(cr: ScribeCr, status: ScribeStatus, owned: OwnedObjects): CyclePosition {
  const cycle = status.cycle;
  if (!cycle || !cycleActive(status)) return 'idle';
  if (completionRecorded(status)) return 'complete';
  if (cycle.objects?.[Objects.image] !== undefined) return 'preserving';
  const mover = moverProgress(cycle, owned);
  if (mover === 'succeeded') return 'preserving';
  if (mover === 'pending' || mover === 'running' || mover === 'failed') return 'moving';
  return volumeProgress(cr, cycle, owned).phase === 'ready' ? 'moving' : 'snapshotting';
}

/** Whether a failed cycle's retry is due: its retry time reached, or the spec changed since it was planned. */
export function retryTimeReached(cr: ScribeCr, status: ScribeStatus, now: number): boolean {
  const at = toMs(status.cycle?.retryAfter);
  // A changed spec is retried at once: the user fixed something, and waiting out the backoff
  // would only delay seeing whether it worked.
  return at === undefined || now >= at || specChangedSinceCycle(cr, status.cycle);
}

/**
 * Whether a source's retry restarts the cycle with a new point-in-time copy instead of reusing
 * the cycle's: after every RETAKE_COPY_EVERY failed attempts of a cycle that has such a copy, or
 * at once when the spec changed and either the cycle or the new spec has one (a changed copy
 * method included: the cycle's objects were planned for the old one). Only a cycle that has not
 * yet moved its data restarts.
 */
export function retakesCopy(cr: ScribeCr, status: ScribeStatus, owned: OwnedObjects): boolean {
  const cycle = status.cycle;
  if (!cycle || cr.kind !== 'ReplicationSource') return false;
  const position = positionFromFacts(cr, status, owned);
  if (position !== 'snapshotting' && position !== 'moving') return false;
  const objects = cycle.objects ?? {};
  const hasCopy = objects[Objects.pitPvc] !== undefined || objects[Objects.pitSnapshot] !== undefined;
  if (specChangedSinceCycle(cr, cycle)) return hasCopy || readsPointInTimeCopy(cr);
  const attempt = cycle.attempt ?? 0;
  return hasCopy && attempt > 0 && attempt % RETAKE_COPY_EVERY === 0;
}

/**
 * The cycle's point-in-time PVC and VolumeSnapshot that still exist (going away or not). A retry
 * with a new copy waits until they are gone: the new cycle may plan other names (the copy
 * method changed), and nothing would delete these then.
 */
export function pitCopyLeftovers(
  cycle: CycleStatus,
  owned: OwnedObjects,
): { kind: 'PersistentVolumeClaim' | 'VolumeSnapshot'; name: string; deleting: boolean }[] {
  const objects = cycle.objects ?? {};
  const found: { kind: 'PersistentVolumeClaim' | 'VolumeSnapshot'; name: string; deleting: boolean }[] = [];
  const pitPvc = objects[Objects.pitPvc];
  const pvc = pitPvc === undefined ? undefined : owned.pvcs[pitPvc];
  if (pvc) found.push({ kind: 'PersistentVolumeClaim', name: pvc.name, deleting: pvc.deleting === true });
  const pitSnapshot = objects[Objects.pitSnapshot];
  const snapshot = pitSnapshot === undefined ? undefined : owned.snapshots[pitSnapshot];
  // A snapshot the user kept (decision 20) is theirs now: the new cycle takes another name.
  const kept = snapshot?.doNotDelete === true || snapshot?.released === true;
  if (snapshot && !kept)
    found.push({ kind: 'VolumeSnapshot', name: snapshot.name, deleting: snapshot.deleting === true });
  return found;
}
