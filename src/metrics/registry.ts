/**
 * Scribe's Prometheus metrics with the seed's names, types, labels and HELP texts, plus the
 * process's default metrics. One registry per operator process.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { WindowedSummary } from './windowed-summary.js';

/**
 * How often the nodejs_eventloop_lag_* metrics sample the event loop. prom-client's default, 10 ms,
 * is a timer that wakes the process a hundred times a second forever: measured, it was most of
 * an idle operator's CPU (about 250 ms per idle minute). Once a second still shows a blocked
 * loop in the percentiles.
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

/** The labels every Scribe metric carries (seed: "Available metrics"). */
export interface CrLabels {
  obj_name: string;
  obj_namespace: string;
  role: 'source' | 'destination';
  method: string;
}

const LABELS = ['obj_name', 'obj_namespace', 'role', 'method'] as const;

/**
 * Syncs per CR that scribe_sync_duration_seconds' quantiles cover at most: a day of syncs every
 * six minutes; 4 KiB per CR.
 */
export const SYNC_DURATION_SAMPLES = 256;

/** The values of scribe_syncs_total's `result` label. */
export const SYNC_RESULTS = ['Successful', 'Failed'] as const;
export type SyncResult = (typeof SYNC_RESULTS)[number];

/** The operator's metrics. */
export class ScribeMetrics {
  readonly registry = new Registry();
  readonly missedIntervals = new Counter({
    name: 'scribe_missed_intervals_total',
    help: 'The number of times a synchronization failed to complete before the next scheduled start',
    labelNames: LABELS,
    registers: [this.registry],
  });
  /** A summary of bounded memory per CR (see windowed-summary.ts for why not prom-client's Summary). */
  readonly syncDuration = new WindowedSummary({
    name: 'scribe_sync_duration_seconds',
    help: 'Duration of the synchronization interval in seconds',
    labelNames: LABELS,
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 24 * 60 * 60,
    maxSamples: SYNC_DURATION_SAMPLES,
    registers: [this.registry],
  });
  readonly outOfSync = new Gauge({
    name: 'scribe_volume_out_of_sync',
    help: 'Set to 1 if the volume is not properly synchronized',
    labelNames: LABELS,
    registers: [this.registry],
  });
  readonly syncsTotal = new Counter({
    name: 'scribe_syncs_total',
    help: 'Finished synchronizations by result (Successful or Failed)',
    labelNames: [...LABELS, 'result'],
    registers: [this.registry],
  });
  readonly lastSuccessTimestamp = new Gauge({
    name: 'scribe_last_successful_sync_timestamp_seconds',
    help: 'Unix time of the last successful synchronization; time() minus this is the recovery point age',
    labelNames: LABELS,
    registers: [this.registry],
  });
  /** Where the recovery point age counts from while a CR has never synced successfully. */
  readonly createdTimestamp = new Gauge({
    name: 'scribe_replication_created_timestamp_seconds',
    help: 'Unix time the ReplicationSource or ReplicationDestination was created (metadata.creationTimestamp)',
    labelNames: LABELS,
    registers: [this.registry],
  });

  readonly syncStalled = new Gauge({
    name: 'scribe_sync_stalled',
    help: 'Set to 1 while a synchronization makes no progress (condition Synchronizing=False, reason Stalled)',
    labelNames: LABELS,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    }
  }

  /** Forgets every series of a CR that no longer exists. */
  forget(labels: CrLabels): void {
    for (const metric of [
      this.missedIntervals,
      this.syncDuration,
      this.outOfSync,
      this.lastSuccessTimestamp,
      this.createdTimestamp,
      this.syncStalled,
    ]) {
      metric.remove(labels);
    }
    for (const result of SYNC_RESULTS) this.syncsTotal.remove({ ...labels, result });
  }
}
