/**
 * Level actions: what must exist (or be gone) for the state the machine settled in. They are a
 * function of where the machine IS, not of the path it took, so a step that passes through a
 * state never asks for that state's objects, and every step asks again for what is still
 * missing (a missed event or a lost create cannot stall a cycle). All are idempotent.
 */
import type { Action, EnsurePvcAction } from './actions.js';
import type { ReplicationContext, ReplicationState } from './context.js';
import {
  leftovers,
  moverOptions,
  moverProgress,
  Objects,
  pitCopyLeftovers,
  pitSnapshotReady,
  retakesCopy,
  retryTimeReached,
  usablePvc,
} from './cycle.js';
import { restoring, retentionDeletes } from './images.js';
import { moverKindOf } from './mover.js';
import { destinationPvcName, objectLabels } from './naming.js';
import { DO_NOT_DELETE_LABEL, type Observation, type ObservedPvc } from './observation.js';

type Str = string | undefined;

/**
 * The ensure/delete/release/cleanup actions of a settled state. Whatever the state, a snapshot
 * labelled scribe.backube/do-not-delete is released, never deleted (decision 20; see keepLabelled).
 */
export function levelActions(state: ReplicationState, ctx: ReplicationContext, obs: Observation): Action[] {
  const own = stateActions(state, ctx, obs);
  const retention = retentionDeletes(state, obs.cr, ctx.status, obs.owned.snapshots, ctx.now, own);
  return [...strayMoverCleanup(state, obs), ...keepLabelled([...own, ...retention], obs)];
}

/**
 * A mover the spec no longer names (it switched from rsync to restic, say) whose Job still runs
 * holds the volume and, at a destination, writes it beside the new mover: its temporary objects
 * go, in every state but external (whose objects belong to the external provider).
 */
function strayMoverCleanup(state: ReplicationState, obs: Observation): Action[] {
  if (state === 'external') return [];
  return (obs.owned.strayMovers ?? []).map((mover): Action => ({ type: 'cleanupMover', mover }));
}

/**
 * Decision 20. A delete of a snapshot labelled scribe.backube/do-not-delete is dropped (the image
 * a new latestImage replaces, a cycle's temporary snapshot, a failed one), and every labelled
 * snapshot that still carries this CR's ownerReference is released: the reference is removed.
 * That happens in every state, idle and invalid included, as soon as the label is seen: the CR
 * has no finalizer, so once it is deleted Kubernetes' garbage collector removes whatever still
 * names it as owner, and Scribe has no later chance to keep the snapshot.
 */
export function keepLabelled(actions: readonly Action[], obs: Observation): Action[] {
  const snapshots = obs.owned.snapshots;
  const labelled = (name: string) => snapshots[name]?.doNotDelete === true;
  const releases: Action[] = Object.values(snapshots)
    .filter((snapshot) => snapshot.doNotDelete === true && snapshot.released !== true && snapshot.deleting !== true)
    .map((snapshot) => snapshot.name)
    .sort()
    .map((name) => ({
      type: 'releaseObject',
      kind: 'VolumeSnapshot',
      name,
      reason: `labelled ${DO_NOT_DELETE_LABEL}`,
    }));
  const kept = actions.filter((a) => !(a.type === 'deleteObject' && a.kind === 'VolumeSnapshot' && labelled(a.name)));
  return [...releases, ...kept];
}

/** What the settled state itself asks for. */
function stateActions(state: ReplicationState, ctx: ReplicationContext, obs: Observation): Action[] {
  switch (state) {
    case 'snapshotting':
      return [
        ...staleMover(ctx, obs),
        ...(obs.cr.kind === 'ReplicationSource' ? sourceVolumes(ctx, obs) : destinationVolume(ctx, obs)),
      ];
    case 'moving':
      return mover(ctx, obs);
    case 'preserving':
      return image(ctx, obs);
    case 'complete':
      return cleanup(ctx, obs);
    case 'failed':
      return afterFailure(ctx, obs);
    default:
      // idle, waitingForPvc, invalid and external create and delete nothing.
      return [];
  }
}

/**
 * A mover Job left from an earlier cycle (the operator stopped between writing "complete" and
 * deleting it) still holds that cycle's volumes through its pod: remove it before a new cycle
 * waits on them.
 */
function staleMover(ctx: ReplicationContext, obs: Observation): Action[] {
  const kind = moverKindOf(obs.cr);
  const cycle = ctx.status.cycle;
  if (!kind || !cycle || obs.owned.mover.phase === 'absent') return [];
  return moverProgress(cycle, obs.owned) === 'stale' ? [{ type: 'cleanupMover', mover: kind }] : [];
}

