/**
 * The effects adapter: the only place that turns the machines' decisions (machines/actions.ts)
 * into Kubernetes API calls, Events and metrics. Every call is idempotent, so executing
 * the same decisions twice (after a crash, or a stale cache) does no harm.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Action, EnsurePvcAction, EnsureSnapshotAction } from '../../machines/actions.js';
import type { ScribeCr } from '../../machines/api.js';
import type { MoverFacts } from '../../machines/mover.js';
import { EventReasons, statusMergePatch } from '../../machines/actions.js';
import { DO_NOT_DELETE_LABEL } from '../../machines/observation.js';
import type { EventRecorder } from '../kube/events.js';
import { isStatus, kubeRequest } from '../kube/rest.js';
import { objectPath, RESOURCES, type KindName } from '../kube/resources.js';
import type { Logger } from '../log.js';
import { recordStepMetrics } from '../metrics/record.js';
import type { ScribeMetrics, CrLabels } from '../metrics/registry.js';
import { ExpiringLru } from '../server/lru-cache.js';
import type { MoverRuntime } from '../movers/catalog.js';
import {
  deleteObject,
  deleteUnless,
  ensureObject,
  ownedBy,
  releaseObject,
  type ForeignObject,
  type Owner,
} from './objects.js';

/** What the adapter knows from the caches: the mover's facts, and which owned objects exist ("Kind/name"). */
export type AdapterFacts = MoverFacts & { existing?: ReadonlySet<string> };

/** What executing a list of actions came to. */
export type ExecutionResult =
  /**
   * foreign: objects that hold a name Scribe wanted and are not the CR's; the actions after
   * stopped. requeueAt: observe the CR again by then (epoch ms), even if no watch event comes.
   */
  | { outcome: 'done'; status?: ScribeCr; foreign?: ForeignObject[]; requeueAt?: number }
  | { outcome: 'conflict' } // the CR changed since it was observed: observe again
  | { outcome: 'gone' }; // the CR was deleted meanwhile

/** Collaborators of the adapter. */
export interface AdapterDeps {
  kc: KubeConfig;
  events: EventRecorder;
  metrics: ScribeMetrics;
  movers: readonly MoverRuntime[];
  log: Logger;
  /** The clock of requeueAt (default Date.now). */
  clock?: () => number;
}

/**
 * How soon a CR is observed again after one of its snapshots was released. The released
 * snapshot's watch event wakes no CR (it no longer names an owner), yet the step that follows
 * must see it released: a completing cycle waits for its replaced image to leave its objects.
 */
export const RELEASE_RECHECK_MS = 1000;

/** Whether a VolumeSnapshot as the API server holds it must never be deleted by Scribe (decision 20). */
export function keptByLabel(object: KubernetesObject): boolean {
  return DO_NOT_DELETE_LABEL in (object.metadata?.labels ?? {});
}

/** Executes machine actions for one CR. */
/** How long a Secret the operator ensured is trusted to still exist without asking again. */
export const ENSURED_SECRET_TTL_MS = 10 * 60_000;

export class EffectsAdapter {
  /**
   * Secrets this operator created or adopted for a mover, by owner uid and name. The operator
   * watches no Secrets (least privilege: it may not list them cluster-wide), so without this
   * every cycle would pay a create answered 409 and a read (and new keys made only to be
   * dropped). Remembered for a while, not forever: a cycle's first attempt trusts the memory; a
   * retry asks the API server again, so a Secret deleted meanwhile is made again by the next attempt.
   */
  private readonly ensuredSecrets = new ExpiringLru<true>({ maxEntries: 50_000 });

  constructor(private readonly deps: AdapterDeps) {}

