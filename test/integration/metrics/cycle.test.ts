/**
 * Metric values follow a sync cycle: the real machine (machines/step.ts) is stepped through
 * observations as the controller would, and each step's statuses and recordMetrics action go
 * through recordStepMetrics, the function the effects adapter calls. No API server needed.
 */
import { describe, expect, it } from 'vitest';
import type { RecordMetricsAction } from '../../../machines/actions.js';
import type { ReplicationSource } from '../../../machines/api.js';
import type { OwnedObjects } from '../../../machines/observation.js';
import { recordStepMetrics } from '../../../src/metrics/record.js';
import { ScribeMetrics, type CrLabels } from '../../../src/metrics/registry.js';
import { owned, pvc, source, stepAsOperator, T0 } from '../../unit/machines/fixtures.js';
import { sample } from './support.js';

const labels: CrLabels = { obj_name: 'db', obj_namespace: 'ns', role: 'source', method: 'rsync' };

const world = {
  clean: () => owned(),
  pit: (id: string) => owned({ pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })] }),
  succeeded: (id: string, attempt = 0) =>
    owned({
      pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })],
      mover: { phase: 'succeeded', cycleId: id, attempt, logs: 'sent 3 files' },
    }),
  failed: (id: string, attempt = 0) =>
    owned({
      pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })],
      mover: { phase: 'failed', cycleId: id, attempt, message: 'exit 12: connection refused' },
    }),
};

/** Steps a CR as the controller does and records each step's metrics as the adapter does. */
function operator(initial: ReplicationSource) {
  const metrics = new ScribeMetrics({ defaultMetrics: false });
  let cr = initial;
  return {
    metrics,
    get cr() {
      return cr;
    },
    step(now: number, seen: OwnedObjects) {
      // A cycle started by its Job alone is followed by the step that sees it (machines/write-ahead.ts).
      const result = stepAsOperator(cr, { now, owned: seen });
      const action = result.actions.find((a): a is RecordMetricsAction => a.type === 'recordMetrics');
      if (action) {
        recordStepMetrics(metrics, labels, cr.status, result.nextPersisted, action, cr.metadata.creationTimestamp);
      }
      cr = { ...cr, status: result.nextPersisted };
      return result;
    },
    async value(name: string, extra: Record<string, string> = {}) {
      return sample(await metrics.registry.metrics(), name, { ...labels, ...extra });
    },
  };
}

/** `cr` as the API server sends it: metadata.creationTimestamp an RFC 3339 string (typed Date by the client). */
function createdAt<T extends ReplicationSource>(cr: T, timestamp: string | Date): T {
  return { ...cr, metadata: { ...cr.metadata, creationTimestamp: timestamp as Date } };
}

