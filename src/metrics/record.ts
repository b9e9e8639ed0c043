/**
 * Turns one executed step of a CR (its status before and after, and the machine's recordMetrics
 * action) into metric updates. Everything that can be read from the status is set from it on
 * every step (level-based), so a restarted or newly elected operator reports the same values.
 */
import type { RecordMetricsAction } from '../../machines/actions.js';
import type { ScribeStatus } from '../../machines/api.js';
import { SYNC_RESULTS, type CrLabels, type ScribeMetrics } from './registry.js';

/**
 * Updates `metrics` for one step of a CR: `before` is the status the step observed, `after` what
 * it wrote, `createdAt` the CR's metadata.creationTimestamp (an RFC 3339 string as the API server
 * sends it; typed Date by the client library).
 */
export function recordStepMetrics(
  metrics: ScribeMetrics,
  labels: CrLabels,
  before: ScribeStatus | undefined,
  after: ScribeStatus | undefined,
  action: RecordMetricsAction,
  createdAt?: string | Date,
): void {
  metrics.outOfSync.set(labels, action.outOfSync ? 1 : 0);
  // Touch the counters so their series exist at 0 before the first event: increase() and
  // rate() in alert rules see the first missed interval or failure only against an earlier sample.
  metrics.missedIntervals.inc(labels, 0);
  for (const result of SYNC_RESULTS) metrics.syncsTotal.inc({ ...labels, result }, 0);
  metrics.syncStalled.set(labels, isStalled(after) ? 1 : 0);
  const lastSync = Date.parse(after?.lastSyncTime ?? '');
  if (Number.isFinite(lastSync)) metrics.lastSuccessTimestamp.set(labels, lastSync / 1000);
  // The recovery point alert counts from creation while no sync has succeeded yet.
  const created = createdAt instanceof Date ? createdAt.getTime() : Date.parse(createdAt ?? '');
  if (Number.isFinite(created)) metrics.createdTimestamp.set(labels, created / 1000);
  if (action.completedSync) {
    metrics.syncDuration.observe(labels, action.completedSync.durationSeconds);
    if (action.completedSync.missedInterval) metrics.missedIntervals.inc(labels);
    metrics.syncsTotal.inc({ ...labels, result: 'Successful' });
  }
  if (isNewFailure(before, after)) metrics.syncsTotal.inc({ ...labels, result: 'Failed' });
}

/** Whether the step entered `failed`: from another state, or a retry that failed again within one step. */
export function isNewFailure(before: ScribeStatus | undefined, after: ScribeStatus | undefined): boolean {
  if (after?.state !== 'failed') return false;
  // Each failure sets a new retry time, so a changed retryAfter is a new failure even when the
  // state read `failed` before and after (the retry started and failed within one step).
  return before?.state !== 'failed' || before.cycle?.retryAfter !== after.cycle?.retryAfter;
}

/** Whether the Synchronizing condition says the running sync is stalled. */
export function isStalled(status: ScribeStatus | undefined): boolean {
  const condition = status?.conditions?.find((c) => c.type === 'Synchronizing');
  return condition?.status === 'False' && condition.reason === 'Stalled';
}
