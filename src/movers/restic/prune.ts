/**
 * When to prune (pure). Pruning repacks the repository and is expensive, so it runs only when
 * pruneIntervalDays have passed since the last prune; the operator keeps the last prune time in
 * status and passes it in, the mover reports a new one with a machine-readable line.
 */

/** Default of spec.restic.pruneIntervalDays (as in VolSync). */
export const DEFAULT_PRUNE_INTERVAL_DAYS = 7;

const DAY_MS = 24 * 3600 * 1000;

/** True when a prune is due at `now`: never pruned (no time known), or the interval has passed. */
export function isPruneDue(lastPruned: Date | undefined, intervalDays: number, now: Date): boolean {
  if (lastPruned === undefined) return true;
  return now.getTime() - lastPruned.getTime() >= intervalDays * DAY_MS;
}

/** The line the source prints after a successful prune, for the operator to store as status.restic.lastPruned. */
export function lastPrunedLine(when: Date): string {
  return `scribe restic: lastPruned=${when.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}

/** The time in a `lastPruned=` line of `log` (the last one), or undefined. */
export function parseLastPruned(log: string): Date | undefined {
  const match = [...log.matchAll(/^scribe restic: lastPruned=(\S+)$/gm)].pop();
  return match ? new Date(match[1] as string) : undefined;
}
