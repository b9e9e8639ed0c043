/**
 * The controller: informers for the CRs and every kind they own become one stream of CR keys;
 * a keyed work queue gives each CR one reconcile at a time; a reconcile observes the caches,
 * asks the CR's machine what to do (machines/step.ts) and hands the decisions to the effects
 * adapter. Decisions live in machines/; this file only observes and executes.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { merge, type Subscription } from 'rxjs';
import type { ScribeCr } from '../../machines/api.js';
import { step } from '../../machines/step.js';
import { privilegedMoversAllowed } from '../../machines/privilege.js';
import { EffectsAdapter, metricLabels } from '../effects/adapter.js';
import { notOwnedBecause, type ForeignObject } from '../effects/objects.js';
import { readObject } from '../kube/objects.js';
import { EventRecorder } from '../kube/events.js';
import { ResourceInformer, type InformerEvent } from '../kube/informer.js';
import { RESOURCES, type KindName } from '../kube/resources.js';
import { logFor, rootLogger, type Logger } from '../log.js';
import type { ScribeMetrics } from '../metrics/registry.js';
import type { MoverRuntime } from '../movers/catalog.js';
import { FAILED_CREATE_REASON, MOVER_POD_LABEL } from '../movers/job.js';
import type { OwnedObjects } from '../../machines/observation.js';
import { KeyedWorkQueue, type Requeue } from '../streams/work-queue.js';
import { MoverOutputWatcher } from './mover-output.js';
import { namedPvcs, observePod, ownedObjects, restoresFromImageOf } from './observe.js';
import { OwnerIndex } from './owner-index.js';
import { VolumeUsersIndex } from './volume-users.js';

type CrKind = 'ReplicationSource' | 'ReplicationDestination';
const CR_KINDS: CrKind[] = ['ReplicationSource', 'ReplicationDestination'];
/**
 * Kinds whose objects Scribe owns and watches; their events wake the owning CR. Not Secrets
 * (issue 21): RBAC cannot limit a list or watch to Scribe's label, so the operator never lists
 * Secrets; it creates its key Secrets and answers a 409 by reading that one Secret.
 */
const OWNED_KINDS: KindName[] = ['Job', 'Pod', 'PersistentVolumeClaim', 'VolumeSnapshot', 'Service'];
/** How often a CR held by an object that is not its own looks again whether it is gone (issue 21). */
export const FOREIGN_RECHECK_MS = 30_000;

/** Collaborators and settings of a controller. */
export interface ControllerOptions {
  kc: KubeConfig;
  metrics: ScribeMetrics;
  movers: readonly MoverRuntime[];
  /** Only this namespace; all namespaces when absent. */
  namespace?: string;
  clock?: () => number;
  log?: Logger;
  concurrency?: number;
  /** How often a CR held by a foreign object looks again (default FOREIGN_RECHECK_MS). */
  foreignRecheckMs?: number;
  /** How long a working state may make no progress before it is Stalled (default STALL_AFTER_MS). */
  stallAfterMs?: number;
}

/**
 * How the normal lane (status writes, finished Jobs) and the Events yield to triggers (UrgentHold):
 * one at a time while triggers' runs wait or run and for 30 ms after: a burst's watch events come
 * a few ms apart, paced ones (10/s) 100 ms apart, between which the normal lane runs in full.
 */
const URGENT_HOLD = { quietMs: 30, heldConcurrency: 1 };

/** Bound on back-to-back steps in one reconcile (a whole cycle has fewer states than this). */
const MAX_STEPS_PER_RECONCILE = 8;
/** Actions that touch no object but the CR itself (see reconcile). */
const STATUS_ONLY = new Set<string>(['patchStatus', 'emitEvent', 'recordMetrics']);

/** What one step of a reconcile came to (see reconcileStep). */
interface StepOutcome {
  moved: boolean;
  requeueAt?: number | undefined;
}

