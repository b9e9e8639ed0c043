/**
 * The decisions the machines emit, as plain data. The effects adapter executes them in order,
 * idempotently: ensure* creates if absent, deleteObject deletes if present, releaseObject removes
 * the CR's ownerReference if present. patchStatus, when present, comes first (write-ahead: facts
 * are persisted before the effects they describe); when it fails on a conflict the adapter drops
 * the rest of the list and observes again. A cycle started from idle writes no status until its
 * first object exists: that object, labelled with the cycle, is its record (write-ahead.ts).
 */
import type { ScribeStatus } from './api.js';
import type { MoverKind } from './mover.js';

export type ObjectKind = 'PersistentVolumeClaim' | 'VolumeSnapshot';

/** Where a PVC's data comes from. */
export interface PvcDataSource {
  kind: 'PersistentVolumeClaim' | 'VolumeSnapshot';
  name: string;
}

/** Create a PVC if absent. `temporary` objects are deleted when the cycle ends. */
export interface EnsurePvcAction {
  type: 'ensurePvc';
  name: string;
  labels: Record<string, string>;
  temporary: boolean;
  spec: {
    capacity?: string | number | undefined;
    accessModes?: string[] | undefined;
    storageClassName?: string | undefined;
    volumeMode?: 'Filesystem' | 'Block' | undefined;
    dataSource?: PvcDataSource | undefined;
  };
}

/** Create a VolumeSnapshot (snapshot.storage.k8s.io/v1, decision 9) of a PVC if absent. */
export interface EnsureSnapshotAction {
  type: 'ensureSnapshot';
  name: string;
  labels: Record<string, string>;
  temporary: boolean;
  sourcePvc: string;
  volumeSnapshotClassName?: string | undefined;
}

/** Create the mover's objects for this cycle and attempt if absent (the mover's builder says which). */
export interface EnsureMoverAction {
  type: 'ensureMover';
  mover: MoverKind;
  cycleId: string;
  attempt: number;
  /** The PVC the mover reads (source) or writes (destination). */
  volume: string;
}

/** Delete the mover's temporary objects of this CR (its Job and the like), if present. */
export interface CleanupMoverAction {
  type: 'cleanupMover';
  mover: MoverKind;
}

/** Delete one object Scribe made, if present. */
export interface DeleteObjectAction {
  type: 'deleteObject';
  kind: ObjectKind;
  name: string;
  reason: string;
}

/**
 * Remove the CR's ownerReference from one object Scribe made, if present, so that neither Scribe
 * nor garbage collection after the CR's deletion removes it: a VolumeSnapshot labelled
 * scribe.backube/do-not-delete (decision 20). The object is the user's from then on.
 */
export interface ReleaseObjectAction {
  type: 'releaseObject';
  kind: 'VolumeSnapshot';
  name: string;
  reason: string;
}

/** Write the whole status (see statusMergePatch for a merge patch that also removes dropped keys). */
export interface PatchStatusAction {
  type: 'patchStatus';
  status: ScribeStatus;
}

/** Record a Kubernetes Event on the CR. */
export interface EmitEventAction {
  type: 'emitEvent';
  eventType: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

/** Update the seed's metrics for this CR. */
export interface RecordMetricsAction {
  type: 'recordMetrics';
  /** scribe_volume_out_of_sync (schedules only, decisions 8 and 14). */
  outOfSync: boolean;
  /** Present once per completed sync: scribe_sync_duration_seconds and scribe_missed_intervals_total. */
  completedSync?: { durationSeconds: number; missedInterval: boolean } | undefined;
}

/** Every decision a machine can make. */
export type Action =
  | EnsurePvcAction
  | EnsureSnapshotAction
  | EnsureMoverAction
  | CleanupMoverAction
  | DeleteObjectAction
  | ReleaseObjectAction
  | PatchStatusAction
  | EmitEventAction
  | RecordMetricsAction;

/** Event reasons, as VolSync names them where it has one. */
export const EventReasons = {
  PersistentVolumeClaimCreated: 'PersistentVolumeClaimCreated',
  VolumeSnapshotCreated: 'VolumeSnapshotCreated',
  TransferStarted: 'TransferStarted',
  TransferCompleted: 'TransferCompleted',
  TransferFailed: 'TransferFailed',
  ServiceAddressAssigned: 'ServiceAddressAssigned',
  SnapshotFailed: 'SnapshotFailed',
  VolumeFailed: 'VolumeFailed',
  SyncCompleted: 'SyncCompleted',
  SyncStalled: 'SyncStalled',
  InvalidSpec: 'InvalidSpec',
  WaitingForPVC: 'WaitingForPVC',
  /** Whom a new mover Job runs as and how to change it (machines/privilege.ts). */
  MoverIdentity: 'MoverIdentity',
  /** A snapshot labelled scribe.backube/do-not-delete lost its ownerReference: it is the user's now. */
  VolumeSnapshotReleased: 'VolumeSnapshotReleased',
} as const;
export type EventReason = (typeof EventReasons)[keyof typeof EventReasons];

/**
 * A JSON merge patch (RFC 7386) turning `previous` into `next`: changed keys are set, dropped keys
 * are null. Arrays (conditions, journal) are replaced whole, as merge patches do.
 */
export function statusMergePatch(previous: object | undefined, next: object): Record<string, unknown> {
  const before = (previous ?? {}) as Record<string, unknown>;
  const after = next as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(before)) if (!(key in after) || after[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const old = before[key];
    if (isPlainObject(value) && isPlainObject(old)) {
      const inner = statusMergePatch(old, value);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (JSON.stringify(old) !== JSON.stringify(value)) {
      patch[key] = value;
    }
  }
  return patch;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
