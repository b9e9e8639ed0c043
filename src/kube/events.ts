/**
 * Records Kubernetes Events (events.k8s.io/v1) about Scribe's objects, so `kubectl describe`
 * and `kubectl get events` tell users what happened. Repeats of the same event within a
 * series are counted on the existing Event instead of creating a new one each time.
 */
import { randomBytes } from 'node:crypto';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { isStatus, kubeRequest } from './rest.js';
import { collectionPath, objectPath, RESOURCES } from './resources.js';

/** Normal for progress, Warning for anything a user should look at. */
export type EventType = 'Normal' | 'Warning';

/** One event to record. */
export interface EventSpec {
  type: EventType;
  reason: string;
  message: string;
  /** A short verb for what Scribe did, e.g. "Reconcile", "Create". */
  action?: string;
}

const REPORTING_CONTROLLER = 'scribe.backube/scribe';

/**
 * How many series the recorder remembers, the most recently recorded kept (client-go's event
 * correlator keeps 4096 too). Messages carry per-cycle details, so an unbounded map grew by
 * every cycle's Events (~14 MiB of heap over 8,000 cycles at 1,000 CRs); a series that falls
 * out only starts a new Event the next time it repeats.
 */
export const MAX_SERIES = 4096;

/**
 * Events waiting to be sent at most; more are dropped, as client-go's event broadcaster drops
 * them. A burst of triggers on 1,000 CRs queues ~3,400 (about 300 bytes each).
 */
export const MAX_PENDING_EVENTS = 8192;

/**
 * Events sent at the same time at most: few, as they share the API server with the status and
 * Job writes that the cycles wait for. One at a time (as client-go's recorder sends them) did not
 * lower the burst latency in bench/controller.ts, and left a backlog of thousands of Events
 * after 1,000 CRs' first syncs, which kept the operator's idle RSS above 200 MiB.
 */
const EVENT_CONCURRENCY = 4;

/** Events sent at the same time at most while held (see hold): a trickle, so none waits for good. */
const HELD_EVENT_CONCURRENCY = 1;

/** An Event waiting in the queue. */
interface PendingEvent {
  regarding: KubernetesObject;
  event: EventSpec;
  /** When it happened: the Event's time, however long it waits to be sent. */
  at: Date;
  onError: (error: Error) => void;
}

/** Records Events for a regarding object; keeps a per-object series of identical events. */
export class EventRecorder {
  private readonly series = new Map<string, { name: string; namespace: string; count: number }>();
  private readonly pending: PendingEvent[] = [];
  private inFlight = 0;
  /** While true Events are sent one at a time; the others wait in `pending` (see hold). */
  private held = false;
  private readonly sentWaiters: Array<() => void> = [];

  constructor(
    private readonly kc: KubeConfig,
    private readonly instance = process.env.HOSTNAME ?? 'scribe',
    private readonly clock: () => Date = () => new Date(),
    private readonly maxSeries = MAX_SERIES,
    private readonly maxPending = MAX_PENDING_EVENTS,
  ) {}

  /**
   * Queues `event` about `regarding` and returns at once. A reconcile does not wait for its Events:
   * their round trips (about three per cycle) would sit in front of the objects the cycle needs,
   * the mover Job a trigger asks for first of all. Failures, and a drop when MAX_PENDING_EVENTS
   * are already waiting, go to `onError`.
   */
  post(regarding: KubernetesObject, event: EventSpec, onError: (error: Error) => void): void {
    if (this.pending.length >= this.maxPending) {
      onError(new Error(`${this.maxPending} Events are already waiting to be sent; this one was dropped`));
      return;
    }
    // Only what the Event names: a queued CR snapshot would hold its whole status meanwhile.
    const { apiVersion, kind, metadata } = regarding;
    const { name, namespace, uid, resourceVersion } = metadata ?? {};
    this.pending.push({
      regarding: { apiVersion, kind, metadata: { name, namespace, uid, resourceVersion } },
      event,
      at: this.clock(),
      onError,
    });
    this.pump();
  }

