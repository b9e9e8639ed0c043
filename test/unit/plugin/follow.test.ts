/**
 * How `kubectl scribe sync` follows a sync that fails: by default it reports the failed attempt
 * and follows the operator's retries until --timeout (exit 2); with --fail-fast it ends at the
 * first failed attempt of this trigger (exit 1), naming the failure. The CR's successive statuses
 * are handed in as readings (no API server: the e2e suite runs the command against a real one).
 */
import { describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import type { JournalEntry, ScribeCr } from '../../../machines/api.js';
import { EXIT_FAILURE, EXIT_TIMEOUT, PluginError } from '../../../src/plugin/errors.js';
import type { Cluster } from '../../../src/plugin/kube.js';
import { buildProgram } from '../../../src/plugin/program.js';
import { followSync } from '../../../src/plugin/progress.js';

const FAILURE = 'transfer failed: the mover Job failed: rsync exited 255';
const MOVER_LOGS = 'root@127.96.0.1: Permission denied (publickey).\nrsync error: unexplained error (code 255)';

type Status = NonNullable<ScribeCr['status']>;

/**
 * No cluster at all: followSync reads the CR through `read`; the mover progress it looks for
 * while moving finds no cluster in the kubeconfig and is skipped, as a progress read error is.
 */
const NO_CLUSTER: Cluster = { kc: new KubeConfig(), context: 'none', clusterName: 'none', namespace: 'ns' };

/** Readings of the CR: each read returns the next status of `steps` (the last one repeats). */
function readings(steps: ((now: string) => Status)[]): () => Promise<ScribeCr> {
  let count = 0;
  return async () => {
    const step = steps[Math.min(count++, steps.length - 1)] as (now: string) => Status;
    return {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'src', namespace: 'ns' },
      spec: { sourcePVC: 'data', trigger: { manual: 'token' }, rsync: { copyMethod: 'Clone', address: 'x' } },
      status: step(new Date().toISOString()),
    } as ScribeCr;
  };
}

const HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString();
/** A failure of an earlier trigger: history, which never ends a new wait. */
const OLD_FAILURE: JournalEntry = { time: HOUR_AGO, event: 'observe', from: 'moving', to: 'failed', reason: 'old' };

/** idle, then a cycle whose transfer fails (journal and latestMoverStatus in one status update). */
function failingSync(): ((now: string) => Status)[] {
  let journal: JournalEntry[] = [OLD_FAILURE, { time: HOUR_AGO, event: 'observe', from: 'failed', to: 'idle' }];
  const step =
    (to: string, reason: string, extra: Partial<Status> = {}) =>
    (now: string) => {
      const from = journal[journal.length - 1]?.to ?? 'idle';
      if (from !== to) journal = [...journal, { time: now, event: 'observe', from, to, reason }];
      return { state: to, journal, ...extra };
    };
  return [
    () => ({ state: 'idle', journal }),
    step('snapshotting', 'sync due (manual)'),
    step('moving', 'volume ready'),
    step('failed', FAILURE, { latestMoverStatus: { result: 'Failed', logs: MOVER_LOGS } }),
    () => ({ state: 'failed', journal, latestMoverStatus: { result: 'Failed', logs: MOVER_LOGS } }),
  ];
}

async function follow(steps: ((now: string) => Status)[], options: { failFast?: boolean; timeoutMs: number }) {
  const lines: string[] = [];
  const outcome = await followSync(NO_CLUSTER, 'ReplicationSource', 'ns', 'src', 'token', {
    ...options,
    read: readings(steps),
    intervalMs: 20,
    print: (line) => lines.push(line),
  }).then(
    (cr) => ({ cr, error: undefined }),
    (error: unknown) => ({ cr: undefined, error }),
  );
  return { lines, ...outcome };
}

describe('kubectl scribe sync on a failing sync', () => {
  it('by default reports the failed attempt and waits for the retries until the timeout (exit 2)', async () => {
    const { lines, error } = await follow(failingSync(), { timeoutMs: 1000 });
    expect(lines.join('\n')).toMatch(`attempt failed; the operator retries: ${FAILURE}`);
    expect(error).toBeInstanceOf(PluginError);
    expect((error as PluginError).exitCode).toBe(EXIT_TIMEOUT);
    expect((error as PluginError).message).toBe(
      `timed out after 1s: ReplicationSource ns/src is failed; the manual trigger token stays set; last failure: ${FAILURE}`,
    );
  });

  it('with failFast ends at the first failed attempt of this trigger (exit 1), naming it and the mover output', async () => {
    const started = Date.now();
    const { lines, error } = await follow(failingSync(), { failFast: true, timeoutMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(lines.join('\n')).toMatch(/moving → failed {2}\(transfer failed/);
    expect(lines.join('\n')).not.toMatch(/the operator retries/);
    expect(error).toBeInstanceOf(PluginError);
    expect((error as PluginError).exitCode).toBe(EXIT_FAILURE);
    expect((error as PluginError).message).toBe(
      `sync of ReplicationSource ns/src failed: ${FAILURE} (--fail-fast: not waiting for the operator's retry; the manual trigger token stays set)\nmover output:\n${MOVER_LOGS}`,
    );
  });

  it('with failFast ignores failures recorded before the trigger and returns on success', async () => {
    const journal: JournalEntry[] = [OLD_FAILURE];
    const steps: ((now: string) => Status)[] = [
      () => ({ state: 'failed', journal }),
      (now) => ({
        state: 'idle',
        journal: [...journal, { time: now, event: 'observe', from: 'failed', to: 'idle', reason: 'cleaned up' }],
        lastManualSync: 'token',
        latestMoverStatus: { result: 'Successful' },
      }),
    ];
    const { lines, cr, error } = await follow(steps, { failFast: true, timeoutMs: 10_000 });
    expect(error).toBeUndefined();
    expect(cr?.status?.lastManualSync).toBe('token');
    expect(lines.join('\n')).toMatch(/sync complete: Successful/);
  });

  it('documents --fail-fast in the help of sync', () => {
    const sync = buildProgram().commands.find((c) => c.name() === 'sync');
    const help = sync?.helpInformation() ?? '';
    expect(help).toMatch(/--fail-fast\s+exit with code 1 at the first failed attempt/);
    expect(help).toContain('--timeout <duration>');
  });
});