/** A running controller. */
export class Controller {
  private readonly informers = new Map<KindName, ResourceInformer<KubernetesObject>>();
  private readonly index = new OwnerIndex();
  /** Every unfinished pod of the watched namespaces, Scribe's or not (decision 12; see the constructor). */
  private readonly pods: ResourceInformer<KubernetesObject>;
  /**
   * The watched namespaces, for their privileged-movers annotation (machines/privilege.ts), read
   * when a mover Job is made; their events wake no CR (a failed attempt's retry sees the change).
   */
  private readonly namespaces: ResourceInformer<KubernetesObject>;
  private readonly volumeUsers = new VolumeUsersIndex();
  private readonly queue: KeyedWorkQueue<string>;
  private cachesSynced = false;
  private readonly adapter: EffectsAdapter;
  private readonly events: EventRecorder;
  private readonly clock: () => number;
  private readonly log: Logger;
  /** The status we wrote last per CR, newer than the cache until the watch catches up. */
  private readonly written = new Map<string, ScribeCr>();
  /** metadata.generation of each CR as last seen: a higher one is a change of its spec by a user. */
  private readonly generations = new Map<string, number>();
  private subscription: Subscription | undefined;
  /** Objects of Scribe's names that are not the CR's, by CR key, as the adapter found them. */
  private readonly foreign = new Map<string, ForeignObject[]>();
  /** What running movers last said, for the stall rule. */
  private readonly outputs: MoverOutputWatcher;

  constructor(private readonly options: ControllerOptions) {
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? rootLogger;
    this.queue = new KeyedWorkQueue((key) => this.reconcile(key), {
      concurrency: options.concurrency ?? 16,
      clock: this.clock,
      urgentHold: URGENT_HOLD,
    });
    this.events = new EventRecorder(options.kc);
    this.adapter = new EffectsAdapter({
      kc: options.kc,
      events: this.events,
      metrics: options.metrics,
      clock: this.clock,
      movers: options.movers,
      log: this.log,
    });
    const selector = { namespace: options.namespace };
    for (const kind of CR_KINDS) this.informers.set(kind, new ResourceInformer(options.kc, RESOURCES[kind], selector));
    for (const kind of OWNED_KINDS) {
      // The user's PVCs matter too (sourcePVC, destinationPVC); everything else Scribe made is labelled.
      const labelSelector = kind === 'PersistentVolumeClaim' ? undefined : 'app.kubernetes.io/created-by=scribe';
      this.informers.set(kind, new ResourceInformer(options.kc, RESOURCES[kind], { ...selector, labelSelector }));
    }
    // Decision 12 places a copyMethod None mover on the node of the pod that uses the volume,
    // and those pods are the user's, outside the labelled Pod informer above. This one watches
    // every pod of the watched namespaces that has not finished (the API server filters out
    // Succeeded and Failed ones), so the operator's memory grows with the cluster's running
    // pods (several KB each) and every pod update crosses this watch. The alternative, a list of
    // the namespace's pods per mover Job, would cost an API call per cycle instead. Its events
    // wake no CR: the pods matter only at the moment a mover Job is created.
    this.outputs = new MoverOutputWatcher({
      kc: options.kc,
      runningPods: () => this.watchedMoverPods(),
      changed: (pod) => this.keysFor(pod).forEach((key) => this.queue.add(key)),
      clock: this.clock,
      log: this.log,
    });
    // A mover pod the API server refuses (a ResourceQuota demanding limits) exists only as the
    // Job controller's FailedCreate Event on the Job: the Job's status does not say it. Only
    // those Events about Jobs are watched (the API server filters), so this cache stays small.
    this.informers.set(
      'CoreEvent',
      new ResourceInformer(options.kc, RESOURCES.CoreEvent, {
        ...selector,
        fieldSelector: `involvedObject.kind=Job,reason=${FAILED_CREATE_REASON}`,
      }),
    );
    this.pods = new ResourceInformer(options.kc, RESOURCES.Pod, {
      ...selector,
      fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
    });
    // Namespaces are cluster-scoped: an operator of one namespace watches that one by name.
    this.namespaces = new ResourceInformer(
      options.kc,
      RESOURCES.Namespace,
      options.namespace ? { fieldSelector: `metadata.name=${options.namespace}` } : {},
    );
  }

