/**
 * PVCs restored from VolumeSnapshots, and the snapshots they need until they are bound.
 *
 * A PVC made from a snapshot gets its data when its volume is provisioned: a CSI driver's
 * CreateVolume restores the snapshot, and the local runtime copies the snapshot's directory,
 * before the PersistentVolume exists and the claim is bound. Until then the snapshot must stay:
 * deleting it (garbage collection once the ReplicationDestination is removed) leaves the PVC
 * Pending for ever, with no error; the operator itself keeps an image beyond imagesToKeep while
 * a PVC restores from it (machines/images.ts). Every image a destination keeps is owned by it,
 * so the check below covers them all, not only latestImage. So
 * set-replication waits until its PVC is Bound, and remove-replication refuses while a PVC
 * still restores from a snapshot that removing the CRs would delete.
 *
 * A StorageClass with volumeBindingMode WaitForFirstConsumer provisions only once a pod that
 * uses the PVC is scheduled, so its PVC stays Pending until the application starts: waiting
 * for Bound would only time out. set-replication says so instead of waiting, and
 * remove-replication's refusal keeps the snapshot until that PVC is bound.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { DO_NOT_DELETE_LABEL } from '../../machines/observation.js';
import { kubeRequest } from '../kube/rest.js';
import { EXIT_FAILURE, EXIT_TIMEOUT, PluginError } from './errors.js';
import { listServed, read, type Cluster } from './kube.js';
import type { Print } from './progress.js';

/** The API group of VolumeSnapshots, as a PVC's dataSource names it. */
export const SNAPSHOT_API_GROUP = 'snapshot.storage.k8s.io';
/** Set by the scheduler on a WaitForFirstConsumer PVC once a pod using it is placed. */
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';

