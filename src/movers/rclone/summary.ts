/**
 * The short summary of an rclone mover's log for `status.latestMoverStatus.logs` (pure): the
 * mover's own lines (record, apply, errors, result) and rclone's final statistics and errors,
 * without timestamps or file names. Later lines win; bounded in size.
 */
import { DEFAULT_SUMMARY_BYTES, summarizerOf, type SummaryRules } from '../runtime/summary.js';

export { DEFAULT_SUMMARY_BYTES };

/** What an rclone mover's summary keeps (the runtime's engine applies it). */
export const RCLONE_SUMMARY: SummaryRules = {
  rules: [
    { kind: 'bytes', patterns: [/^Transferred:\s+[\d.]+\s*\S*B \/ /], keep: 'last' },
    { kind: 'files', patterns: [/^Transferred:\s+\d+ \/ \d+/], keep: 'last' },
    { kind: 'checks', patterns: [/^Checks:\s+/], keep: 'last' },
    { kind: 'deleted', patterns: [/^Deleted:\s+/], keep: 'last' },
    { kind: 'elapsed', patterns: [/^Elapsed time:\s+/], keep: 'last' },
    {
      kind: 'own',
      patterns: [/^scribe rclone (source|destination): (record|applied|synced|fetched)/],
      keep: 'distinct',
    },
    // Several distinct errors may matter: the last four.
    {
      kind: 'error',
      patterns: [/^scribe rclone (source|destination): error: /, /ERROR\s*:|^Failed to |^CRITICAL|NOTICE: Failed/],
      keep: 'distinct',
      max: 4,
    },
    { kind: 'result', patterns: [/^scribe rclone (source|destination): result: /], keep: 'last' },
  ],
  // rclone's log prefix "2024/01/02 03:04:05 INFO  : " says nothing a summary needs.
  strip: /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? /,
  long: /^scribe rclone (source|destination): result: /,
};

/** Summarizes an rclone mover's log in at most `maxBytes` bytes of UTF-8. */
export const summarizeRcloneLog = summarizerOf(RCLONE_SUMMARY);
