/**
 * Where a mover pod runs (decision 12). With copyMethod None the mover mounts the user's live
 * volume; a volume only one node can attach (ReadWriteOnce, ReadWriteOncePod) is attached where
 * the pod using it runs, so a mover scheduled anywhere else would wait forever on the attach
 * ("Multi-Attach error"). The mover is therefore pinned to that pod's node, with the tolerations
 * of the pods holding the volume there: a node tainted for a workload (dedicated=db:NoSchedule)
 * runs that workload's pods only, and a pinned mover that did not tolerate the taint would stay
 * Pending for good. Everything here is pure: the operator observes the pods, the mover builders
 * turn the answer into node affinity and tolerations.
 */
import type { ScribeCr } from './api.js';
import { moverOptions } from './cycle.js';
import type { ObservedPvc } from './observation.js';
import { sameJson } from './step.js';

/** A pod's toleration (core/v1 Toleration), copied as the pod has it. */
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** A pod as the placement decision sees it: what it mounts and where it runs. */
export interface ObservedPod {
  name: string;
  /** spec.nodeName: the node the scheduler bound it to; absent while it is unscheduled. */
  nodeName?: string | undefined;
  /** status.phase (Pending, Running, Succeeded, Failed, Unknown). */
  phase?: string | undefined;
  /** metadata.deletionTimestamp is set: it is on its way out and lets go of the volume. */
  deleting?: boolean | undefined;
  /** The PVCs its volumes name (spec.volumes[].persistentVolumeClaim.claimName). */
  claims: readonly string[];
  /** It carries app.kubernetes.io/created-by: scribe (a mover pod, of this CR or another). */
  createdByScribe?: boolean | undefined;
  /** spec.tolerations: what a mover pinned beside it must tolerate too. */
  tolerations?: readonly Toleration[] | undefined;
}

/** Where a pinned mover runs: the node, and the tolerations that let it schedule there. */
export interface MoverPlacement {
  node: string;
  /** Every distinct toleration of the pods holding the volume on that node, in the pods' order. */
  tolerations: Toleration[];
}

/** Access modes that let a volume attach to several nodes at once (what the attach/detach controller checks). */
const MULTI_NODE_MODES = ['ReadWriteMany', 'ReadOnlyMany'];
/** Access modes that tie a volume to one node. */
const SINGLE_NODE_MODES = ['ReadWriteOnce', 'ReadWriteOncePod'];

/** Whether only one node at a time can attach the volume. */
export function attachesToOneNode(pvc: ObservedPvc): boolean {
  const modes = pvc.accessModes ?? [];
  return modes.some((m) => SINGLE_NODE_MODES.includes(m)) && !modes.some((m) => MULTI_NODE_MODES.includes(m));
}

/** Whether a pod holds the volume now: scheduled, not finished, not going away, and not one of Scribe's movers. */
function holds(pod: ObservedPod, claim: string): boolean {
  return (
    pod.claims.includes(claim) &&
    Boolean(pod.nodeName) &&
    (pod.phase === 'Running' || pod.phase === 'Pending') &&
    !pod.deleting &&
    !pod.createdByScribe
  );
}

/**
 * Decision 12: the node a mover of `cr` must run on and what it must tolerate there, or undefined
 * when it may run anywhere.
 * `volume` is the PVC the mover mounts, `pods` the pods of its namespace (any; those that do not
 * mount it are ignored). Only copyMethod None mounts the user's live volume; Clone and Snapshot
 * mount a fresh copy nobody else uses. When the pods holding the volume run on several nodes
 * (impossible for a single-node volume unless the cluster is mid-change) or none holds it, there
 * is no one right node, so none is chosen. Scribe's own mover pods never count: the previous
 * attempt's pod must not pin the next one.
 */
export function moverPlacement(
  cr: ScribeCr,
  volume: ObservedPvc | undefined,
  pods: readonly ObservedPod[],
): MoverPlacement | undefined {
  if (moverOptions(cr).copyMethod !== 'None') return undefined;
  if (!volume || !attachesToOneNode(volume)) return undefined;
  const holders = pods.filter((pod) => holds(pod, volume.name));
  const nodes = new Set(holders.map((pod) => pod.nodeName as string));
  const [node] = nodes;
  if (nodes.size !== 1 || node === undefined) return undefined;
  const tolerations: Toleration[] = [];
  for (const toleration of holders.flatMap((pod) => pod.tolerations ?? []))
    if (!tolerations.some((kept) => sameJson(kept, toleration))) tolerations.push({ ...toleration });
  return { node, tolerations };
}