interface DataSourceReference {
  apiGroup?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

/** A PersistentVolumeClaim, as far as restores are concerned. */
export interface PvcObject extends KubernetesObject {
  spec?: { storageClassName?: string; dataSource?: DataSourceReference; dataSourceRef?: DataSourceReference };
  status?: { phase?: string };
}

/** A StorageClass, as far as binding is concerned. */
export interface StorageClassObject extends KubernetesObject {
  provisioner?: string;
  volumeBindingMode?: string;
}

/** The VolumeSnapshot (namespace and name) a PVC restores from, if it names one. */
export function restoreSource(pvc: PvcObject): { namespace: string; name: string } | undefined {
  for (const ref of [pvc.spec?.dataSourceRef, pvc.spec?.dataSource]) {
    if (ref?.kind === 'VolumeSnapshot' && ref.apiGroup === SNAPSHOT_API_GROUP && ref.name) {
      return { namespace: ref.namespace ?? pvc.metadata?.namespace ?? '', name: ref.name };
    }
  }
  return undefined;
}

/**
 * Whether garbage collection deletes `object` once every owner in `removed` is gone: it has
 * owners, and all of them are among those (an object with another owner left stays).
 */
export function goesWith(object: KubernetesObject, removed: ReadonlySet<string>): boolean {
  const owners = object.metadata?.ownerReferences ?? [];
  return owners.length > 0 && owners.every((ref) => removed.has(ref.uid));
}

/** A PVC that still needs a snapshot the removal would delete. */
export interface PendingRestore {
  namespace: string;
  pvc: string;
  phase: string;
  snapshot: string;
}

/**
 * The PVCs of one namespace that still restore from a snapshot that goes with the owners
 * `removed`: they name it in dataSource or dataSourceRef, are not Bound, are not being deleted,
 * and do not go with those owners themselves (a source's point-in-time PVC goes with its CR).
 */
export function pendingRestores(
  pvcs: readonly PvcObject[],
  snapshots: readonly KubernetesObject[],
  removed: ReadonlySet<string>,
): PendingRestore[] {
  const going = new Set(
    snapshots
      .filter((s) => goesWith(s, removed))
      .map((s) => `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`),
  );
  const pending: PendingRestore[] = [];
  for (const pvc of pvcs) {
    const from = restoreSource(pvc);
    if (!from || !going.has(`${from.namespace}/${from.name}`)) continue;
    if (pvc.status?.phase === 'Bound' || pvc.metadata?.deletionTimestamp || goesWith(pvc, removed)) continue;
    pending.push({
      namespace: pvc.metadata?.namespace ?? '',
      pvc: pvc.metadata?.name ?? '',
      phase: pvc.status?.phase ?? 'Pending',
      snapshot: from.name,
    });
  }
  return pending.sort((a, b) => a.pvc.localeCompare(b.pvc));
}

/** Reads the PVCs and snapshots of a namespace and returns its pending restores (see pendingRestores). */
export async function findPendingRestores(
  c: Cluster,
  namespace: string,
  removed: ReadonlySet<string>,
): Promise<PendingRestore[]> {
  // A cluster without the VolumeSnapshot API has no snapshot to lose.
  const snapshots = await listServed<KubernetesObject>(c, 'VolumeSnapshot', namespace);
  if (snapshots.length === 0) return [];
  const pvcs = await listServed<PvcObject>(c, 'PersistentVolumeClaim', namespace);
  return pendingRestores(pvcs, snapshots, removed);
}

/** The refusal of remove-replication, naming every PVC and what to do about it. */
export function refusal(pending: readonly PendingRestore[], removing: string): PluginError {
  const lines = pending.map(
    (p) => `  PVC ${p.namespace}/${p.pvc} (${p.phase}) still restores from VolumeSnapshot ${p.namespace}/${p.snapshot}`,
  );
  const first = pending[0];
  return new PluginError(
    [
      `refusing to remove the replication: removing ${removing} deletes snapshots that PVCs still restore from:`,
      ...lines,
      'Nothing was removed. Wait until each PVC is Bound (a PVC of a WaitForFirstConsumer StorageClass binds once a pod uses it), or delete the PVC, or keep the snapshot:',
      `  kubectl label volumesnapshot -n ${first?.namespace ?? 'NS'} ${first?.snapshot ?? 'NAME'} ${DO_NOT_DELETE_LABEL}=true`,
      '(the operator then removes its ownerReference and never deletes it; delete it yourself later), then run remove-replication again.',
    ].join('\n'),
    EXIT_FAILURE,
  );
}

/** How set-replication treats the binding of the PVC it restored. */
export type BindingPlan = 'bound' | 'wait' | 'firstConsumer';

/**
 * 'bound' when the PVC is bound already; 'firstConsumer' when its StorageClass binds
 * WaitForFirstConsumer and no pod using it has been scheduled (it binds when the application
 * starts, not before); else 'wait' (Immediate binding, or a class that cannot be read: its
 * Bound, if it never comes, ends the wait at the timeout with a message saying why).
 */
export function bindingPlan(pvc: PvcObject, storageClass: StorageClassObject | undefined): BindingPlan {
  if (pvc.status?.phase === 'Bound') return 'bound';
  const consumerPlaced = Boolean(pvc.metadata?.annotations?.[SELECTED_NODE_ANNOTATION]);
  if (storageClass?.volumeBindingMode === 'WaitForFirstConsumer' && !consumerPlaced) return 'firstConsumer';
  return 'wait';
}

interface CoreEvent {
  metadata?: { uid?: string };
  type?: string;
  reason?: string;
  message?: string;
}

/** The PVC's Events (core/v1, as `kubectl describe` shows them); none when they cannot be read. */
async function pvcEvents(c: Cluster, namespace: string, name: string): Promise<CoreEvent[]> {
  try {
    const answer = await kubeRequest<{ items?: CoreEvent[] }>(c.kc, {
      method: 'GET',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`,
      query: { fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${name}` },
    });
    return answer.items ?? [];
  } catch {
    return []; // Events are a help, not a condition: a user without access to them still waits.
  }
}

/** Options of waitForRestore. */
export interface RestoreWaitOptions {
  print: Print;
  /** 0: do not wait. */
  timeoutMs: number;
  intervalMs?: number;
  /** How often a line says it still waits. */
  noteEveryMs?: number;
  /** Reads the PVC; by default a GET from the cluster (unit tests pass a sequence). */
  readPvc?: () => Promise<PvcObject | undefined>;
  /** Reads the PVC's StorageClass; by default a GET from the cluster. */
  readClass?: (name: string) => Promise<StorageClassObject | undefined>;
  /** Reads the PVC's Events; by default from the cluster. */
  readEvents?: () => Promise<CoreEvent[]>;
}

