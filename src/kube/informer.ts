/**
 * Informers as rxjs streams: list, then watch from the list's resourceVersion; client-node
 * re-lists on 410 Gone; any other error (the API server restarting, a dropped connection)
 * stops client-node's ListWatch, so it is restarted here with capped exponential backoff.
 */
import type { KubeConfig, KubernetesObject, Informer } from '@kubernetes/client-node';
import { makeInformer } from './client-node.js';
import { BehaviorSubject, Observable, Subject, filter, firstValueFrom } from 'rxjs';
import { collectionPath, type ResourceKind } from './resources.js';
import { kubeRequest } from './rest.js';

/** How long one list-and-watch connection attempt may take before it is retried. */
const CONNECT_TIMEOUT_MS = 30_000;

/** What an informer reports. `synced` follows each completed initial list. */
export type InformerEvent<T extends KubernetesObject> =
  { type: 'added' | 'updated' | 'deleted'; object: T } | { type: 'synced' } | { type: 'error'; error: unknown };

/** Options of one informer. */
export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** A field selector such as spec.nodeName=NAME, applied to the list and the watch. */
  fieldSelector?: string;
  /** Backoff after an error: starts at minDelayMs and doubles up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

interface ListAnswer<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

/**
 * Drops metadata.managedFields, which Scribe never reads, from an object the cache will hold (as
 * controller-runtime's default cache transform does): on objects whose status is written often
 * it is a large part of each, and the caches hold every CR, Job and PVC the operator watches.
 */
function withoutManagedFields<T extends KubernetesObject>(object: T): T {
  if (object.metadata?.managedFields) delete object.metadata.managedFields;
  return object;
}

/** A running informer: a hot stream of events plus the cache client-node keeps. */
export class ResourceInformer<T extends KubernetesObject> {
  readonly events$: Observable<InformerEvent<T>>;
  private readonly subject = new Subject<InformerEvent<T>>();
  private readonly syncedState = new BehaviorSubject(false);
  private readonly informer: Informer<T> & {
    list(namespace?: string): T[];
    get(name: string, namespace?: string): T | undefined;
  };
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    kc: KubeConfig,
    readonly resource: ResourceKind,
    private readonly options: InformerOptions = {},
  ) {
    this.events$ = this.subject.asObservable();
    const path = collectionPath(resource, options.namespace);
    const list = async () => {
      const answer = await kubeRequest<ListAnswer<T>>(kc, {
        method: 'GET',
        path,
        query: { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector },
      });
      // A list response omits kind/apiVersion on items; restore them so objects look watched.
      const apiVersion = resource.group ? `${resource.group}/${resource.version}` : resource.version;
      for (const item of answer.items) {
        Object.assign(item, { apiVersion, kind: resource.kind });
        withoutManagedFields(item);
      }
      return answer as never;
    };
    this.informer = makeInformer<T>(kc, path, list, options.labelSelector) as typeof this.informer;
    // client-node's ListWatch has a fieldSelector property but no constructor argument for it.
    if (options.fieldSelector) Object.assign(this.informer, { fieldSelector: options.fieldSelector });
    // The watched object is the one the cache keeps: stripping it here strips the cache too.
    this.informer.on('add', (object) => this.subject.next({ type: 'added', object: withoutManagedFields(object) }));
    this.informer.on('update', (object) =>
      this.subject.next({ type: 'updated', object: withoutManagedFields(object) }),
    );
    this.informer.on('delete', (object) => this.subject.next({ type: 'deleted', object }));
    this.informer.on('error', (error) => this.onError(error));
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
    await firstValueFrom(this.syncedState.pipe(filter(Boolean)));
  }

  /** Resolves when the cache has been filled at least once. */
  hasSynced(): boolean {
    return this.syncedState.value;
  }

  /** The cached objects, in one namespace or all. */
  list(namespace?: string): T[] {
    return this.informer.list(namespace);
  }

  /** One cached object. */
  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  /** Stops watching and completes the stream. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
    this.subject.complete();
  }

  private async connect(): Promise<void> {
    // client-node's start() waits for the list and for the watch's response headers; an API
    // server that is still starting can hold either forever, so a connection attempt has a
    // deadline after which it counts as failed and is retried.
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.informer.start(), timedOut]);
      clearTimeout(deadline);
      if (this.stopped) return;
      this.failures = 0;
      this.syncedState.next(true);
      this.subject.next({ type: 'synced' });
    } catch (error) {
      clearTimeout(deadline);
      if (!this.stopped) await this.informer.stop();
      this.onError(error);
    }
  }

  private onError(error: unknown): void {
    if (this.stopped) return;
    this.subject.next({ type: 'error', error });
    clearTimeout(this.restartTimer);
    const min = this.options.minDelayMs ?? 200;
    const max = this.options.maxDelayMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** this.failures);
    this.failures++;
    this.restartTimer = setTimeout(() => void this.connect(), delay);
  }
}
