/**
 * Following one manual sync: sets the trigger, then prints the machine's transitions from
 * status.journal with the elapsed time until status.lastManualSync takes the trigger's value.
 */
import type { JournalEntry, ScribeCr } from '../../machines/api.js';
import { compactTimestamp } from '../../machines/time.js';
import type { ScribeKind } from '../inspect/kinds.js';
import { EXIT_FAILURE, EXIT_TIMEOUT, PluginError } from './errors.js';
import { WORKING_STATES, type ReplicationState } from '../../machines/context.js';
import { patchObject, pollUntil, read, type Cluster } from './kube.js';
import { describeProgress, readMoverProgress, type MoverProgress } from './mover-progress.js';

/** Where progress lines go. */
export type Print = (line: string) => void;

/** A fresh manual trigger value; unique per call even within one second. */
export function manualToken(now = Date.now()): string {
  return `kubectl-scribe-${compactTimestamp(now)}-${String(now % 1000).padStart(3, '0')}`;
}

/** Seconds since `start`, as progress shows them. */
/** How often the mover's log is read for progress while it moves (it writes a line every 5 s). */
const PROGRESS_EVERY_MS = 2000;

function elapsed(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)}s`.padStart(7);
}

/** Reads a CR that must exist and be Scribe's to sync. */
async function readSyncable(c: Cluster, kind: ScribeKind, namespace: string, name: string): Promise<ScribeCr> {
  const cr = await read<ScribeCr>(c, kind, namespace, name);
  if (!cr) throw new PluginError(`${kind} ${namespace}/${name} not found (context ${c.context})`);
  if (cr.spec.external) throw new PluginError(`${kind} ${namespace}/${name} is handled by an external provider`);
  return cr;
}

/**
 * Lets a source's running sync finish. A new token does not interrupt a running sync, and that
 * sync's completion takes the token (decision 1), but it copies data from before the command
 * ran, while "set" and "sync" must copy what is there now (the seed scales the application down
 * first). A destination is not waited for: it sits in a cycle until its source connects.
 */
export async function waitForQuiet(
  c: Cluster,
  kind: ScribeKind,
  namespace: string,
  name: string,
  options: { print: Print; timeoutMs: number },
): Promise<void> {
  const busy = (o: ScribeCr) => WORKING_STATES.includes((o.status?.state ?? '') as ReplicationState);
  const cr = await readSyncable(c, kind, namespace, name);
  if (kind !== 'ReplicationSource' || !busy(cr)) return;
  options.print(
    `a sync is running (${cr.status?.state}); waiting for it to finish so the next one copies current data`,
  );
  await pollUntil(
    `the running sync of ${kind} ${namespace}/${name} to finish`,
    () => readSyncable(c, kind, namespace, name),
    (o) => !busy(o),
    options.timeoutMs,
  );
}

/** Sets spec.trigger.manual on a CR once no sync of it is running; returns the token. */
export async function setManualTrigger(
  c: Cluster,
  kind: ScribeKind,
  namespace: string,
  name: string,
  token: string,
  options: { print: Print; timeoutMs: number },
): Promise<string> {
  await waitForQuiet(c, kind, namespace, name, options);
  await patchObject(c, kind, namespace, name, { spec: { trigger: { manual: token } } });
  return token;
}

/** Options of `followSync`. */
export interface FollowOptions {
  timeoutMs: number;
  print: Print;
  intervalMs?: number;
  /**
   * End the wait with exit 1 at the first failed attempt recorded after the trigger was set,
   * instead of following the operator's retries until the timeout.
   */
  failFast?: boolean;
  /** Reads the CR; by default a GET from the cluster (unit tests pass a sequence of statuses). */
  read?: () => Promise<ScribeCr | undefined>;
}

/**
 * Waits until lastManualSync equals `token`, printing each new transition. A failed attempt is
 * reported and followed by the operator's own retry, unless `failFast` is set: then it ends the
 * wait with exit 1, naming the failure. An invalid spec ends the wait with exit 1, and the
 * timeout with exit 2 (naming the last failure, if any).
 */
export async function followSync(
  c: Cluster,
  kind: ScribeKind,
  namespace: string,
  name: string,
  token: string,
  options: FollowOptions,
): Promise<ScribeCr> {
  const start = Date.now();
  const printed = new Set<string>();
  const keyOf = (j: JournalEntry) => `${j.time}|${j.from}|${j.to}|${j.event}`;
  let lastState: string | undefined;
  let lastNote = start;
  let first = true;
  let lastFailure: string | undefined;
  let progress: MoverProgress | undefined;
  let progressRead = 0;
  const readCr = options.read ?? (() => read<ScribeCr>(c, kind, namespace, name));
  for (;;) {
    const cr = await readCr();
    if (!cr) throw new PluginError(`${kind} ${namespace}/${name} disappeared while syncing`);
    const status = cr.status ?? {};
    const journal = status.journal ?? [];
    if (first) {
      // What happened before the trigger is history, not progress.
      for (const j of journal) if (Date.parse(j.time) < start - 1000) printed.add(keyOf(j));
      options.print(`${elapsed(start)}  ${kind} ${namespace}/${name} is ${status.state ?? 'not yet reconciled'}`);
      lastState = status.state;
      first = false;
    }
    for (const j of journal) {
      if (printed.has(keyOf(j))) continue;
      printed.add(keyOf(j));
      options.print(`${elapsed(start)}  ${j.from} → ${j.to}${j.reason ? `  (${j.reason})` : ''}`);
      lastState = j.to;
      lastNote = Date.now();
      if (j.to === 'failed') {
        lastFailure = j.reason || 'the attempt failed';
        if (options.failFast) {
          // The journal's reason is the failure itself; the mover's output (written with the
          // same status update) says why, as it does for an invalid spec.
          const logs = status.latestMoverStatus?.result === 'Failed' ? status.latestMoverStatus.logs : undefined;
          throw new PluginError(
            `sync of ${kind} ${namespace}/${name} failed: ${lastFailure} (--fail-fast: not waiting for the operator's retry; the manual trigger ${token} stays set)${logs ? `\nmover output:\n${logs.trimEnd()}` : ''}`,
            EXIT_FAILURE,
          );
        }
        // The operator retries a failed attempt by itself (with backoff): say so and keep
        // following; the timeout ends the wait if it never succeeds.
        options.print(`${elapsed(start)}  attempt failed; the operator retries: ${lastFailure}`);
      }
      if (j.to === 'invalid') {
        // The Reconciled condition names the field at fault; the journal only says "invalid spec".
        const reconciled = status.conditions?.find((cond) => cond.type === 'Reconciled' && cond.status === 'False');
        const why = reconciled?.message ?? j.reason ?? '';
        const logs = status.latestMoverStatus?.logs;
        throw new PluginError(
          `sync of ${kind} ${namespace}/${name} is invalid: ${why}${logs ? `\nmover output:\n${logs}` : ''}`,
          EXIT_FAILURE,
        );
      }
    }
    if (status.state !== lastState && status.state) {
      lastState = status.state;
      options.print(`${elapsed(start)}  now ${status.state}`);
    }
    if (status.state === 'moving' && Date.now() - progressRead >= PROGRESS_EVERY_MS) {
      progressRead = Date.now();
      const current = await readMoverProgress(c, cr);
      if (current && (current.pod !== progress?.pod || current.elapsedSeconds !== progress.elapsedSeconds)) {
        options.print(`${elapsed(start)}  moving: ${describeProgress(current, progress)}`);
        progress = current;
        lastNote = Date.now();
      }
    }
    if (status.lastManualSync === token) {
      options.print(`${elapsed(start)}  sync complete: ${status.latestMoverStatus?.result ?? 'done'}`);
      if (status.lastSyncDuration) options.print(`  duration: ${status.lastSyncDuration}`);
      if (status.latestMoverStatus?.logs) {
        options.print('  mover summary:');
        for (const line of status.latestMoverStatus.logs.trimEnd().split('\n')) options.print(`    ${line}`);
      }
      return cr;
    }
    if (Date.now() - start > options.timeoutMs) {
      throw new PluginError(
        `timed out after ${Math.round(options.timeoutMs / 1000)}s: ${kind} ${namespace}/${name} is ${status.state ?? 'unknown'}; the manual trigger ${token} stays set${lastFailure ? `; last failure: ${lastFailure}` : ''}`,
        EXIT_TIMEOUT,
      );
    }
    if (Date.now() - lastNote >= 10_000) {
      options.print(`${elapsed(start)}  still ${status.state ?? 'waiting'}`);
      lastNote = Date.now();
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
  }
}