  /** Starts every informer, waits for their caches, then reconciles every CR once. */
  async start(): Promise<void> {
    const streams = [...this.informers.values()].map((informer) => informer.events$);
    this.subscription = merge(...streams).subscribe((event) => this.onEvent(event));
    this.subscription.add(this.pods.events$.subscribe((event) => this.volumeUsers.apply(event)));
    // Events go one at a time, as the normal lane does, while triggered CRs wait for their mover Jobs (EventRecorder.hold).
    this.subscription.add(this.queue.urgentHold$.subscribe((held) => this.events.hold(held)));
    // A reconcile that threw: the queue runs it again after its back-off.
    this.subscription.add(
      this.queue.results$.subscribe(({ key, error, retryInMs }) => {
        if (error === undefined) return;
        const [kind, namespace, name] = key.split('/') as [CrKind, string, string];
        const err = error instanceof Error ? error.message : String(error);
        logFor(kind, namespace, name).error({ err, retryInMs }, 'reconcile failed');
      }),
    );
    await Promise.all([...this.informers.values(), this.pods, this.namespaces].map((informer) => informer.start()));
    this.cachesSynced = true;
    this.outputs.start();
    for (const kind of CR_KINDS) {
      for (const cr of this.informers.get(kind)?.list() ?? []) this.queue.add(keyOf(cr));
    }
  }

