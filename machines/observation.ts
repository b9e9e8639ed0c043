/**
 * The one event the machines receive: an observation of a CR and of what the informer caches
 * hold of its objects at one moment (design: "Level-based input"). Plain data, no client types:
 * the operator side fills it from its caches, tests write it by hand.
 */
import { SCRIBE_GROUP, type ScribeCr } from './api.js';
import type { MoverKind } from './mover.js';

/**
 * Decision 20 (as VolSync's volsync.backube/do-not-delete): a VolumeSnapshot carrying this label,
 * whatever its value, is never deleted by Scribe, and Scribe removes its ownerReference so that
 * garbage collection does not delete it with the CR either.
 */
export const DO_NOT_DELETE_LABEL = `${SCRIBE_GROUP}/do-not-delete`;

/** A PersistentVolumeClaim as the cache holds it. */
export interface ObservedPvc {
  name: string;
  phase?: 'Pending' | 'Bound' | 'Lost' | undefined;
  /** metadata.deletionTimestamp is set: the object is going away and must not be used. */
  deleting?: boolean | undefined;
  /** The scribe.backube/cycle label of an object Scribe made; absent on the user's own PVCs. */
  cycleId?: string | undefined;
  /** status.capacity.storage when bound, else spec.resources.requests.storage. */
  capacity?: string | undefined;
  accessModes?: string[] | undefined;
  storageClassName?: string | undefined;
  volumeMode?: 'Filesystem' | 'Block' | undefined;
}

/** A VolumeSnapshot as the cache holds it. */
export interface ObservedSnapshot {
  name: string;
  readyToUse: boolean;
  /** status.error.message: the snapshot controller could not take it. */
  error?: string | undefined;
  deleting?: boolean | undefined;
  cycleId?: string | undefined;
  restoreSize?: string | undefined;
  /** The label DO_NOT_DELETE_LABEL is set (any value): never deleted by Scribe (decision 20). */
  doNotDelete?: boolean | undefined;
  /**
   * The snapshot carries no ownerReference to this CR (Scribe released it, or it is only named
   * in status.latestImage); absent or false: it still has one.
   */
  released?: boolean | undefined;
  /**
   * PVCs of the namespace, not bound yet, that restore from this snapshot (their dataSource or
   * dataSourceRef names it): deleting it would leave them Pending for ever (machines/images.ts).
   */
  restoringPvcs?: readonly string[] | undefined;
}

/**
 * What a mover's objects say, as the mover's pure reader summarises them (see mover.ts). The
 * machine knows no mover: it reads only this.
 */
export interface ObservedMover {
  /** Job lifecycle of the mover, or 'absent' when no mover Job exists for this CR. */
  phase: 'absent' | 'pending' | 'running' | 'succeeded' | 'failed';
  /** Cycle and attempt labels of the observed Job; results of another cycle or attempt are ignored. */
  cycleId?: string | undefined;
  attempt?: number | undefined;
  /** Why it failed (exit code meaning, pod reason). */
  message?: string | undefined;
  /** The mover container's exit code, once it has terminated. */
  exitCode?: number | undefined;
  /** A short, filtered tail of the mover's output for status.latestMoverStatus.logs. */
  logs?: string | undefined;
  /**
   * Configuration problems the mover's objects reveal (a key Secret that does not exist, say),
   * each naming the spec field to fix. The machine treats them like an invalid spec.
   */
  problems?: ReadonlyArray<{ field: string; message: string }> | undefined;
  /** Values the mover publishes under status.<mover> (rsync: address, port, sshKeys; restic: lastPruned). */
  published?: Readonly<Record<string, string | number>> | undefined;
  /**
   * While it runs: its last output line and when its output last moved on (epoch ms; progress
   * lines count only when their figures change). Absent for a mover that waits for a peer (an
   * rsync destination listening for its source), whose silence is not a stall.
   */
  output?: { line: string; changedAt: number } | undefined;
  /**
   * When the source's data the mover wrote was taken (RFC 3339), where the mover knows it (a
   * restic destination: the restored snapshot's time): status.images' sourceSyncTime.
   */
  sourceSyncTime?: string | undefined;
}

/** Everything the caches hold that concerns one CR. */
export interface OwnedObjects {
  /** Every PVC the CR names (sourcePVC, destinationPVC) or owns, by name. */
  pvcs: Readonly<Record<string, ObservedPvc>>;
  /** Every VolumeSnapshot the CR owns or names in status.latestImage, by name. */
  snapshots: Readonly<Record<string, ObservedSnapshot>>;
  mover: ObservedMover;
  /**
   * Movers other than the spec's whose temporary objects (a Job, say) still exist for this CR:
   * the spec switched movers while one ran. Their objects must go, or the old mover keeps
   * holding, and a destination's keeps writing, the volume.
   */
  strayMovers?: readonly MoverKind[] | undefined;
  /**
   * Objects that hold a name Scribe wanted for this CR but are not its (no created-by label, or no
   * ownerReference to this CR), as the effects adapter found them answering a create with 409
   * (issue 21). The machine treats them like an invalid spec: a condition names each, and
   * nothing of them is changed or deleted.
   */
  foreign?: ReadonlyArray<{ kind: string; name: string; why: string }> | undefined;
}

/** The single event of the replication machines. `now` is epoch milliseconds. */
export interface Observation {
  type: 'observe';
  now: number;
  cr: ScribeCr;
  owned: OwnedObjects;
}

/** Builds the observation event. */
export function observation(cr: ScribeCr, owned: OwnedObjects, now: Date | number): Observation {
  return { type: 'observe', now: typeof now === 'number' ? now : now.getTime(), cr, owned };
}
