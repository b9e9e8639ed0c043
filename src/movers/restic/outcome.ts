/**
 * The restic mover's exit codes and the messages for restic's failures (pure). restic ≥ 0.17
 * reports "repository does not exist" (10), "failed to lock" (11) and "wrong password" (12) with
 * their own exit codes, which is what lets the backup tell a missing repository (initialize it)
 * from a wrong password or a broken connection (never a reason to initialize).
 */
import { listUnreadable, unreadableMessage } from '../permissions.js';
import { lastErrorLine as lastToolErrorLine } from '../runtime/summary.js';

/** Exit codes of the restic entrypoints. */
export const EXIT = {
  ok: 0,
  /** Configuration error, or a restic failure without a more specific code. */
  failed: 1,
  /** restic read only part of the data (some files unreadable): its incomplete snapshot is forgotten. */
  partialBackup: 3,
  /** Restore: no snapshot matches (an empty repository, or restoreAsOf/previous select nothing). */
  noSnapshot: 4,
  /** The repository does not exist (restore only; the backup initializes it). */
  noRepository: 10,
  /** The repository is locked by a live (or recent) restic process. */
  locked: 11,
  /** The password does not open the repository. */
  wrongPassword: 12,
  /** The repository's back end did not answer within SCRIBE_REPOSITORY_TIMEOUT_SECONDS. */
  unreachable: 124,
} as const;

/** What a restic failure means for the mover. */
export interface Failure {
  code: number;
  message: string;
}

/**
 * The last meaningful error line restic printed (its `Fatal:` line, else the last line). With
 * `--json` (backup, forget) restic prints its errors as JSON objects; their message is read out.
 */
export function lastErrorLine(stderr: string): string {
  return lastToolErrorLine(stderr, jsonErrorMessage);
}

/** The first line of the message of restic's `exit_error` or `error` JSON object; undefined for anything else. */
function jsonErrorMessage(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as { message_type?: string; message?: unknown; error?: { message?: unknown } };
    const message = parsed.message_type === 'exit_error' ? parsed.message : parsed.error?.message;
    return typeof message === 'string' ? message.split('\n')[0]?.trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A failure caused by files the mover's user may not read: the way out and the files first (the
 * condition's message is cut after about 300 characters), restic's own words after them.
 */
function resticUnreadable(step: string, stderr: string, consequence: string): string {
  return unreadableMessage(`restic ${step}`, unreadableFiles(stderr) ?? lastErrorLine(stderr), consequence);
}

/**
 * The files restic could not read, from its JSON `error` objects ("open /data/x: permission
 * denied"), for a failure that names them; undefined when it printed none.
 */
export function unreadableFiles(stderr: string): string | undefined {
  return listUnreadable(
    stderr
      .split('\n')
      .filter((line) => line.trim().startsWith('{') && line.includes('"message_type":"error"'))
      .map((line) => jsonErrorMessage(line.trim()))
      .filter((message): message is string => Boolean(message)),
  );
}

/** Explains a failed restic `step` from its exit status and stderr. */
export function explainFailure(step: string, status: number, stderr: string, timedOut: boolean): Failure {
  const detail = lastErrorLine(stderr);
  if (timedOut)
    return {
      code: EXIT.unreachable,
      // restic's retry lines repeat the step; the cause is what follows "retrying after …:".
      message: `restic ${step}: no answer from the repository within SCRIBE_REPOSITORY_TIMEOUT_SECONDS: ${detail.replace(/^.*retrying after [^:]*: /, '')}`,
    };
  switch (status) {
    case 10:
      return { code: EXIT.noRepository, message: `restic ${step}: the repository does not exist: ${detail}` };
    case 11:
      return {
        code: EXIT.locked,
        message: `restic ${step}: the repository is locked by another restic process that is still alive (stale locks are removed automatically): ${detail}`,
      };
    case 12:
      return {
        code: EXIT.wrongPassword,
        message: `restic ${step}: wrong password: RESTIC_PASSWORD does not open this repository (it is never re-initialized): ${detail}`,
      };
    case 3:
      return {
        code: EXIT.partialBackup,
        message: resticUnreadable(step, stderr, 'the incomplete snapshot is not kept'),
      };
    default:
      return {
        // Killed by a signal (128+n) keeps its code, as a shell would report it.
        code: status >= 128 ? status : EXIT.failed,
        // Nothing readable at all ends in "snapshot is empty": the unreadable files are the cause.
        message: unreadableFiles(stderr)
          ? resticUnreadable(step, stderr, `restic exited ${status}: ${detail}`)
          : `restic ${step} failed with exit code ${status}: ${detail}`,
      };
  }
}
