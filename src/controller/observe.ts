/**
 * Turns what the informer caches hold into the machines' plain-data observation: the CR's
 * named and owned PVCs and VolumeSnapshots, its mover's objects as the mover reads them, and
 * the pods that use a volume (for the mover's placement, decision 12).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ScribeCr } from '../../machines/api.js';
import { completionRecorded, Objects } from '../../machines/cycle.js';
import { SNAPSHOT_API_GROUP } from '../../machines/images.js';
import { CREATED_BY_LABEL, CREATED_BY_VALUE, CYCLE_LABEL, sourcePitName } from '../../machines/naming.js';
import { moverSections, type KubeObject, type MoverKind } from '../../machines/mover.js';
import {
  DO_NOT_DELETE_LABEL,
  type ObservedPvc,
  type ObservedSnapshot,
  type OwnedObjects,
} from '../../machines/observation.js';
import type { ObservedPod, Toleration } from '../../machines/placement.js';
import type { MoverRuntime } from '../movers/catalog.js';
import { MOVERS } from '../movers/index.js';

interface PvcObject extends KubernetesObject {
  spec?: {
    accessModes?: string[];
    storageClassName?: string;
    volumeMode?: 'Filesystem' | 'Block';
    resources?: { requests?: { storage?: string } };
  };
  status?: { phase?: 'Pending' | 'Bound' | 'Lost'; capacity?: { storage?: string } };
}

interface SnapshotObject extends KubernetesObject {
  status?: { readyToUse?: boolean; error?: { message?: string }; restoreSize?: string };
}

/** The PVC as the machines see it. */
export function observePvc(pvc: PvcObject): ObservedPvc {
  return {
    name: pvc.metadata?.name ?? '',
    phase: pvc.status?.phase,
    deleting: Boolean(pvc.metadata?.deletionTimestamp),
    cycleId: pvc.metadata?.labels?.[CYCLE_LABEL],
    capacity: pvc.status?.capacity?.storage ?? pvc.spec?.resources?.requests?.storage,
    accessModes: pvc.spec?.accessModes,
    storageClassName: pvc.spec?.storageClassName,
    volumeMode: pvc.spec?.volumeMode,
  };
}

/**
 * The VolumeSnapshot as the machines see the snapshot of the CR whose uid is `ownerUid`: whether
 * it is labelled scribe.backube/do-not-delete (any value, decision 20) and whether it still
 * carries that CR's ownerReference.
 */
export function observeSnapshot(snapshot: SnapshotObject, ownerUid?: string): ObservedSnapshot {
  const labels = snapshot.metadata?.labels ?? {};
  const owners = snapshot.metadata?.ownerReferences ?? [];
  return {
    name: snapshot.metadata?.name ?? '',
    readyToUse: snapshot.status?.readyToUse === true,
    error: snapshot.status?.error?.message,
    deleting: Boolean(snapshot.metadata?.deletionTimestamp),
    cycleId: labels[CYCLE_LABEL],
    restoreSize: snapshot.status?.restoreSize,
    doNotDelete: DO_NOT_DELETE_LABEL in labels,
    released: ownerUid === undefined ? undefined : !owners.some((ref) => ref.uid === ownerUid),
  };
}

interface PodObject extends KubernetesObject {
  spec?: {
    nodeName?: string;
    volumes?: Array<{ persistentVolumeClaim?: { claimName?: string } }>;
    tolerations?: Toleration[];
  };
  status?: { phase?: string };
}

/** The PVCs a pod's volumes name. */
export function podClaims(pod: PodObject): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) =>
    v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : [],
  );
}

/** The pod as the placement decision sees it (decision 12). */
export function observePod(pod: PodObject): ObservedPod {
  return {
    name: pod.metadata?.name ?? '',
    nodeName: pod.spec?.nodeName || undefined,
    phase: pod.status?.phase,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    claims: podClaims(pod),
    createdByScribe: pod.metadata?.labels?.[CREATED_BY_LABEL] === CREATED_BY_VALUE,
    tolerations: pod.spec?.tolerations ?? [],
  };
}