  /**
   * Runs `actions` in order for `cr` (as observed). patchStatus, when present, comes first and
   * carries the observed resourceVersion: if the CR changed meanwhile nothing else runs
   * (write-ahead). A step that starts a cycle by its first objects alone has none (machines/write-ahead.ts).
   */
  async execute(
    cr: ScribeCr,
    actions: readonly Action[],
    facts: AdapterFacts,
    log: Logger = this.deps.log,
  ): Promise<ExecutionResult> {
    let current: ScribeCr = cr;
    let released = false;
    const foreign: ForeignObject[] = [];
    for (const action of actions) {
      // An object of Scribe's name that is not the CR's (issue 21): nothing after it is done (a
      // Job must not mount a foreign Secret); the machine turns the report into a condition.
      if (foreign.length) break;
      switch (action.type) {
        case 'patchStatus': {
          const written = await this.patchStatus(current, action.status);
          if (written.outcome !== 'done') return written;
          current = written.status ?? current;
          break;
        }
        case 'ensurePvc':
          foreign.push(...(await this.ensure(current, 'PersistentVolumeClaim', pvcObject(action), log)));
          break;
        case 'ensureSnapshot':
          foreign.push(...(await this.ensure(current, 'VolumeSnapshot', snapshotObject(action), log)));
          break;
        case 'ensureMover':
          foreign.push(...(await this.ensureMover(current, action.cycleId, action.attempt, action.volume, facts, log)));
          break;
        case 'cleanupMover':
          // The action names the mover: it may be one the spec no longer names (a switch of movers).
          for (const ref of this.moverNamed(action.mover)?.temporaryObjects(current) ?? []) {
            await deleteObject(this.deps.kc, kindName(ref.kind), current.metadata.namespace, ref.name);
          }
          break;
        case 'deleteObject':
          if (action.kind === 'VolumeSnapshot') {
            // The machine decided from a cache; the label is checked again on the object itself.
            const outcome = await deleteUnless(
              this.deps.kc,
              action.kind,
              current.metadata.namespace,
              action.name,
              keptByLabel,
            );
            if (outcome === 'kept' || outcome === 'changed') {
              log.info({ object: `VolumeSnapshot/${action.name}`, outcome }, 'not deleted: labelled or changed since');
            }
          } else {
            await deleteObject(this.deps.kc, action.kind, current.metadata.namespace, action.name);
          }
          break;
        case 'releaseObject': {
          released = true;
          const removed = await releaseObject(
            this.deps.kc,
            action.kind,
            current.metadata.namespace,
            action.name,
            current.metadata.uid ?? '',
          );
          if (removed) {
            log.info({ object: `${action.kind}/${action.name}`, reason: action.reason }, 'released');
            this.deps.events.post(
              current as KubernetesObject,
              {
                type: 'Normal',
                reason: EventReasons.VolumeSnapshotReleased,
                message: `VolumeSnapshot ${action.name} is labelled ${DO_NOT_DELETE_LABEL}: Scribe removed its ownerReference and never deletes it; delete it yourself when it is no longer needed`,
              },
              (error) => log.warn({ err: error.message }, 'could not record event'),
            );
          }
          break;
        }
        case 'emitEvent':
          // Queued, not awaited (EventRecorder.post): the next action does not wait for it.
          this.deps.events.post(
            current as KubernetesObject,
            { type: action.eventType, reason: action.reason, message: action.message },
            (error) => log.warn({ err: error.message, reason: action.reason }, 'could not record event'),
          );
          break;
        case 'recordMetrics':
          this.recordMetrics(cr, current, action);
          break;
      }
    }
    const requeue = released ? { requeueAt: (this.deps.clock ?? Date.now)() + RELEASE_RECHECK_MS } : {};
    if (foreign.length) {
      log.warn({ objects: foreign.map((f) => `${f.kind}/${f.name}`) }, 'not ours: left alone');
      return { outcome: 'done', status: current, foreign, ...requeue };
    }
    return { outcome: 'done', status: current, ...requeue };
  }

  private async patchStatus(cr: ScribeCr, status: object): Promise<ExecutionResult & { status?: ScribeCr }> {
    const resource = RESOURCES[cr.kind];
    try {
      const written = await kubeRequest<ScribeCr>(this.deps.kc, {
        method: 'PATCH',
        path: objectPath(resource, cr.metadata.namespace, cr.metadata.name ?? '', 'status'),
        patchType: 'merge',
        body: {
          metadata: { resourceVersion: cr.metadata.resourceVersion },
          status: statusMergePatch(cr.status, status),
        },
      });
      return { outcome: 'done', status: written };
    } catch (error) {
      if (isStatus(error, 409)) return { outcome: 'conflict' };
      if (isStatus(error, 404)) return { outcome: 'gone' };
      throw error;
    }
  }

  /** Creates the object if absent; returns it as foreign when one of its name exists and is not the CR's. */
  private async ensure(cr: ScribeCr, kind: KindName, object: KubernetesObject, log: Logger): Promise<ForeignObject[]> {
    const owned = ownedBy(ownerOf(cr), object);
    const outcome = await ensureObject(this.deps.kc, kind, owned);
    if (outcome.foreign) return [outcome.foreign];
    if (outcome.created) log.info({ object: `${kind}/${object.metadata?.name}` }, 'created');
    return [];
  }

  private moverFor(cr: ScribeCr): MoverRuntime | undefined {
    return this.deps.movers.find((mover) => mover.matches(cr));
  }

  private moverNamed(kind: string): MoverRuntime | undefined {
    return this.deps.movers.find((mover) => mover.kind === kind);
  }

