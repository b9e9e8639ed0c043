/**
 * A simulated cluster for the machine properties. It holds objects as the API server does (uid,
 * labels, ownerReferences, deletionTimestamp), executes step()'s actions the way the effects
 * adapter does, with the adapter's own object builders (pvcObject, snapshotObject, ownedBy) and the
 * movers' own plans, and builds every observation with the controller's own ownedObjects(). The
 * test drives the mover, the snapshot controller, the garbage collector, the user and the clock.
 *
 * Where the API server has rules that matter to leaks, the world follows them:
 * - a create of a name that exists, even one being deleted, is refused (409 AlreadyExists); the
 *   adapter's ensureObject then reads the object and carries on as if it had made it, so the
 *   step's other actions run and the next observation shows the object that was there
 *   (ensureObject's other case, an object gone between the POST and the read, cannot happen in
 *   this synchronous world); every such 409 is recorded in `conflicts`, and leaks.ts requires
 *   each to be an object the CR owns: the real adapter adopts only those, and reports any other
 *   as foreign (issue 21; test/integration/operator/foreign-objects.test.ts);
 * - a delete is background propagation: a Job, Service or Secret goes at once and its pods are
 *   garbage-collected later; a PVC keeps its kubernetes.io/pvc-protection finalizer while a pod
 *   that mounts it exists; a VolumeSnapshot keeps its finalizer until the snapshot controller runs;
 * - an object whose controller ownerReference names an owner that no longer exists is deleted by
 *   the garbage collector, which is also how everything a deleted CR owns goes.
 * Things the world leaves out: informer caches that lag, PVCs that stay Pending, real SSH keys.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Action } from '../../machines/actions.js';
import type { ScribeCr } from '../../machines/api.js';
import { CYCLE_LABEL } from '../../machines/naming.js';
import type { ObservedPvc, ObservedSnapshot, OwnedObjects } from '../../machines/observation.js';
import { step, type StepResult } from '../../machines/step.js';
import { namedPvcs, observePod, observePvc, observeSnapshot, ownedObjects } from '../../src/controller/observe.js';
import { pvcObject, snapshotObject } from '../../src/effects/adapter.js';
import { ownedBy, type Owner } from '../../src/effects/objects.js';
import { MOVERS } from '../../src/movers/index.js';
import type { MoverRuntime } from '../../src/movers/catalog.js';

/** Decision 20's label: a VolumeSnapshot carrying it is never deleted by Scribe (spelt here, not imported). */
export const DO_NOT_DELETE = 'scribe.backube/do-not-delete';

/** How soon the adapter observes a CR again after it released a snapshot (src/effects/adapter.ts). */
const RELEASE_RECHECK_MS = 1000;

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

/** An object as the API server holds it. */
export interface Stored {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences: OwnerReference[];
    deletionTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** What the world remembers of an object beyond what the API server holds: who made it. */
export interface Entry {
  object: Stored;
  /** The uid of the CR whose step made it, whatever its ownerReferences say (pods: undefined). */
  madeFor?: string | undefined;
  /** Which action made it (pods: the Job controller; 'user': the test). */
  via: 'ensurePvc' | 'ensureSnapshot' | 'ensureMover' | 'jobController' | 'user';
  /** Made as temporary: ensure*'s `temporary`, or listed in the mover plan's `temporary`. */
  temporary: boolean;
}

/** A create the API server refused because the name exists, and what the adapter found there. */
export interface Conflict {
  kind: string;
  name: string;
  temporary: boolean;
  wantedCycle: string | undefined;
  existingCycle: string | undefined;
  existingDeleting: boolean;
  existingOwned: boolean;
}

/** A delete Scribe's step sent, and what it hit. */
export interface DeleteRequest {
  kind: string;
  name: string;
  /** The object as it was when the delete arrived; undefined: 404. */
  target?: Entry | undefined;
  /** The adapter did not delete it: the snapshot is labelled do-not-delete (adapter's deleteUnless). */
  kept: boolean;
}

/** A checker called with every step's input and result. */
export type Check = (before: ScribeCr, result: StepResult, world: World) => void;

const key = (kind: string, name: string) => `${kind}/${name}`;

export class World {
  readonly objects = new Map<string, Entry>();
  wake: number | undefined;
  events: Action[] = [];
  jobsCreated = 0;
  /** Every create answered 409, in order. */
  conflicts: Conflict[] = [];
  /** Every delete Scribe sent, in order. */
  deletes: DeleteRequest[] = [];
  /** Set by deleteCr(): the CR is gone, no step runs any more. */
  crDeleted = false;
  private serial = 0;