describe('metrics over a sync cycle', () => {
  it('out of sync while failing, 0 after completion; duration, results and the last success recorded', async () => {
    const op = operator(source({ trigger: { schedule: '*/5 * * * *' } }));
    op.step(T0, world.clean());
    // Nothing is in sync before the first sync has completed (issue 7).
    expect(await op.value('scribe_volume_out_of_sync')).toBe(1);
    expect(await op.value('scribe_missed_intervals_total')).toBe(0);
    expect(await op.value('scribe_syncs_total', { result: 'Failed' })).toBe(0);
    expect(await op.value('scribe_last_successful_sync_timestamp_seconds')).toBeUndefined();
    const id = op.cr.status?.cycle?.id ?? '';
    op.step(T0 + 1000, world.pit(id));

    // The mover fails: an error prevents syncing (decision 8), one failure counted.
    const failed = op.step(T0 + 2000, world.failed(id, 0));
    expect(failed.state).toBe('failed');
    expect(await op.value('scribe_volume_out_of_sync')).toBe(1);
    expect(await op.value('scribe_syncs_total', { result: 'Failed' })).toBe(1);
    // Observed again while waiting for the retry: not a new failure.
    op.step(T0 + 3000, world.pit(id));
    expect(await op.value('scribe_syncs_total', { result: 'Failed' })).toBe(1);

    const retryAt = Date.parse(op.cr.status?.cycle?.retryAfter ?? '');
    expect(op.step(retryAt, world.pit(id)).state).toBe('moving');
    const done = op.step(retryAt + 2000, world.succeeded(id, 1));
    expect(done.state).toBe('complete');
    expect(await op.value('scribe_volume_out_of_sync')).toBe(0);
    expect(await op.value('scribe_sync_duration_seconds_count')).toBe(1);
    expect(await op.value('scribe_sync_duration_seconds_sum')).toBeCloseTo((retryAt + 2000 - T0) / 1000, 3);
    expect(await op.value('scribe_syncs_total', { result: 'Successful' })).toBe(1);
    expect(await op.value('scribe_last_successful_sync_timestamp_seconds')).toBe(
      Date.parse(op.cr.status?.lastSyncTime ?? '') / 1000,
    );
    expect(await op.value('scribe_missed_intervals_total')).toBe(0);
  });

  it('a schedule deadline missed: out of sync from the deadline, one missed interval counted at completion', async () => {
    const op = operator(source({ trigger: { schedule: '*/5 * * * *' } }));
    op.step(T0, world.clean());
    let id = op.cr.status?.cycle?.id ?? '';
    op.step(T0 + 1000, world.pit(id));
    op.step(T0 + 2000, world.succeeded(id)); // completes 00:00:32
    op.step(T0 + 3000, world.clean());
    expect(await op.value('scribe_volume_out_of_sync')).toBe(0);

    const start = Date.parse('2024-01-01T00:05:00Z');
    op.step(start, world.clean());
    id = op.cr.status?.cycle?.id ?? '';
    op.step(start + 1000, world.pit(id));
    // Still running at the second cron time after the previous completion (decision 14).
    op.step(Date.parse('2024-01-01T00:10:00Z'), world.pit(id));
    expect(await op.value('scribe_volume_out_of_sync')).toBe(1);
    expect(await op.value('scribe_missed_intervals_total')).toBe(0);

    op.step(Date.parse('2024-01-01T00:10:30Z'), world.succeeded(id));
    expect(await op.value('scribe_volume_out_of_sync')).toBe(0);
    expect(await op.value('scribe_missed_intervals_total')).toBe(1);
    expect(await op.value('scribe_sync_duration_seconds_count')).toBe(2);
    expect(await op.value('scribe_syncs_total', { result: 'Successful' })).toBe(2);
  });

  it('a stalled sync sets scribe_sync_stalled until progress resumes', async () => {
    const op = operator(source({ trigger: {} }));
    op.step(T0, world.clean());
    const id = op.cr.status?.cycle?.id ?? '';
    op.step(T0 + 1000, world.pit(id));
    expect(await op.value('scribe_sync_stalled')).toBe(0);
    // The mover never appears: no progress in `moving` for 10 minutes.
    op.step(T0 + 11 * 60_000, owned({ pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: id })] }));
    expect(op.cr.status?.conditions?.find((c) => c.type === 'Synchronizing')?.reason).toBe('Stalled');
    expect(await op.value('scribe_sync_stalled')).toBe(1);
    op.step(T0 + 11 * 60_000 + 1000, world.succeeded(id));
    expect(await op.value('scribe_sync_stalled')).toBe(0);
  });

  it('reports the creation time from the first step, so the recovery point age of a CR that never synced is known', async () => {
    const created = '2023-12-31T22:00:00Z';
    const op = operator(createdAt(source({ trigger: { schedule: '*/5 * * * *' } }), created));
    op.step(T0, world.clean());
    expect(await op.value('scribe_replication_created_timestamp_seconds')).toBe(Date.parse(created) / 1000);
    expect(await op.value('scribe_last_successful_sync_timestamp_seconds')).toBeUndefined();

    // Failing: still no success, the creation time still there (the alert counts from it).
    const id = op.cr.status?.cycle?.id ?? '';
    op.step(T0 + 1000, world.pit(id));
    expect(op.step(T0 + 2000, world.failed(id, 0)).state).toBe('failed');
    expect(await op.value('scribe_replication_created_timestamp_seconds')).toBe(Date.parse(created) / 1000);
    expect(await op.value('scribe_last_successful_sync_timestamp_seconds')).toBeUndefined();

    // After the first success both are exported; the creation time does not move.
    const retryAt = Date.parse(op.cr.status?.cycle?.retryAfter ?? '');
    op.step(retryAt, world.pit(id));
    expect(op.step(retryAt + 2000, world.succeeded(id, 1)).state).toBe('complete');
    expect(await op.value('scribe_last_successful_sync_timestamp_seconds')).toBe(
      Date.parse(op.cr.status?.lastSyncTime ?? '') / 1000,
    );
    expect(await op.value('scribe_replication_created_timestamp_seconds')).toBe(Date.parse(created) / 1000);
  });

  it('takes a creation time typed Date, and exports none for a CR without one', async () => {
    const created = new Date('2023-06-01T12:00:00Z');
    const dated = operator(createdAt(source({ trigger: {} }), created));
    dated.step(T0, world.clean());
    expect(await dated.value('scribe_replication_created_timestamp_seconds')).toBe(created.getTime() / 1000);

    const undated = operator(source({ trigger: {} }));
    undated.step(T0, world.clean());
    expect(await undated.value('scribe_volume_out_of_sync')).toBe(0);
    expect(await undated.value('scribe_replication_created_timestamp_seconds')).toBeUndefined();
  });

  it('forgets every series of a deleted CR', async () => {
    const op = operator(createdAt(source({ trigger: { schedule: '*/5 * * * *' } }), '2023-12-31T22:00:00Z'));
    op.step(T0, world.clean());
    expect(await op.value('scribe_replication_created_timestamp_seconds')).toBeDefined();
    op.metrics.forget(labels);
    expect(await op.metrics.registry.metrics()).not.toContain('obj_name="db"');
  });
});