/** Source: the point-in-time copy (Clone: PVC from the PVC; Snapshot: VolumeSnapshot, then PVC from it). */
function sourceVolumes(ctx: ReplicationContext, obs: Observation): Action[] {
  const cycle = ctx.status.cycle;
  const objects = cycle?.objects ?? {};
  const source = usablePvc(obs.owned, obs.cr.kind === 'ReplicationSource' ? obs.cr.spec.sourcePVC : undefined);
  const options = moverOptions(obs.cr);
  const actions: Action[] = [...staleObjects(ctx, obs)];
  const temporary = objectLabels({ cycleId: cycle?.id });
  const pitSnapshot = objects[Objects.pitSnapshot];
  const pitPvc = objects[Objects.pitPvc];
  const sourceName = obs.cr.kind === 'ReplicationSource' ? (obs.cr.spec.sourcePVC ?? '') : '';
  // A snapshot the observation holds is not asked for again: a create would be answered by it,
  // and one released to the user (decision 20) is no longer ours to take as made.
  if (pitSnapshot !== undefined && !obs.owned.snapshots[pitSnapshot]) {
    actions.push({
      type: 'ensureSnapshot',
      name: pitSnapshot,
      labels: temporary,
      temporary: true,
      sourcePvc: sourceName,
      volumeSnapshotClassName: options.volumeSnapshotClassName as Str,
    });
  }
  if (pitPvc !== undefined && !isStale(obs.owned.pvcs[pitPvc], cycle?.id)) {
    const fromSnapshot = pitSnapshot !== undefined;
    // From a snapshot, the PVC can only be made once the snapshot is ready.
    if (!fromSnapshot || (cycle && pitSnapshotReady(cycle, obs.owned))) {
      actions.push({
        type: 'ensurePvc',
        name: pitPvc,
        labels: temporary,
        temporary: true,
        spec: pvcSpec(options, source, {
          kind: fromSnapshot ? 'VolumeSnapshot' : 'PersistentVolumeClaim',
          name: fromSnapshot ? pitSnapshot : sourceName,
        }),
      });
    }
  }
  return actions;
}

/** Decision 12: the PiT copy takes capacity, access modes, class and volume mode from the source unless set. */
function pvcSpec(
  options: Record<string, unknown>,
  source: ObservedPvc | undefined,
  dataSource: EnsurePvcAction['spec']['dataSource'],
): EnsurePvcAction['spec'] {
  return {
    capacity: (options.capacity as string | number | undefined) ?? source?.capacity,
    accessModes: (options.accessModes as string[] | undefined) ?? source?.accessModes,
    storageClassName: (options.storageClassName as Str) ?? source?.storageClassName,
    volumeMode: source?.volumeMode,
    dataSource,
  };
}

/** Destination: the PVC Scribe provisions (kept across cycles, never temporary); a given PVC is only used. */
function destinationVolume(ctx: ReplicationContext, obs: Observation): Action[] {
  const volume = ctx.status.cycle?.objects?.[Objects.volume];
  if (volume === undefined || volume !== destinationPvcName(obs.cr.metadata.name ?? '')) return [];
  const options = moverOptions(obs.cr);
  return [
    {
      type: 'ensurePvc',
      name: volume,
      labels: objectLabels({ cycleId: ctx.status.cycle?.id }),
      temporary: false,
      spec: {
        capacity: options.capacity as string | number | undefined,
        accessModes: (options.accessModes as string[] | undefined) ?? ['ReadWriteOnce'],
        storageClassName: options.storageClassName as Str,
      },
    },
  ];
}

/** The mover for this cycle and attempt; a finished Job of an earlier cycle or attempt is cleared first. */
function mover(ctx: ReplicationContext, obs: Observation): Action[] {
  const cycle = ctx.status.cycle;
  const kind = moverKindOf(obs.cr);
  const volume = cycle?.objects?.[Objects.volume];
  if (!cycle?.id || !kind || volume === undefined) return [];
  if (moverProgress(cycle, obs.owned) === 'stale') return [{ type: 'cleanupMover', mover: kind }];
  return [{ type: 'ensureMover', mover: kind, cycleId: cycle.id, attempt: cycle.attempt ?? 0, volume }];
}

/** Destination, copyMethod Snapshot: the snapshot that will become latestImage (kept, so not temporary). */
function image(ctx: ReplicationContext, obs: Observation): Action[] {
  const cycle = ctx.status.cycle;
  const name = cycle?.objects?.[Objects.image];
  const volume = cycle?.objects?.[Objects.volume];
  // Made already (or kept by the user, decision 20): not asked for again.
  if (name === undefined || volume === undefined || obs.owned.snapshots[name]) return [];
  return [
    {
      type: 'ensureSnapshot',
      name,
      labels: objectLabels({ cycleId: cycle?.id }),
      temporary: false,
      sourcePvc: volume,
      volumeSnapshotClassName: moverOptions(obs.cr).volumeSnapshotClassName as Str,
    },
  ];
}

/** Complete: delete what the cycle made and no longer needs, and the mover's temporary objects. */
function cleanup(ctx: ReplicationContext, obs: Observation): Action[] {
  const cycle = ctx.status.cycle;
  if (!cycle) return [];
  // The mover first: its pod is what keeps the cycle's volumes in use.
  const actions: Action[] = [];
  const kind = moverKindOf(obs.cr);
  if (kind && obs.owned.mover.phase !== 'absent') actions.push({ type: 'cleanupMover', mover: kind });
  actions.push(
    ...leftovers(cycle, obs.owned)
      // A PVC restoring from the replaced image keeps it until bound (images.ts).
      .filter((o) => !protectedNames(ctx, obs).has(o.name) && !restoring(obs.owned.snapshots[o.name]))
      .map((o): Action => ({
        type: 'deleteObject',
        kind: o.kind,
        name: o.name,
        reason: `cycle ${cycle.id ?? ''} is complete`,
      })),
  );
  return actions;
}