  /**
   * Holds queued Events back (true: one at a time) or lets them go (false). The controller holds
   * them while triggered CRs wait for their mover Jobs: on a busy API server each Event sent then
   * is a request in front of those Jobs, and an Event loses nothing by arriving a few seconds later
   * (it keeps the time it happened). One still goes at a time, so a steady stream of triggers
   * never stops them. Posting goes on meanwhile, within MAX_PENDING_EVENTS.
   */
  hold(held: boolean): void {
    this.held = held;
    if (!held) this.pump();
  }

  /** Events queued and not yet being sent. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Resolves once every queued Event has been sent or has failed. */
  whenSent(): Promise<void> {
    if (this.inFlight === 0 && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.sentWaiters.push(resolve));
  }

  private pump(): void {
    const limit = this.held ? HELD_EVENT_CONCURRENCY : EVENT_CONCURRENCY;
    while (this.inFlight < limit && this.pending.length > 0) {
      const { regarding, event, at, onError } = this.pending.shift() as PendingEvent;
      this.inFlight++;
      void this.record(regarding, event, at).then((error) => {
        this.inFlight--;
        if (error) onError(error);
        this.pump();
      });
    }
    if (this.inFlight === 0 && this.pending.length === 0) this.sentWaiters.splice(0).forEach((resolve) => resolve());
  }

  /** Records `event` about `regarding` now. Failures are returned, never thrown: events are best effort. */
  async record(regarding: KubernetesObject, event: EventSpec, at: Date = this.clock()): Promise<Error | undefined> {
    const namespace = regarding.metadata?.namespace ?? 'default';
    const key = `${regarding.metadata?.uid}/${event.type}/${event.reason}/${event.message}`;
    const now = at.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    try {
      const existing = this.series.get(key);
      if (existing) {
        // Move it to the newest end: the map's insertion order is the eviction order.
        this.series.delete(key);
        this.series.set(key, existing);
        existing.count++;
        await kubeRequest(this.kc, {
          method: 'PATCH',
          path: objectPath(RESOURCES.Event, existing.namespace, existing.name),
          patchType: 'merge',
          body: { series: { count: existing.count, lastObservedTime: now } },
        });
        return undefined;
      }
      const name = eventName(regarding.metadata?.name ?? 'scribe', randomBytes(8).toString('hex'));
      await kubeRequest(this.kc, {
        method: 'POST',
        path: collectionPath(RESOURCES.Event, namespace),
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name, namespace },
          eventTime: now,
          type: event.type,
          reason: event.reason,
          note: event.message.slice(0, 1024),
          action: event.action ?? 'Reconcile',
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.instance.slice(0, 128),
          regarding: {
            apiVersion: regarding.apiVersion,
            kind: regarding.kind,
            name: regarding.metadata?.name,
            namespace,
            uid: regarding.metadata?.uid,
            resourceVersion: regarding.metadata?.resourceVersion,
          },
        },
      });
      this.series.set(key, { name, namespace, count: 1 });
      if (this.series.size > this.maxSeries) this.series.delete(this.series.keys().next().value as string);
      return undefined;
    } catch (error) {
      // A series whose Event expired (TTL) starts again as a new Event next time.
      if (isStatus(error, 404)) this.series.delete(key);
      return error instanceof Error ? error : new Error(String(error));
    }
  }
}

/** Longest name of an object (a DNS subdomain). */
const MAX_NAME = 253;

/**
 * An Event's name: the object's name, a dot and `suffix`, as kubectl shows them. The object's
 * name is shortened when both would not fit (a CR named at the 253-character limit still gets
 * its Events), and never left ending in "." or "-", which a DNS subdomain may not have there.
 */
export function eventName(objectName: string, suffix: string): string {
  const room = MAX_NAME - suffix.length - 1;
  const prefix = objectName.length <= room ? objectName : objectName.slice(0, room).replace(/[.-]+$/, '');
  return `${prefix}.${suffix}`;
}
