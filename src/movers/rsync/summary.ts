/**
 * The short summary of an rsync mover's log for `status.latestMoverStatus.logs` (pure).
 *
 * It keeps whole lines, verbatim: the result and duration lines the entrypoints print, rsync's
 * statistics (`--info=stats2`: files, sizes, bytes sent/received, speedup) and error lines from
 * rsync, ssh, rrsync and the destination. Later lines win over earlier ones (a retried transfer's
 * last attempt counts), so summarizing a log that already contains a summary changes nothing.
 * File names (the itemized changes) are left out; anything that looks like key material is
 * dropped or redacted, although nothing in the log should carry it.
 */

import { RESULT_LINE_MAX } from '../permissions.js';

/** Upper bound of a summary in bytes, as the status field is meant for a short tail. */
export const DEFAULT_SUMMARY_BYTES = 1536;

const MAX_LINE = 240;
/**
 * The result and the entrypoints' own error lines are kept up to what the condition shows
 * (RESULT_LINE_MAX): an unreadable-files failure says its way out and its files there.
 */
const OWN_LINE = /^scribe rsync (source|destination): (result|error): /;
const MAX_ERRORS = 4;

/** The statistics lines kept, most telling first (this order is also the priority under the budget). */
const STAT_PATTERNS: RegExp[] = [
  /^Number of regular files transferred: /,
  /^sent \S+ bytes {2}received \S+ bytes/,
  /^total size is \S+ {2}speedup is /,
  /^Number of files: /,
  /^Number of created files: /,
  /^Number of deleted files: /,
  /^Total file size: /,
  /^Total transferred file size: /,
];

const RESULT = /^scribe rsync (source|destination): result: /;
const DURATION = /^scribe rsync source: rsync finished in /;
const ERROR_PATTERNS: RegExp[] = [
  /^rsync( error| warning)?: /,
  /^\S*rrsync error: /,
  /^ssh: /,
  /^(kex_exchange_identification|Connection (closed|reset|refused)|Host key verification failed|Permission denied)/,
  /^scribe rsync (source|destination): (error: |warning: |refused |cannot )/,
];

/** Summarizes an rsync mover's log (source or destination) in at most `maxBytes` bytes of UTF-8. */
export function summarizeRsyncLog(log: string, maxBytes = DEFAULT_SUMMARY_BYTES): string {
  const lines = log
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/PRIVATE KEY/.test(line))
    .map(sanitize);

  const last = (pattern: RegExp) => lines.findLast((line) => pattern.test(line));
  const result = last(RESULT);
  const duration = last(DURATION);
  const stats = STAT_PATTERNS.map(last);
  const errors = lastDistinct(
    lines.filter((line) => ERROR_PATTERNS.some((p) => p.test(line))),
    MAX_ERRORS,
  );

  // Choose by priority under the budget, then print in reading order.
  const chosen = new Set<string>();
  let used = 0;
  for (const line of [result, duration, ...errors, ...stats]) {
    if (line === undefined || chosen.has(line)) continue;
    const cost = Buffer.byteLength(line, 'utf8') + 1;
    if (used + cost > maxBytes) continue;
    chosen.add(line);
    used += cost;
  }
  const ordered = [result, duration, ...orderedStats(stats), ...errors];
  return ordered.filter((line): line is string => line !== undefined && chosen.delete(line)).join('\n');
}

/** Stats in rsync's own order (as they appear in its output), for a summary that reads naturally. */
function orderedStats(stats: (string | undefined)[]): (string | undefined)[] {
  const rsyncOrder = [3, 4, 5, 0, 6, 7, 1, 2];
  return rsyncOrder.map((i) => stats[i]);
}

/** The last `count` distinct lines, in the order of their last occurrence. */
function lastDistinct(lines: string[], count: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = lines.length - 1; i >= 0 && out.length < count; i--) {
    const line = lines[i] as string;
    if (seen.has(line)) continue;
    seen.add(line);
    out.unshift(line);
  }
  return out;
}

/** Shortens a line and blanks long base64 runs, which could only be key material. */
function sanitize(line: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = line.replace(/[A-Za-z0-9+/]{60,}={0,2}/g, '[redacted]').replace(/[\u0000-\u001f\u007f]/g, '?');
  const max = OWN_LINE.test(clean) ? RESULT_LINE_MAX : MAX_LINE;
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}
