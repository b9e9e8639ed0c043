/**
 * Why a killed mover's restic lock is recognised as stale by the next attempt.
 *
 * `restic unlock` removes a lock only when it is stale: older than 30 minutes, or made on this
 * host (mover pods have a stable host name for this, mover.ts) by a PID that is not running
 * here. But every mover pod is a new PID namespace that numbers its processes the same way, so
 * the PID a killed attempt's restic had is often in use again while the next attempt's unlock
 * runs (a thread of node or of the unlock itself): the lock is then kept, for 30 minutes, and
 * every step needing an exclusive lock (forget, prune) or conflicting with it fails meanwhile.
 * (Seen in 3 of 12 kill-and-retry rounds in the local runtime's sandboxes.)
 *
 * So a gap of PIDs separates an unlock from the lock-taking calls around it:
 * - the destination opens the repository with unlock, then leaves a gap before its first
 *   lock-taking call, so every lock it can leave carries a PID far above anything alive when
 *   the next attempt, which starts the same way, runs its unlock;
 * - the source unlocks only when a call failed on a lock (session.ts), after a gap of a random
 *   size: the attempt that was killed made the same calls in the same order, so a fixed gap
 *   could put the unlock on the very PID of the lock it judges, in every attempt alike.
 */
import { spawnSync } from 'node:child_process';

/** How many PIDs lie between an unlock and the lock-taking restic calls on the other side of it (at least). */
export const PID_GAP = 128;

/**
 * Uses up `gap` PIDs: bash (the image's, as bin/scribe's) forks that many subshells that exit at
 * once (a few milliseconds in all). A failure is reported through `log`, not thrown: the run
 * itself does not depend on it.
 */
export function leavePidGap(log: (message: string) => void, gap = PID_GAP): void {
  const result = spawnSync('bash', ['-c', `for ((i = 0; i < ${gap}; i++)); do ( : ); done`], { stdio: 'ignore' });
  if (result.error || result.status !== 0)
    log(
      `could not leave a gap of PIDs (${result.error?.message ?? `bash exited with ${result.status}`}); a lock left if this run is killed may outlive it by 30 minutes`,
    );
}