  constructor(
    public cr: ScribeCr,
    public now: number,
    private readonly check: Check,
    /** Called after a step's actions were executed. */
    private readonly afterExecution?: Check,
  ) {}

  // ---- reading ------------------------------------------------------------------------------

  get(kind: string, name: string): Entry | undefined {
    return this.objects.get(key(kind, name));
  }

  /** A VolumeSnapshot as the machines would see it. */
  snapshot(name: string): ObservedSnapshot | undefined {
    const entry = this.get('VolumeSnapshot', name);
    return entry ? observeSnapshot(entry.object as KubernetesObject) : undefined;
  }

  /** A PVC as the machines would see it. */
  pvc(name: string): ObservedPvc | undefined {
    const entry = this.get('PersistentVolumeClaim', name);
    return entry ? observePvc(entry.object as KubernetesObject) : undefined;
  }

  /** Objects whose controller ownerReference names `uid`. */
  ownedBy(uid: string, kind?: string): Entry[] {
    return [...this.objects.values()].filter(
      (e) => (kind === undefined || e.object.kind === kind) && controllerOf(e.object)?.uid === uid,
    );
  }

  /** Everything made for the CR (by its steps) that still exists. */
  madeForCr(): Entry[] {
    return [...this.objects.values()].filter((e) => e.madeFor === this.cr.metadata.uid);
  }

  mover(): MoverRuntime | undefined {
    return MOVERS.find((m) => m.matches(this.cr));
  }

  /** What the caches hold for the CR, built as the controller builds it. */
  owned(): OwnedObjects {
    const namespace = this.cr.metadata.namespace ?? '';
    const byName = (kind: string) => (ns: string, name: string) =>
      ns === namespace ? (this.get(kind, name)?.object as KubernetesObject | undefined) : undefined;
    const source = {
      pvc: byName('PersistentVolumeClaim'),
      snapshot: byName('VolumeSnapshot'),
      ownedBy: (uid: string, kind: string) => this.ownedBy(uid, kind).map((e) => e.object as KubernetesObject),
    };
    return ownedObjects(this.cr, source, this.mover());
  }

  // ---- the operator -------------------------------------------------------------------------

  /** Observes and executes until the status stops changing, as watch events of our own writes would. */
  settle(): void {
    if (this.crDeleted) return;
    for (let i = 0; i < 12; i++) {
      const before = this.cr;
      const result = step(before, { now: this.now, owned: this.owned() });
      this.check(before, result, this);
      const wrote = result.actions.some((a) => a.type === 'patchStatus');
      const owned = this.owned();
      let released = false;
      for (const action of result.actions) released = this.execute(action, owned) || released;
      // The work queue's timer: the step's requeueAt replaces the one asked for before.
      if (result.requeueAt !== undefined) this.wake = result.requeueAt;
      if (released) {
        // The adapter observes the CR again shortly: a released snapshot's event names no owner.
        const at = this.now + RELEASE_RECHECK_MS;
        if (this.wake === undefined || this.wake > at) this.wake = at;
      }
      this.afterExecution?.(before, result, this);
      // A cycle started by its objects alone: their watch events bring the CR back at once.
      if (!wrote && !result.statusDeferred) return;
    }
    throw new Error('the machine did not settle within 12 steps of one observation');
  }

