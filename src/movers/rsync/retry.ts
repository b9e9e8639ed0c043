/**
 * Which failed rsync attempts are worth repeating, and how long to wait (pure).
 *
 * A destination that is not up yet, or a connection that broke, is transient: the destination Pod
 * may still be scheduling, pulling its image or getting its Service address. A refused key, a
 * host key that does not match, or rsync failing on the data itself will not change by retrying.
 */
import { tallyFileErrors, unpreservedReport, unreadableReport, type FileErrors } from './unreadable.js';

/** The verdict on one attempt; a success may carry a warning (what the destination could not preserve). */
export type AttemptVerdict =
  | { outcome: 'success'; warning?: string }
  | { outcome: 'retry'; reason: string }
  | { outcome: 'fatal'; reason: string };

/** rsync's "partial transfer due to error": some files or attributes were not transferred. */
const PARTIAL_TRANSFER = 23;

/** rsync exit codes that mean the connection failed or broke (rsync(1), EXIT VALUES; 255 is ssh's). */
const CONNECTION_CODES = new Set([10, 12, 30, 35, 255]);

const FATAL_PATTERNS: [RegExp, string][] = [
  [
    /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known/,
    "the destination's host key does not match destination.pub",
  ],
  [
    // ssh's "Permission denied (publickey)." only: rsync's "Permission denied (13)" is a file the
    // source could not read (unreadable.ts), which a key has nothing to do with.
    /Permission denied \((?!\d+\))/,
    "the destination refused the source's key (source / source.pub do not match the destination's source.pub)",
  ],
  [/scribe rsync destination: (refused|cannot)/, 'the destination refused the command or could not run it'],
  [/rrsync error: /, 'the destination refused the rsync options or path'],
];

/**
 * Classifies an attempt from its exit code, the tail of its output and the file errors rsync
 * reported over the whole run (unreadable.ts; tallied from the tail when not given). Files the
 * source could not read fail the attempt for good; attributes that the destination's user could
 * not set on entries it does not own, when nothing else went wrong, make a success with a warning.
 */
export function classifyAttempt(exitCode: number, output: string, files?: FileErrors): AttemptVerdict {
  if (exitCode === 0) return { outcome: 'success' };
  const fileErrors = files ?? tallyFileErrors(output);
  if (fileErrors.unreadable.count > 0) return { outcome: 'fatal', reason: unreadableReport(fileErrors) };
  if (exitCode === PARTIAL_TRANSFER && fileErrors.unpreserved.count > 0 && fileErrors.other.count === 0)
    return { outcome: 'success', warning: unpreservedReport(fileErrors) };
  for (const [pattern, reason] of FATAL_PATTERNS)
    if (pattern.test(output)) return { outcome: 'fatal', reason: `${reason} (exit code ${exitCode})` };
  const detail = errorCause(output);
  const reason = `exit code ${exitCode}${detail === undefined ? '' : `: ${detail}`}`;
  return CONNECTION_CODES.has(exitCode) ? { outcome: 'retry', reason } : { outcome: 'fatal', reason };
}

/** Delays of capped exponential backoff. */
export interface BackoffPolicy {
  initialSeconds: number;
  maxSeconds: number;
}

/**
 * The source's waits between connection attempts unless SCRIBE_RETRY_* say otherwise: 0.1 s,
 * doubling to 30 s. The usual reason for a refused connection is a destination between two cycles
 * (trigger `always`: preserving its image, then starting its next mover pod), which listens again
 * within a second or two; a first wait of 2 s (the policy until issue 27) made one sync in seven
 * wait for nothing. Short first waits cost little: a refused attempt takes a few tens of
 * milliseconds, and the doubling reaches the 30 s cap within a minute, so a destination that is
 * down for long gets a few more attempts in the deadline than before (19 against 14 in 300 s).
 */
export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = { initialSeconds: 0.1, maxSeconds: 30 };

/** How long the source keeps retrying a destination it cannot reach (5 minutes). */
export const DEFAULT_RETRY_DEADLINE_SECONDS = 300;

/**
 * The wait between the source's attempts to tell the destination the result once the data went
 * (a transient failure of the connection to a destination that is known to be up): as long as
 * the first retry wait was until issue 27, never above the policy's cap.
 */
export function handshakeRetrySeconds(policy: BackoffPolicy): number {
  return Math.min(2, policy.maxSeconds);
}

/** The wait before attempt `attempt + 1` (attempt counts from 1): initial · 2^(attempt-1), capped. */
export function backoffSeconds(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.initialSeconds * 2 ** Math.max(0, attempt - 1), policy.maxSeconds);
}

/**
 * How long to wait before the next attempt, or undefined to give up: waiting must end before the
 * deadline, and a wait is cut short to the deadline so the last attempt still happens in time.
 */
export function nextDelaySeconds(
  attempt: number,
  elapsedSeconds: number,
  deadlineSeconds: number,
  policy: BackoffPolicy,
): number | undefined {
  const remaining = deadlineSeconds - elapsedSeconds;
  if (remaining <= 0) return undefined;
  return Math.min(backoffSeconds(attempt, policy), remaining);
}

/** The most telling error line of ssh or rsync output (the first one, which names the cause). */
export function errorCause(output: string): string | undefined {
  const lines = output.split('\n').map((line) => line.trim());
  const errors = lines.filter((line) =>
    /^(ssh:|rsync:|rsync error:|kex_exchange|Connection |scribe rsync destination:)/.test(line),
  );
  // ssh's own message ("connect to host … Connection refused") says more than rsync's follow-up.
  return errors.find((line) => line.startsWith('ssh:') || line.startsWith('kex_')) ?? errors[0];
}