/**
 * Failed: the failed Job is removed so a retry can run, and a broken temporary object (a snapshot
 * in error, a lost PiT PVC) is removed so the retry makes it again. The user's data (source PVC,
 * destination PVC, latestImage) is never touched.
 */
function afterFailure(ctx: ReplicationContext, obs: Observation): Action[] {
  const cycle = ctx.status.cycle;
  const objects = cycle?.objects ?? {};
  const keep = protectedNames(ctx, obs);
  const actions: Action[] = [];
  for (const key of [Objects.pitSnapshot, Objects.image]) {
    const name = objects[key];
    const snapshot = name === undefined ? undefined : obs.owned.snapshots[name];
    if (name !== undefined && snapshot?.error && snapshot.cycleId === cycle?.id && !keep.has(name)) {
      actions.push({ type: 'deleteObject', kind: 'VolumeSnapshot', name, reason: `retrying after: ${snapshot.error}` });
    }
  }
  const pit = objects[Objects.pitPvc];
  const pvc = pit === undefined ? undefined : obs.owned.pvcs[pit];
  if (pit !== undefined && pvc?.phase === 'Lost' && pvc.cycleId === cycle?.id && !keep.has(pit)) {
    actions.push({
      type: 'deleteObject',
      kind: 'PersistentVolumeClaim',
      name: pit,
      reason: 'retrying after the volume was lost',
    });
  }
  const kind = moverKindOf(obs.cr);
  if (kind && obs.owned.mover.phase === 'failed') actions.push({ type: 'cleanupMover', mover: kind });
  if (cycle && retryTimeReached(obs.cr, ctx.status, ctx.now) && retakesCopy(obs.cr, ctx.status, obs.owned)) {
    // The retry takes a new copy: the failed cycle's goes first (replication.ts waits for it).
    const deleting = new Set(actions.map((a) => (a.type === 'deleteObject' ? a.name : '')));
    for (const leftover of pitCopyLeftovers(cycle, obs.owned)) {
      if (leftover.deleting || keep.has(leftover.name) || deleting.has(leftover.name)) continue;
      actions.push({
        type: 'deleteObject',
        kind: leftover.kind,
        name: leftover.name,
        reason: 'the retry takes a new point-in-time copy',
      });
    }
  }
  return actions;
}

/** Names no decision may delete: the source PVC, the destination PVC and the current latestImage. */
export function protectedNames(ctx: ReplicationContext, obs: Observation): Set<string> {
  const names = new Set<string>();
  if (obs.cr.kind === 'ReplicationSource' && obs.cr.spec.sourcePVC) names.add(obs.cr.spec.sourcePVC);
  if (obs.cr.kind === 'ReplicationDestination') {
    names.add(destinationPvcName(obs.cr.metadata.name ?? ''));
    const given = moverOptions(obs.cr).destinationPVC;
    if (typeof given === 'string') names.add(given);
  }
  const volume = ctx.status.cycle?.objects?.[Objects.volume];
  if (volume !== undefined && ctx.status.cycle?.objects?.[Objects.pitPvc] !== volume) names.add(volume);
  if (ctx.status.latestImage?.name) names.add(ctx.status.latestImage.name);
  return names;
}

/** An object with our name left from another cycle (its cycle label differs): it must go before ours is made. */
function isStale(object: { cycleId?: Str } | undefined, cycleId: Str): boolean {
  return object?.cycleId !== undefined && object.cycleId !== cycleId;
}

/** Deletes of PiT objects a previous cycle left behind under the names this cycle needs. */
function staleObjects(ctx: ReplicationContext, obs: Observation): Action[] {
  const cycle = ctx.status.cycle;
  const objects = cycle?.objects ?? {};
  const actions: Action[] = [];
  const snap = objects[Objects.pitSnapshot];
  const held = snap === undefined ? undefined : obs.owned.snapshots[snap];
  // A snapshot the CR no longer owns is the user's (decision 20), whatever its cycle label says.
  if (snap !== undefined && isStale(held, cycle?.id) && !held?.deleting && held?.released !== true) {
    actions.push({
      type: 'deleteObject',
      kind: 'VolumeSnapshot',
      name: snap,
      reason: 'left over from an earlier cycle',
    });
  }
  const pvc = objects[Objects.pitPvc];
  if (pvc !== undefined && isStale(obs.owned.pvcs[pvc], cycle?.id) && !obs.owned.pvcs[pvc]?.deleting) {
    actions.push({
      type: 'deleteObject',
      kind: 'PersistentVolumeClaim',
      name: pvc,
      reason: 'left over from an earlier cycle',
    });
  }
  return actions;
}