  private async ensureMover(
    cr: ScribeCr,
    cycleId: string,
    attempt: number,
    volume: string,
    facts: AdapterFacts,
    log: Logger,
  ): Promise<ForeignObject[]> {
    const mover = this.moverFor(cr);
    if (!mover) throw new Error(`no mover handles ${cr.kind} ${cr.metadata.name}`);
    const plan = mover.build(cr, { cycleId, attempt, volume }, facts);
    // Only what the caches do not hold is created (and materialised). A cache that lags only
    // costs a create answered 409: an existing object, generated keys included, is never replaced.
    const secretKey = (name: string) => `${cr.metadata.uid}/${name}`;
    const known = (object: { kind: string; metadata: { name: string } }) =>
      facts.existing?.has(`${object.kind}/${object.metadata.name}`) ||
      (object.kind === 'Secret' && attempt === 0 && this.ensuredSecrets.get(secretKey(object.metadata.name)) === true);
    const missing = plan.objects.filter((object) => !known(object));
    const ready = mover.materialize ? await mover.materialize(missing) : missing;
    for (const object of ready) {
      const kind = kindName(object.kind);
      const foreign = await this.ensure(cr, kind, object as KubernetesObject, log);
      // Objects are made in order (keys, Service, then the Job): none after a foreign one.
      if (foreign.length) return foreign;
      if (kind === 'Secret') this.ensuredSecrets.set(secretKey(object.metadata.name), true, ENSURED_SECRET_TTL_MS);
    }
    // Said once per new mover Job (Events of the same text are counted as one series).
    if (plan.notice && ready.some((object) => object.kind === 'Job')) {
      this.deps.events.post(
        cr as KubernetesObject,
        { type: 'Normal', reason: EventReasons.MoverIdentity, message: plan.notice },
        (error) => log.warn({ err: error.message }, 'could not record event'),
      );
    }
    return [];
  }

  /** `observed` is the CR the step was computed from, `cr` the same CR after this step's status patch. */
  private recordMetrics(observed: ScribeCr, cr: ScribeCr, action: Extract<Action, { type: 'recordMetrics' }>) {
    const labels = metricLabels(cr, this.moverFor(cr)?.kind);
    if (!labels) return;
    recordStepMetrics(this.deps.metrics, labels, observed.status, cr.status, action, cr.metadata.creationTimestamp);
  }
}

/** The labels of a CR's metrics; undefined for CRs without a built-in mover. */
export function metricLabels(cr: ScribeCr, method: string | undefined): CrLabels | undefined {
  if (!method) return undefined;
  return {
    obj_name: cr.metadata.name ?? '',
    obj_namespace: cr.metadata.namespace ?? '',
    role: cr.kind === 'ReplicationSource' ? 'source' : 'destination',
    method,
  };
}

function ownerOf(cr: ScribeCr): Owner {
  return {
    apiVersion: cr.apiVersion,
    kind: cr.kind,
    metadata: { name: cr.metadata.name ?? '', namespace: cr.metadata.namespace ?? '', uid: cr.metadata.uid ?? '' },
  };
}

function kindName(kind: string): KindName {
  if (kind in RESOURCES) return kind as KindName;
  throw new Error(`the effects adapter does not manage objects of kind ${kind}`);
}

/** The PVC an ensurePvc action describes. */
export function pvcObject(action: EnsurePvcAction): KubernetesObject {
  const { spec } = action;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: action.name, labels: action.labels },
    spec: {
      accessModes: spec.accessModes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: String(spec.capacity ?? '1Gi') } },
      ...(spec.storageClassName ? { storageClassName: spec.storageClassName } : {}),
      ...(spec.volumeMode ? { volumeMode: spec.volumeMode } : {}),
      ...(spec.dataSource
        ? {
            dataSource: {
              kind: spec.dataSource.kind,
              name: spec.dataSource.name,
              ...(spec.dataSource.kind === 'VolumeSnapshot' ? { apiGroup: 'snapshot.storage.k8s.io' } : {}),
            },
          }
        : {}),
    },
  } as KubernetesObject;
}

/** The VolumeSnapshot an ensureSnapshot action describes (decision 9: v1, default class when unset). */
export function snapshotObject(action: EnsureSnapshotAction): KubernetesObject {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: { name: action.name, labels: action.labels },
    spec: {
      source: { persistentVolumeClaimName: action.sourcePvc },
      ...(action.volumeSnapshotClassName ? { volumeSnapshotClassName: action.volumeSnapshotClassName } : {}),
    },
  } as KubernetesObject;
}