  /** Executes one action as the effects adapter does; true when it released an object. */
  private execute(action: Action, owned: OwnedObjects): boolean {
    // releaseObject (decision 20) is matched by its name, so this world also runs against
    // machines that do not emit it.
    const loose = action as { type: string; kind?: string; name?: string };
    if (loose.type === 'releaseObject') return this.release(loose.kind ?? '', loose.name ?? '');
    switch (action.type) {
      case 'patchStatus':
        this.cr = { ...this.cr, status: action.status } as ScribeCr;
        return false;
      case 'ensurePvc':
        this.create(ownedBy(this.owner(), pvcObject(action)), action);
        return false;
      case 'ensureSnapshot':
        this.create(ownedBy(this.owner(), snapshotObject(action)), action);
        return false;
      case 'ensureMover':
        this.ensureMover(action.cycleId, action.attempt, action.volume, owned);
        return false;
      case 'cleanupMover':
        for (const ref of MOVERS.find((m) => m.kind === action.mover)?.temporaryObjects(this.cr) ?? [])
          this.deleteBy(ref.kind, ref.name);
        return false;
      case 'deleteObject':
        this.deleteBy(action.kind, action.name);
        return false;
      case 'emitEvent':
        this.events.push(action);
        return false;
      case 'recordMetrics':
        return false;
      default:
        throw new Error(`the world does not execute ${loose.type}`);
    }
  }

  private owner(): Owner {
    const { metadata } = this.cr;
    return {
      apiVersion: this.cr.apiVersion,
      kind: this.cr.kind,
      metadata: { name: metadata.name ?? '', namespace: metadata.namespace ?? '', uid: metadata.uid ?? '' },
    };
  }

  /** The adapter's ensureMover: the mover's plan, minus what the caches hold, created if absent. */
  private ensureMover(cycleId: string, attempt: number, volume: string, owned: OwnedObjects): void {
    const mover = this.mover();
    if (!mover) throw new Error(`no mover handles ${this.cr.kind} ${this.cr.metadata.name}`);
    const namespace = this.cr.metadata.namespace ?? '';
    const facts = {
      volume: owned.pvcs[namedPvcs(this.cr)[0] ?? ''],
      mounted: owned.pvcs[volume],
      volumeUsers: [...this.objects.values()]
        .filter((e) => e.object.kind === 'Pod' && claimsOf(e.object).includes(volume))
        .map((e) => observePod(e.object as KubernetesObject)),
    };
    const plan = mover.build(this.cr, { cycleId, attempt, volume }, facts);
    const temporary = new Set(plan.temporary.map((ref) => key(ref.kind, ref.name)));
    const existing = new Set(
      this.ownedBy(this.cr.metadata.uid ?? '').map((e) => key(e.object.kind, e.object.metadata.name)),
    );
    for (const object of plan.objects) {
      const k = key(object.kind, object.metadata.name);
      if (existing.has(k)) continue;
      const isTemporary = temporary.has(k);
      const made = ownedBy(this.owner(), { ...object, metadata: { ...object.metadata, namespace } });
      this.create(made as KubernetesObject, { type: 'ensureMover', temporary: isTemporary });
    }
  }

  /** POST: 409 when the name exists, which ensureObject answers by reading the object and moving on. */
  private create(
    object: KubernetesObject,
    { type: via, temporary }: { type: Entry['via']; temporary: boolean },
  ): boolean {
    const kind = object.kind ?? '';
    const name = object.metadata?.name ?? '';
    const found = this.get(kind, name);
    const labels = { ...(object.metadata?.labels ?? {}) };
    if (found) {
      this.conflicts.push({
        kind,
        name,
        temporary,
        wantedCycle: labels[CYCLE_LABEL],
        existingCycle: found.object.metadata.labels[CYCLE_LABEL],
        existingDeleting: found.object.metadata.deletionTimestamp !== undefined,
        existingOwned: controllerOf(found.object)?.uid === this.cr.metadata.uid,
      });
      return false;
    }
    const stored: Stored = {
      ...(structuredClone(object) as unknown as Stored),
      apiVersion: object.apiVersion ?? '',
      kind,
      metadata: {
        ...(object.metadata as Stored['metadata']),
        name,
        namespace: object.metadata?.namespace ?? this.cr.metadata.namespace ?? '',
        uid: this.uid(),
        resourceVersion: this.resourceVersion(),
        labels,
        ownerReferences: [...((object.metadata?.ownerReferences ?? []) as OwnerReference[])],
      },
    };
    this.admit(stored);
    this.objects.set(key(kind, name), { object: stored, madeFor: this.cr.metadata.uid, via, temporary });
    if (kind === 'Job') {
      this.jobsCreated++;
      this.startPod(stored);
    }
    return true;
  }