  /** Stops watching and the queue's timers; lets reconciles in flight finish. */
  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    this.outputs.stop();
    await this.queue.stop();
    await Promise.all([...this.informers.values(), this.pods, this.namespaces].map((informer) => informer.stop()));
  }

  /**
   * The cache of PVCs or ReplicationDestinations, for the volume populator (src/populator): it
   * reads them, and follows their events, without watches of its own. Read only.
   */
  cache(kind: 'PersistentVolumeClaim' | 'ReplicationDestination'): ResourceInformer<KubernetesObject> {
    return this.informers.get(kind) as ResourceInformer<KubernetesObject>;
  }

  /** Resolves when no reconcile is running or waiting and every queued Event is sent (for tests and benchmarks). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle().then(() => this.events.whenSent());
  }

  /** Reconciles that finished, with their errors: for logs, tests and benchmarks. */
  get results$() {
    return this.queue.results$;
  }

  private onEvent(event: InformerEvent<KubernetesObject>): void {
    if (!('object' in event)) {
      if (event.type === 'error') this.log.warn({ err: String(event.error) }, 'watch interrupted; reconnecting');
      return;
    }
    const object = event.object;
    if (event.type === 'deleted') this.index.remove(object);
    else this.index.upsert(object);
    // Until every cache has synced, a CR's objects may be missing from them: a CR reconciled
    // then could take a temporary PVC it owns for already deleted. start() queues every CR once
    // the caches are complete.
    const specChanged = this.noteGeneration(event.type, object);
    if (!this.cachesSynced) return;
    // A changed spec (a new manual trigger, a fixed field) goes before the owned objects' events
    // of other CRs: during a burst of finishing cycles, a trigger's Job is not queued behind them.
    for (const key of this.keysFor(object)) this.queue.add(key, { urgent: specChanged });
  }

  /** Records a CR's generation; true when it rose, i.e. a user changed the spec. */
  private noteGeneration(type: 'added' | 'updated' | 'deleted', object: KubernetesObject): boolean {
    if (object.kind !== 'ReplicationSource' && object.kind !== 'ReplicationDestination') return false;
    const key = keyOf(object);
    if (type === 'deleted') {
      this.generations.delete(key);
      return false;
    }
    const generation = object.metadata?.generation ?? 0;
    const previous = this.generations.get(key);
    this.generations.set(key, generation);
    return previous !== undefined && generation > previous;
  }

  /** The CRs an object's change concerns. */
  private keysFor(object: KubernetesObject): string[] {
    if (object.kind === 'ReplicationSource' || object.kind === 'ReplicationDestination') return [keyOf(object)];
    const owner = object.metadata?.ownerReferences?.find((ref) => ref.controller);
    if (owner && (owner.kind === 'ReplicationSource' || owner.kind === 'ReplicationDestination')) {
      return [`${owner.kind}/${object.metadata?.namespace}/${owner.name}`];
    }
    if (object.kind === 'Pod' && owner?.kind === 'Job') {
      const job = this.informers.get('Job')?.get(owner.name, object.metadata?.namespace);
      return job ? this.keysFor(job) : [];
    }
    const about = (object as { involvedObject?: { kind?: string; name?: string } }).involvedObject;
    if (object.kind === 'Event' && about?.kind === 'Job') {
      const job = this.informers.get('Job')?.get(about.name ?? '', object.metadata?.namespace);
      return job ? this.keysFor(job) : [];
    }
    if (object.kind === 'PersistentVolumeClaim') {
      // A user's PVC: every CR of the namespace that names it (a source waiting for its PVC, say).
      const namespace = object.metadata?.namespace;
      const name = object.metadata?.name ?? '';
      return CR_KINDS.flatMap((kind) =>
        (this.informers.get(kind)?.list(namespace) ?? [])
          // ... or whose images it restores from: one beyond imagesToKeep goes once it is bound.
          .filter((cr) => namedPvcs(cr as ScribeCr).includes(name) || restoresFromImageOf(object, cr as ScribeCr))
          .map(keyOf),
      );
    }
    return [];
  }

  /**
   * One level-based reconcile of one CR. A step that only moved the machine to another state
   * (it wrote status, made or removed no object) is followed at once by the next step, from the
   * status it just wrote: a state with nothing to wait for (a live volume needs no snapshot, say)
   * then costs no trip through the queue behind every other CR. A step that made or removed
   * objects waits for the watch to show them, so the next step never acts on a stale cache.
   */
  private async reconcile(key: string): Promise<Requeue> {
    let outcome: StepOutcome = { moved: true };
    for (let steps = 0; outcome.moved && steps < MAX_STEPS_PER_RECONCILE; steps++) {
      outcome = await this.reconcileStep(key);
    }
    return { requeueAt: outcome.requeueAt };
  }

  /**
   * One step of one CR: whether it moved the machine to another state, and when the CR is to be
   * observed again even if nothing changes (the work queue holds that timer; a step that asks for
   * none leaves an idle CR with no timer). An error is thrown to the queue, which backs off.
   */
  private async reconcileStep(key: string): Promise<StepOutcome> {
    const cr = this.current(key);
    if (!cr) {
      this.forget(key);
      return { moved: false };
    }
    const log = logFor(cr.kind, cr.metadata.namespace ?? '', cr.metadata.name ?? '');
    const mover = this.options.movers.find((candidate) => candidate.matches(cr));
    const cached = this.withMoverOutput(cr, ownedObjects(cr, this.objectSource(), mover, this.options.movers), mover);
    const foreign = await this.stillForeign(key, cr);
    const owned = foreign.length ? { ...cached, foreign } : cached;
    const result = step(cr, { now: this.clock(), owned, stallAfterMs: this.options.stallAfterMs });
    // A foreign Secret's removal wakes nothing (Secrets are not watched): look again later.
    const foreignRecheck = foreign.length
      ? this.clock() + (this.options.foreignRecheckMs ?? FOREIGN_RECHECK_MS)
      : undefined;
    // Decision 12: the volume the mover mounts, and who else mounts it, for the mover's placement.
    const mounts = result.actions.find((action) => action.type === 'ensureMover')?.volume;
    const facts = {
      volume: owned.pvcs[namedPvcs(cr)[0] ?? ''] ?? undefined,
      existing: this.ownedNames(cr.metadata.uid ?? ''),
      privilegedNamespace: privilegedMoversAllowed(
        this.namespaces.get(cr.metadata.namespace ?? '')?.metadata?.annotations,
      ),
      ...(mounts === undefined
        ? {}
        : {
            mounted: owned.pvcs[mounts],
            volumeUsers: this.volumeUsers.users(cr.metadata.namespace ?? '', mounts).map(observePod),
          }),
    };
    const executed = await this.adapter.execute(cr, result.actions, facts, log);
    const requeueAt = earliest(
      result.requeueAt,
      foreignRecheck,
      executed.outcome === 'done' ? executed.requeueAt : undefined,
    );
    if (executed.outcome === 'done' && executed.foreign?.length) {
      this.foreign.set(key, executed.foreign);
      // The machine makes it a condition at once: the next step sees the report.
      this.queue.add(key);
    }
    if (executed.outcome === 'done' && executed.status !== cr) this.written.set(key, executed.status as ScribeCr);
    if (cr.status?.state === result.state) return { moved: false, requeueAt };
    log.info({ from: cr.status?.state, to: result.state }, 'state');
    const moved = executed.outcome === 'done' && result.actions.every((action) => STATUS_ONLY.has(action.type));
    return { moved, requeueAt };
  }

  /** Running mover pods whose output tells progress (not those waiting for a peer). */
  private watchedMoverPods(): KubernetesObject[] {
    return (this.informers.get('Pod')?.list() ?? []).filter((pod) => {
      if (!pod.metadata?.labels?.[MOVER_POD_LABEL]) return false;
      const cr = this.keysFor(pod).map((key) => this.current(key))[0];
      const mover = cr && this.options.movers.find((candidate) => candidate.matches(cr));
      return mover !== undefined && !mover.waitsForPeer?.(cr as ScribeCr);
    });
  }

  /** The observation with the running mover's output added, once it has been read (mover-output.ts). */
  private withMoverOutput(cr: ScribeCr, owned: OwnedObjects, mover: MoverRuntime | undefined): OwnedObjects {
    if (owned.mover.phase !== 'running' || !mover || mover.waitsForPeer?.(cr)) return owned;
    const pods = this.index
      .owned(cr.metadata.uid ?? '', 'Job')
      .flatMap((job) => this.index.owned(job.metadata?.uid ?? '', 'Pod'));
    const running = pods.find((pod) => (pod as { status?: { phase?: string } }).status?.phase === 'Running');
    const output = this.outputs.outputOf(running?.metadata?.uid);
    return output ? { ...owned, mover: { ...owned.mover, output } } : owned;
  }

  /** The freshest copy of a CR: the cache, or what we wrote if the watch has not caught up. */
  private current(key: string): ScribeCr | undefined {
    const [kind, namespace, name] = key.split('/') as [CrKind, string, string];
    const cached = this.informers.get(kind)?.get(name, namespace) as ScribeCr | undefined;
    const written = this.written.get(key);
    if (!cached) return undefined;
    if (written && written.metadata.uid === cached.metadata.uid && newer(written, cached)) return written;
    this.written.delete(key);
    return cached;
  }

  /** The foreign objects reported for a CR that are still there and still not its own (read again). */
  private async stillForeign(key: string, cr: ScribeCr): Promise<ForeignObject[]> {
    const reported = this.foreign.get(key);
    if (!reported) return [];
    const still: ForeignObject[] = [];
    for (const object of reported) {
      try {
        const existing = await readObject(this.options.kc, object.kind as KindName, cr.metadata.namespace, object.name);
        const why = existing && notOwnedBecause(existing, cr.metadata.uid ?? '');
        if (why) still.push({ ...object, why });
      } catch {
        still.push(object); // unreadable now: still reported, read again at the next recheck
      }
    }
    if (still.length) this.foreign.set(key, still);
    else this.foreign.delete(key);
    return still;
  }

  private forget(key: string): void {
    this.foreign.delete(key);
    this.written.delete(key);
    const [kind, namespace, name] = key.split('/') as [CrKind, string, string];
    // Its series may carry any mover's label: the spec may have switched movers.
    for (const { kind: method } of this.options.movers) {
      const labels = metricLabels({ kind, metadata: { name, namespace } } as ScribeCr, method);
      if (labels) this.options.metrics.forget(labels);
    }
  }

  /** "Kind/name" of every object the caches hold that the CR owns. */
  private ownedNames(uid: string): Set<string> {
    const names = new Set<string>();
    for (const kind of OWNED_KINDS) {
      for (const object of this.index.owned(uid, kind)) names.add(`${kind}/${object.metadata?.name}`);
    }
    return names;
  }

  private objectSource() {
    return {
      pvc: (namespace: string, name: string) => this.informers.get('PersistentVolumeClaim')?.get(name, namespace),
      snapshot: (namespace: string, name: string) => this.informers.get('VolumeSnapshot')?.get(name, namespace),
      ownedBy: (uid: string, kind: string) => this.index.owned(uid, kind),
      pvcsIn: (namespace: string) => this.informers.get('PersistentVolumeClaim')?.list(namespace) ?? [],
    };
  }
}

/** The earliest of some times, if any. */
function earliest(...times: (number | undefined)[]): number | undefined {
  const defined = times.filter((t): t is number => t !== undefined);
  return defined.length > 0 ? Math.min(...defined) : undefined;
}

/** The queue key of a CR: kind/namespace/name. */
export function keyOf(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata?.namespace}/${object.metadata?.name}`;
}

/** Whether `a` is a later version of the same object than `b` (resourceVersions are etcd revisions). */
function newer(a: KubernetesObject, b: KubernetesObject): boolean {
  const [x, y] = [Number(a.metadata?.resourceVersion), Number(b.metadata?.resourceVersion)];
  return Number.isFinite(x) && Number.isFinite(y) && x > y;
}
