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

/** Records Events for a regarding object; keeps a per-object series of identical events. */
export class EventRecorder {
  private readonly series = new Map<string, { name: string; namespace: string; count: number }>();

  constructor(
    private readonly kc: KubeConfig,
    private readonly instance = process.env.HOSTNAME ?? 'scribe',
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Records `event` about `regarding`. Failures are returned, never thrown: events are best effort. */
  async record(regarding: KubernetesObject, event: EventSpec): Promise<Error | undefined> {
    const namespace = regarding.metadata?.namespace ?? 'default';
    const key = `${regarding.metadata?.uid}/${event.type}/${event.reason}/${event.message}`;
    const now = this.clock()
      .toISOString()
      .replace(/\.(\d{3})Z$/, '.$1000Z');
    try {
      const existing = this.series.get(key);
      if (existing) {
        existing.count++;
        await kubeRequest(this.kc, {
          method: 'PATCH',
          path: objectPath(RESOURCES.Event, existing.namespace, existing.name),
          patchType: 'merge',
          body: { series: { count: existing.count, lastObservedTime: now } },
        });
        return undefined;
      }
      const name = `${regarding.metadata?.name ?? 'scribe'}.${randomBytes(8).toString('hex')}`;
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
      return undefined;
    } catch (error) {
      // A series whose Event expired (TTL) starts again as a new Event next time.
      if (isStatus(error, 404)) this.series.delete(key);
      return error instanceof Error ? error : new Error(String(error));
    }
  }
}
