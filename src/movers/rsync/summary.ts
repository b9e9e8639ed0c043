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

import { DEFAULT_SUMMARY_BYTES, summarize, type SummaryRules } from '../runtime/summary.js';

export { DEFAULT_SUMMARY_BYTES };

/** The statistics lines kept, most telling first (this order is also the priority under the budget). */
const STAT_PATTERNS: [string, RegExp][] = [
  ['transferred', /^Number of regular files transferred: /],
  ['sent', /^sent \S+ bytes {2}received \S+ bytes/],
  ['total', /^total size is \S+ {2}speedup is /],
  ['files', /^Number of files: /],
  ['created', /^Number of created files: /],
  ['deleted', /^Number of deleted files: /],
  ['size', /^Total file size: /],
  ['transferred-size', /^Total transferred file size: /],
];

/** What an rsync mover's summary keeps (the runtime's engine applies it). */
export const RSYNC_SUMMARY: SummaryRules = {
  rules: [
    { kind: 'result', patterns: [/^scribe rsync (source|destination): result: /], keep: 'last' },
    { kind: 'duration', patterns: [/^scribe rsync source: rsync finished in /], keep: 'last' },
    ...STAT_PATTERNS.map(([kind, pattern]) => ({ kind, patterns: [pattern], keep: 'last' as const })),
    {
      kind: 'error',
      patterns: [
        /^rsync( error| warning)?: /,
        /^\S*rrsync error: /,
        /^ssh: /,
        /^(kex_exchange_identification|Connection (closed|reset|refused)|Host key verification failed|Permission denied)/,
        /^scribe rsync (source|destination): (error: |warning: |refused |cannot )/,
      ],
      keep: 'distinct',
      max: 4,
    },
  ],
  drop: /PRIVATE KEY/,
  blankBase64: true,
  // The result and the entrypoints' own error lines are kept up to what the condition shows: an
  // unreadable-files failure says its way out and its files there.
  long: /^scribe rsync (source|destination): (result|error): /,
  budget: {
    priority: ['result', 'duration', 'error', ...STAT_PATTERNS.map(([kind]) => kind)],
    // Stats in rsync's own order (as they appear in its output), for a summary that reads naturally.
    order: [
      'result',
      'duration',
      'files',
      'created',
      'deleted',
      'transferred',
      'size',
      'transferred-size',
      'sent',
      'total',
      'error',
    ],
  },
};

/** Summarizes an rsync mover's log (source or destination) in at most `maxBytes` bytes of UTF-8. */
export function summarizeRsyncLog(log: string, maxBytes = DEFAULT_SUMMARY_BYTES): string {
  return summarize(log, RSYNC_SUMMARY, undefined, maxBytes);
}