function elapsed(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)}s`.padStart(7);
}

/**
 * Waits until the PVC `name`, restored from VolumeSnapshot `snapshot`, is Bound: with its data
 * from the snapshot, which may then go. Prints the PVC's phase as it changes, a line every 10 s
 * and the PVC's Events (a provisioning failure says why it does not bind). Returns how it ended:
 * 'bound', or 'firstConsumer' without waiting (see bindingPlan), or 'notWaited' for a timeout of
 * 0. A timeout ends with exit 2, a PVC that is lost or deleted with exit 1.
 */
export async function waitForRestore(
  c: Cluster,
  namespace: string,
  name: string,
  snapshot: string,
  options: RestoreWaitOptions,
): Promise<'bound' | 'firstConsumer' | 'notWaited'> {
  const start = Date.now();
  const what = `PVC ${namespace}/${name}`;
  const readPvc = options.readPvc ?? (() => read<PvcObject>(c, 'PersistentVolumeClaim', namespace, name));
  const readClass =
    options.readClass ?? ((className: string) => read<StorageClassObject>(c, 'StorageClass', undefined, className));
  const readEvents = options.readEvents ?? (() => pvcEvents(c, namespace, name));
  const keepNote = `until it is, the snapshot must stay: remove-replication refuses to remove the replication meanwhile`;
  if (options.timeoutMs <= 0) {
    options.print(`not waiting for ${what} to be bound (--bind-timeout 0); ${keepNote}`);
    return 'notWaited';
  }
  let pvc = await readPvc();
  if (!pvc) throw new PluginError(`${what} disappeared before it was bound`);
  const className = pvc.spec?.storageClassName;
  const storageClass = className ? await readClass(className).catch(() => undefined) : undefined;
  const plan = bindingPlan(pvc, storageClass);
  if (plan === 'firstConsumer') {
    options.print(
      `${what} stays Pending until a pod uses it: its StorageClass ${className} binds WaitForFirstConsumer, and the data is restored from VolumeSnapshot ${snapshot} when it binds; ${keepNote}`,
    );
    return 'firstConsumer';
  }
  options.print(`waiting for ${what} to be bound with the data of VolumeSnapshot ${snapshot}...`);
  const seenEvents = new Set<string>();
  let lastPhase: string | undefined;
  let lastNote = start;
  for (;;) {
    const phase = pvc.status?.phase ?? 'Pending';
    if (phase !== lastPhase) {
      options.print(`${elapsed(start)}  ${what} is ${phase}`);
      lastPhase = phase;
      lastNote = Date.now();
    }
    if (phase === 'Bound') return 'bound';
    if (phase === 'Lost') throw new PluginError(`${what} is Lost: its volume is gone`, EXIT_FAILURE);
    for (const event of await readEvents()) {
      const key = event.metadata?.uid ?? `${event.reason}|${event.message}`;
      if (seenEvents.has(key)) continue;
      seenEvents.add(key);
      options.print(`${elapsed(start)}  ${event.type ?? 'Normal'} ${event.reason ?? ''}: ${event.message ?? ''}`);
      lastNote = Date.now();
    }
    if (Date.now() - start >= options.timeoutMs) {
      throw new PluginError(
        `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${what} to be bound (it is ${phase}); it restores from VolumeSnapshot ${namespace}/${snapshot}: ${keepNote}. See kubectl describe pvc -n ${namespace} ${name}`,
        EXIT_TIMEOUT,
      );
    }
    if (Date.now() - lastNote >= (options.noteEveryMs ?? 10_000)) {
      options.print(`${elapsed(start)}  still ${phase}`);
      lastNote = Date.now();
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
    pvc = await readPvc();
    if (!pvc) throw new PluginError(`${what} was deleted before it was bound`, EXIT_FAILURE);
  }
}