  /** What the API server and the controllers fill in at once: PVCs bind, Services get an address. */
  private admit(object: Stored): void {
    if (object.kind === 'PersistentVolumeClaim') {
      const spec = object.spec as { resources?: { requests?: { storage?: string } } } | undefined;
      object.status = { phase: 'Bound', capacity: { storage: spec?.resources?.requests?.storage ?? '1Gi' } };
    } else if (object.kind === 'VolumeSnapshot') {
      object.status = { readyToUse: false };
    } else if (object.kind === 'Service') {
      object.spec = { ...object.spec, clusterIP: `10.96.0.${(this.serial % 250) + 1}` };
    } else if (object.kind === 'Job') {
      object.status = {};
    }
  }

  /** The Job controller's pod, which mounts the Job's volumes. */
  private startPod(job: Stored): void {
    const template = (job.spec as { template?: { spec?: { volumes?: unknown[] } } } | undefined)?.template;
    const pod: Stored = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${job.metadata.name}-${this.serial.toString(36)}`,
        namespace: job.metadata.namespace,
        uid: this.uid(),
        resourceVersion: this.resourceVersion(),
        labels: {},
        ownerReferences: [
          { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid, controller: true },
        ],
      },
      spec: { nodeName: 'node-1', volumes: template?.spec?.volumes ?? [] },
      status: { phase: 'Running' },
    };
    this.objects.set(key('Pod', pod.metadata.name), { object: pod, via: 'jobController', temporary: false });
  }

  /** DELETE from one of Scribe's actions; a labelled snapshot is kept, as the adapter's deleteUnless does. */
  private deleteBy(kind: string, name: string): void {
    const target = this.get(kind, name);
    const kept = kind === 'VolumeSnapshot' && target !== undefined && DO_NOT_DELETE in target.object.metadata.labels;
    this.deletes.push({ kind, name, target: target && { ...target, object: structuredClone(target.object) }, kept });
    if (!kept) this.delete(kind, name);
  }

  /** DELETE with background propagation: finalizers hold PVCs and snapshots, the rest goes at once. */
  delete(kind: string, name: string): void {
    const entry = this.get(kind, name);
    if (!entry) return;
    if (kind === 'PersistentVolumeClaim' || kind === 'VolumeSnapshot' || kind === 'Pod') {
      entry.object.metadata.deletionTimestamp ??= new Date(this.now).toISOString();
      entry.object.metadata.resourceVersion = this.resourceVersion();
    } else {
      this.objects.delete(key(kind, name));
    }
  }

  /** The adapter's releaseObject: the CR's ownerReference removed; true when there was one. */
  private release(kind: string, name: string): boolean {
    const entry = this.get(kind, name);
    const uid = this.cr.metadata.uid;
    if (!entry || !entry.object.metadata.ownerReferences.some((ref) => ref.uid === uid)) return false;
    entry.object.metadata.ownerReferences = entry.object.metadata.ownerReferences.filter((ref) => ref.uid !== uid);
    entry.object.metadata.resourceVersion = this.resourceVersion();
    return true;
  }

  private uid(): string {
    return `uid-w${++this.serial}`;
  }

  private resourceVersion(): string {
    return String(++this.serial);
  }

  // ---- the rest of the cluster --------------------------------------------------------------

  /** A PVC the user made (no ownerReference). */
  addUserPvc(name: string, capacity = '1Gi'): void {
    const pvc: Stored = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name,
        namespace: this.cr.metadata.namespace ?? '',
        uid: this.uid(),
        resourceVersion: this.resourceVersion(),
        labels: {},
        ownerReferences: [],
      },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: capacity } } },
      status: { phase: 'Bound', capacity: { storage: capacity } },
    };
    this.objects.set(key('PersistentVolumeClaim', name), { object: pvc, via: 'user', temporary: false });
  }

  /** The user sets a label on an object. */
  label(kind: string, name: string, label: string, value = 'true'): void {
    const entry = this.get(kind, name);
    if (!entry) return;
    entry.object.metadata.labels = { ...entry.object.metadata.labels, [label]: value };
    entry.object.metadata.resourceVersion = this.resourceVersion();
  }

  /** The running mover Job finishes: its condition and its pod's termination. */
  finishMover(ok: boolean): void {
    for (const entry of this.objects.values()) {
      const job = entry.object;
      if (job.kind !== 'Job' || job.metadata.deletionTimestamp || jobFinished(job)) continue;
      job.status = { conditions: [{ type: ok ? 'Complete' : 'Failed', status: 'True' }] };
      job.metadata.resourceVersion = this.resourceVersion();
      for (const pod of this.ownedBy(job.metadata.uid, 'Pod')) {
        pod.object.status = {
          phase: ok ? 'Succeeded' : 'Failed',
          containerStatuses: [
            {
              name: 'mover',
              state: { terminated: { exitCode: ok ? 0 : 23, message: ok ? 'sent 1 file' : 'partial transfer' } },
            },
          ],
        };
      }
    }
  }

  /** The snapshot controller: pending snapshots become ready (or fail), deleted ones lose their finalizer. */
  snapshotController(ok: boolean): void {
    for (const [k, entry] of [...this.objects]) {
      const snap = entry.object;
      if (snap.kind !== 'VolumeSnapshot') continue;
      if (snap.metadata.deletionTimestamp) {
        this.objects.delete(k);
        continue;
      }
      const status = snap.status as { readyToUse?: boolean; error?: unknown } | undefined;
      if (status?.readyToUse || status?.error) continue;
      snap.status = ok
        ? { readyToUse: true, restoreSize: '1Gi' }
        : { readyToUse: false, error: { message: 'driver timeout' } };
      snap.metadata.resourceVersion = this.resourceVersion();
    }
  }

  /**
   * One pass of the cluster's controllers, each acting on what it saw at the start of the pass:
   * the garbage collector deletes objects whose controller owner is gone, the kubelet finishes
   * deleting pods, the PVC protection controller lets unmounted PVCs go, the snapshot controller
   * lets deleted snapshots go. Returns whether anything changed.
   */
  collectGarbage(): boolean {
    const entries = [...this.objects.values()].map((e) => e.object);
    const uids = new Set(entries.map((o) => o.metadata.uid));
    if (!this.crDeleted && this.cr.metadata.uid) uids.add(this.cr.metadata.uid);
    const pods = entries.filter((o) => o.kind === 'Pod');
    let changed = false;
    for (const object of entries) {
      const { deletionTimestamp } = object.metadata;
      const owner = controllerOf(object);
      if (!deletionTimestamp && owner && !uids.has(owner.uid)) {
        this.delete(object.kind, object.metadata.name);
        changed = true;
      } else if (deletionTimestamp && object.kind === 'PersistentVolumeClaim') {
        if (pods.some((pod) => claimsOf(pod).includes(object.metadata.name))) continue;
        this.objects.delete(key(object.kind, object.metadata.name));
        changed = true;
      } else if (deletionTimestamp) {
        this.objects.delete(key(object.kind, object.metadata.name));
        changed = true;
      }
    }
    return changed;
  }

  /** The user deletes the CR (Scribe puts no finalizer on it): it is gone at once. */
  deleteCr(): void {
    this.crDeleted = true;
  }
}

function controllerOf(object: Stored): OwnerReference | undefined {
  return object.metadata.ownerReferences.find((ref) => ref.controller);
}

function claimsOf(pod: Stored): string[] {
  const volumes = (pod.spec as { volumes?: Array<{ persistentVolumeClaim?: { claimName?: string } }> } | undefined)
    ?.volumes;
  return (volumes ?? []).flatMap((v) =>
    v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : [],
  );
}

function jobFinished(job: Stored): boolean {
  const conditions = (job.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions;
  return (conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}
