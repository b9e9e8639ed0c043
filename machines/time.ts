/** Time as the machines handle it: epoch milliseconds in, RFC 3339 strings in status. */

/** Epoch milliseconds of a Date, a number or an RFC 3339 string; undefined for absent or unparsable input. */
export function toMs(time: Date | number | string | undefined): number | undefined {
  if (time === undefined) return undefined;
  if (typeof time === 'number') return Number.isFinite(time) ? time : undefined;
  if (time instanceof Date) return toMs(time.getTime());
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * RFC 3339 in UTC as status shows it. Whole seconds print as Kubernetes prints metav1.Time
 * ("2021-01-14T19:43:07Z"); sub-second parts are kept so durations computed from them stay exact.
 */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** YYYYMMDDhhmmss in UTC, the suffix of destination snapshot names in the seed. */
export function compactTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}
