/**
 * The contract a data mover (rsync, rclone, restic) fulfils; implementations live in
 * src/movers/<name>/. The machines never see a mover: they emit ensureMover/cleanupMover and read
 * the mover's summary (ObservedMover) from the observation. Everything here is pure.
 */
import type {
  DestinationMoverCommon,
  ReplicationDestinationSpec,
  ReplicationSourceSpec,
  ScribeCr,
  SourceMoverCommon,
} from './api.js';
import type { ObservedMover, ObservedPvc } from './observation.js';
import type { ObservedPod } from './placement.js';

/**
 * A mover's name, which is also its spec key (rsync, rclone, restic). The machines know no mover
 * by name: the catalog (src/movers) names them, and a spec's mover is whichever section it holds.
 */
export type MoverKind = string;

/** Spec fields that are not a mover's section (the API's common fields; a test keeps them in step). */
export const NON_MOVER_SPEC_FIELDS = ['sourcePVC', 'trigger', 'paused', 'external'] as const;

/**
 * The mover sections the API's types declare (the shipped catalog's, src/api/movers.ts), so that
 * status.<kind> and spec.<kind> are typed; a mover added to a catalog elsewhere (a test's) is
 * found the same way at run time.
 */
export type SpecMoverKind = Exclude<
  keyof ReplicationSourceSpec | keyof ReplicationDestinationSpec,
  (typeof NON_MOVER_SPEC_FIELDS)[number]
>;

/**
 * What every mover's section holds, whatever the mover: the volume options of either side and
 * the pod settings (the API's types, src/api/common.ts).
 */
export type CommonMoverOptions = Omit<Partial<SourceMoverCommon & DestinationMoverCommon>, 'copyMethod'> & {
  copyMethod?: SourceMoverCommon['copyMethod'] | DestinationMoverCommon['copyMethod'];
};

/** A Kubernetes object as plain data (apiVersion, kind, metadata, and the rest). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** A reference to an object the adapter may delete. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
}

/** The cycle a mover works for, as the machine's ensureMover action names it. */
export interface MoverCycle {
  cycleId: string;
  attempt: number;
  /** The PVC to read (source) or write (destination). */
  volume: string;
}

/** Facts a builder may need beyond the CR (decision 12: defaults fall back to the source PVC). */
export interface MoverFacts {
  volume?: ObservedPvc | undefined;
  /** The PVC the mover mounts as its data volume (the cycle's volume), as the caches hold it. */
  mounted?: ObservedPvc | undefined;
  /** The pods that mount that PVC now (placement.ts picks the mover's node from them). */
  volumeUsers?: readonly ObservedPod[] | undefined;
  /** Whether the CR's namespace is annotated for privileged movers (privilege.ts). */
  privilegedNamespace?: boolean | undefined;
}

/** What a builder wants to exist for one cycle. */
export interface MoverPlan {
  /** Objects to create if absent (Jobs, Services, Secrets, cache PVCs), labelled by the builder with objectLabels(). */
  objects: KubeObject[];
  /** Objects to delete when a cycle ends or an attempt failed (cleanupMover). Kept ones (a Service, keys) are not listed. */
  temporary: ObjectRef[];
  /** What the user should know about this mover (whom it runs as): an Event when its Job is created. */
  notice?: string;
}

/** One data mover: a pure builder plus a pure reader of its results (VolSync's mover contract, as data). */
export interface Mover {
  readonly kind: MoverKind;
  /** Whether this mover handles the CR; exactly one mover of the catalog must. */
  matches(cr: ScribeCr): boolean;
  /** The objects of one cycle; the adapter creates them if absent. */
  build(cr: ScribeCr, cycle: MoverCycle, facts: MoverFacts): MoverPlan;
  /** The temporary objects of this CR, whatever the cycle, for cleanupMover. */
  temporaryObjects(cr: ScribeCr): ObjectRef[];
  /** Summarises the mover's objects as the caches hold them (Jobs, Pods, Services) into the observation. */
  read(cr: ScribeCr, objects: readonly KubeObject[]): ObservedMover;
}

/** Whether a spec field's value is a mover's section (an object under a key that is not a common field). */
function isMoverSection(entry: [string, unknown]): entry is [MoverKind, CommonMoverOptions] {
  const [field, value] = entry;
  return !(NON_MOVER_SPEC_FIELDS as readonly string[]).includes(field) && typeof value === 'object' && value !== null;
}

/** The mover sections a CR's spec holds, as [kind, options]: one for a valid CR, none for an external one. */
export function moverSections(cr: ScribeCr): Array<[MoverKind, CommonMoverOptions]> {
  return Object.entries(cr.spec).filter(isMoverSection);
}

/** The spec key naming the CR's mover, or undefined (external or none). */
export function moverKindOf(cr: ScribeCr): SpecMoverKind | undefined {
  // A key of the spec the API's types declare, or of a mover a test's catalog adds (whose status
  // section is then untyped).
  return moverSections(cr)[0]?.[0] as SpecMoverKind | undefined;
}

/** Picks the one mover of a catalog that handles the CR, or says why none or several do. */
export function selectMover(
  catalog: readonly Mover[],
  cr: ScribeCr,
): { ok: true; mover: Mover } | { ok: false; message: string } {
  const matching = catalog.filter((m) => m.matches(cr));
  const [only] = matching;
  if (only && matching.length === 1) return { ok: true, mover: only };
  if (matching.length === 0)
    return {
      ok: false,
      message: `no mover handles this ${cr.kind}: set one of spec.${catalog.map((m) => m.kind).join(', spec.')}`,
    };
  return { ok: false, message: `several movers claim this ${cr.kind}: ${matching.map((m) => m.kind).join(', ')}` };
}
