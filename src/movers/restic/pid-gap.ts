/**
 * Why a killed mover's restic lock is always recognised as stale by the next attempt.
 *
 * `restic unlock` removes a lock only when it is stale: older than 30 minutes, or made on this
 * host (mover pods have a stable host name for this, mover.ts) by a PID that is not running
 * here. But every mover pod is a new PID namespace that numbers its processes the same way, so
 * the PID a killed attempt's restic had is often in use again while the next attempt's unlock
 * runs (a thread of node or of the unlock itself): the lock is then kept, for 30 minutes, and
 * every step needing an exclusive lock (forget, prune) or conflicting with it fails meanwhile.
 * (Seen in 3 of 12 kill-and-retry rounds in the local runtime's sandboxes.)
 *
 * The mover therefore leaves a gap of PIDs after opening (and unlocking) the repository, before
 * the first restic call that takes a lock: every lock it can leave behind then carries a PID far
 * above anything alive when the next attempt, which starts the same way, runs its unlock.
 */
import { spawnSync } from 'node:child_process';

/** How many PIDs lie between the opening unlock and the first lock-taking restic call. */
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