/** Where the observation's objects come from. */
export interface ObjectSource {
  /** A PVC of the CR's namespace by name. */
  pvc(namespace: string, name: string): KubernetesObject | undefined;
  /** A VolumeSnapshot of the CR's namespace by name. */
  snapshot(namespace: string, name: string): KubernetesObject | undefined;
  /** Objects whose controller ownerReference is `uid`, of one kind. */
  ownedBy(uid: string, kind: string): KubernetesObject[];
  /**
   * Every PVC of a namespace, from the cache (the PVC informer watches the namespaces whole): a
   * destination's images must not go while a PVC restores from them (machines/images.ts).
   */
  pvcsIn?(namespace: string): KubernetesObject[];
}

interface DataSourceReference {
  apiGroup?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

/** The VolumeSnapshot of its own namespace a PVC restores from (dataSourceRef or dataSource), if any. */
export function restoresFrom(pvc: KubernetesObject): string | undefined {
  const spec = (pvc as { spec?: { dataSource?: DataSourceReference; dataSourceRef?: DataSourceReference } }).spec;
  for (const ref of [spec?.dataSourceRef, spec?.dataSource]) {
    const here = ref?.namespace === undefined || ref.namespace === pvc.metadata?.namespace;
    if (ref?.kind === 'VolumeSnapshot' && ref.apiGroup === SNAPSHOT_API_GROUP && ref.name && here) return ref.name;
  }
  return undefined;
}

/** The VolumeSnapshots a destination lists as images (status.images and latestImage). */
export function imageNames(cr: ScribeCr): string[] {
  if (cr.kind !== 'ReplicationDestination') return [];
  const names = new Set((cr.status?.images ?? []).map((image) => image.name));
  const latest = cr.status?.latestImage;
  if (latest?.kind === 'VolumeSnapshot' && latest.name) names.add(latest.name);
  return [...names];
}

/** Whether a change of `pvc` concerns `cr`: it restores, or restored, from one of the destination's images. */
export function restoresFromImageOf(pvc: KubernetesObject, cr: ScribeCr): boolean {
  const from = restoresFrom(pvc);
  return from !== undefined && imageNames(cr).includes(from);
}

/** PVCs not bound yet (nor being deleted) by the snapshot they restore from. */
function restoringPvcs(pvcs: readonly KubernetesObject[]): Map<string, string[]> {
  const bySnapshot = new Map<string, string[]>();
  for (const pvc of pvcs) {
    const from = restoresFrom(pvc);
    const phase = (pvc as PvcObject).status?.phase;
    if (from === undefined || phase === 'Bound' || pvc.metadata?.deletionTimestamp) continue;
    bySnapshot.set(from, [...(bySnapshot.get(from) ?? []), pvc.metadata?.name ?? '']);
  }
  return bySnapshot;
}

/** The PVC names a CR refers to without owning them (the user's volumes). */
export function namedPvcs(cr: ScribeCr): string[] {
  const names = new Set<string>();
  if (cr.kind === 'ReplicationSource' && cr.spec.sourcePVC) names.add(cr.spec.sourcePVC);
  for (const [, options] of moverSections(cr)) if (options.destinationPVC) names.add(options.destinationPVC);
  return [...names];
}

/**
 * The snapshots the running cycle makes and still waits for: the source's point-in-time
 * snapshot and the destination's image, until the cycle's completion is recorded.
 */
function snapshotsTheCycleAwaits(cr: ScribeCr): string[] {
  const status = cr.status ?? {};
  const objects = status.cycle?.objects ?? {};
  if (completionRecorded(status)) return [];
  return [objects[Objects.pitSnapshot], objects[Objects.image]].filter((n): n is string => n !== undefined);
}

/** A snapshot labelled do-not-delete that no CR owns any more (decision 20). */
function keptAndReleased(snapshot: KubernetesObject): boolean {
  const labels = snapshot.metadata?.labels ?? {};
  return DO_NOT_DELETE_LABEL in labels && !(snapshot.metadata?.ownerReferences ?? []).some((ref) => ref.controller);
}

/** Everything the caches hold that concerns `cr`. */
export function ownedObjects(
  cr: ScribeCr,
  source: ObjectSource,
  mover: MoverRuntime | undefined,
  catalog: readonly MoverRuntime[] = MOVERS,
): OwnedObjects {
  const namespace = cr.metadata.namespace ?? '';
  const uid = cr.metadata.uid ?? '';
  const pvcs: Record<string, ObservedPvc> = {};
  for (const name of namedPvcs(cr)) {
    const pvc = source.pvc(namespace, name);
    if (pvc) pvcs[name] = observePvc(pvc);
  }
  for (const pvc of source.ownedBy(uid, 'PersistentVolumeClaim')) pvcs[pvc.metadata?.name ?? ''] = observePvc(pvc);

  const snapshots: Record<string, ObservedSnapshot> = {};
  for (const snapshot of source.ownedBy(uid, 'VolumeSnapshot')) {
    snapshots[snapshot.metadata?.name ?? ''] = observeSnapshot(snapshot, uid);
  }
  for (const name of imageNames(cr)) {
    const snapshot = snapshots[name] ? undefined : source.snapshot(namespace, name);
    // Named, not owned: an image released because it is labelled do-not-delete (decision 20).
    if (snapshot) snapshots[name] = observeSnapshot(snapshot, uid);
  }
  if (cr.kind === 'ReplicationDestination' && source.pvcsIn) {
    // Images a PVC still restores from stay until it is bound (machines/images.ts).
    const restoring = restoringPvcs(source.pvcsIn(namespace));
    for (const [name, snapshot] of Object.entries(snapshots)) {
      const pvcNames = restoring.get(name);
      if (pvcNames) snapshots[name] = { ...snapshot, restoringPvcs: pvcNames.sort() };
    }
  }
  if (cr.kind === 'ReplicationSource') {
    // The source's point-in-time snapshot name, when a snapshot that is not (or no longer) this
    // CR's holds it: the next cycle must choose another name (machines/cycle.ts, planCycle).
    const pit = sourcePitName(cr.metadata.name ?? '');
    const held = snapshots[pit] ? undefined : source.snapshot(namespace, pit);
    if (held) snapshots[pit] = observeSnapshot(held, uid);
  }
  for (const name of snapshotsTheCycleAwaits(cr)) {
    const snapshot = snapshots[name] ? undefined : source.snapshot(namespace, name);
    // Labelled do-not-delete and released while the cycle still needs it (decision 20): the
    // cycle goes on with it; it is the user's, so once the cycle is over it is no longer seen.
    if (snapshot && keptAndReleased(snapshot)) snapshots[name] = observeSnapshot(snapshot, uid);
  }

  const strays = strayMovers(cr, source, mover, catalog);
  const stray = strays.length > 0 ? { strayMovers: strays } : {};
  if (!mover) return { pvcs, snapshots, mover: { phase: 'absent' }, ...stray };
  const moverObjects: KubernetesObject[] = [];
  for (const kind of ['Job', 'Service', 'Secret']) moverObjects.push(...source.ownedBy(uid, kind));
  for (const job of source.ownedBy(uid, 'Job')) {
    // Its pods, and the Job controller's FailedCreate Events when the API server refused them.
    moverObjects.push(
      ...source.ownedBy(job.metadata?.uid ?? '', 'Pod'),
      ...source.ownedBy(job.metadata?.uid ?? '', 'Event'),
    );
  }
  const observed = mover.read(cr, moverObjects as unknown as KubeObject[]);
  // The mover's own rules of its section (rsync's address, say) are spec problems like those its objects reveal.
  const problems = [...(observed.problems ?? []), ...(mover.validate?.(cr) ?? [])];
  return { pvcs, snapshots, mover: problems.length > 0 ? { ...observed, problems } : observed, ...stray };
}

/** Movers other than `mover` with a temporary object of this CR in the caches (the spec switched movers). */
function strayMovers(
  cr: ScribeCr,
  source: ObjectSource,
  mover: MoverRuntime | undefined,
  catalog: readonly MoverRuntime[],
): MoverKind[] {
  const uid = cr.metadata.uid ?? '';
  const held = (kind: string, name: string) => source.ownedBy(uid, kind).some((o) => o.metadata?.name === name);
  return catalog
    .filter((other) => other.kind !== mover?.kind)
    .filter((other) => other.temporaryObjects(cr).some((ref) => held(ref.kind, ref.name)))
    .map((other) => other.kind);
}
