/**
 * The retention policy (spec.restic.retain) and its translation into `restic forget` flags (pure).
 *
 * A count of 0 (or an absent field) sets no rule, as in restic. When no rule is set at all the
 * mover runs no `forget`: every snapshot is kept (restic itself refuses an empty policy, and a
 * missing `retain` must never delete backups).
 */

/** spec.restic.retain: counts per period, plus `within` (e.g. "3w15h"). */
export interface RetainPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  within?: string;
}

const COUNT_FLAGS = [
  ['last', '--keep-last'],
  ['hourly', '--keep-hourly'],
  ['daily', '--keep-daily'],
  ['weekly', '--keep-weekly'],
  ['monthly', '--keep-monthly'],
  ['yearly', '--keep-yearly'],
] as const;

/** The retain fields that are counts, in the order the flags are emitted. */
export const RETAIN_COUNT_FIELDS = COUNT_FLAGS.map(([field]) => field);

const WITHIN = /^(\d+[ywmdh])+$/;

/**
 * restic's form of a `within` duration. restic's units are y, m (months), d and h; the seed's
 * example "3w15h" uses weeks, so each `Nw` becomes `7N` days added to any `d` part.
 * Throws for anything else (an empty string, unknown units, minutes).
 */
export function resticWithin(within: string): string {
  const value = within.trim();
  if (!WITHIN.test(value))
    throw new Error(`retain.within "${within}" must be a duration like 3w15h (units y, m, w, d, h)`);
  const totals = new Map<string, number>();
  for (const [, count, unit] of value.matchAll(/(\d+)([ywmdh])/g)) {
    const [key, factor] = unit === 'w' ? ['d', 7] : [unit as string, 1];
    totals.set(key, (totals.get(key) ?? 0) + Number(count) * factor);
  }
  return ['y', 'm', 'd', 'h']
    .filter((unit) => (totals.get(unit) ?? 0) > 0)
    .map((unit) => `${totals.get(unit)}${unit}`)
    .join('');
}

/** The `restic forget` --keep-* flags for `policy`; empty when the policy keeps everything. */
export function keepFlags(policy: RetainPolicy): string[] {
  const flags: string[] = [];
  for (const [field, flag] of COUNT_FLAGS) {
    const count = policy[field];
    if (count !== undefined && count > 0) flags.push(flag, String(count));
  }
  if (policy.within !== undefined && policy.within.trim() !== '') {
    const within = resticWithin(policy.within);
    // "0d" and the like keep nothing extra; restic would reject an empty duration.
    if (within !== '') flags.push('--keep-within', within);
  }
  return flags;
}
