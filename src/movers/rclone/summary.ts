/**
 * The short summary of an rclone mover's log for `status.latestMoverStatus.logs` (pure): the
 * mover's own lines (record, apply, errors, result) and rclone's final statistics and errors,
 * without timestamps or file names. Later lines win; bounded in size.
 */
import { RESULT_LINE_MAX } from '../permissions.js';

/** Upper bound of a summary in bytes. */
export const DEFAULT_SUMMARY_BYTES = 1536;

const MAX_LINE = 240;

const KINDS: [string, RegExp][] = [
  ['bytes', /^Transferred:\s+[\d.]+\s*\S*B \/ /],
  ['files', /^Transferred:\s+\d+ \/ \d+/],
  ['checks', /^Checks:\s+/],
  ['deleted', /^Deleted:\s+/],
  ['elapsed', /^Elapsed time:\s+/],
  ['own', /^scribe rclone (source|destination): (record|applied|synced|fetched)/],
  ['error', /^scribe rclone (source|destination): error: /],
  ['error', /ERROR\s*:|^Failed to |^CRITICAL|NOTICE: Failed/],
  ['result', /^scribe rclone (source|destination): result: /],
];

/** Summarizes an rclone mover's log in at most `maxBytes` bytes of UTF-8. */
export function summarizeRcloneLog(
  log: string,
  redact: (text: string) => string = (t) => t,
  maxBytes = DEFAULT_SUMMARY_BYTES,
): string {
  const picked: { key: string; line: string }[] = [];
  for (const raw of log.split(/\r?\n/)) {
    // rclone's log prefix "2024/01/02 03:04:05 INFO  : " says nothing a summary needs.
    const line = raw.replace(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? /, '').trim();
    if (line === '') continue;
    const kind = KINDS.find(([, pattern]) => pattern.test(line));
    if (!kind) continue;
    // Several distinct errors may matter (the last four); of the other kinds only the last counts.
    picked.push({ key: kind[0] === 'error' || kind[0] === 'own' ? line : kind[0], line });
  }
  const lastIndex = new Map(picked.map(({ key }, i) => [key, i]));
  const chosen = picked.filter(({ key }, i) => lastIndex.get(key) === i);
  const errors = chosen.filter(({ line }) => KINDS.some(([k, p]) => k === 'error' && p.test(line)));
  const dropErrors = new Set(errors.slice(0, Math.max(0, errors.length - 4)));
  const lines = chosen.filter((c) => !dropErrors.has(c)).map(({ line }) => clip(redact(line)));
  while (lines.length > 1 && Buffer.byteLength(lines.join('\n'), 'utf8') > maxBytes) lines.splice(0, 1);
  return lines.join('\n');
}

/**
 * A line without control characters, cut at MAX_LINE; the result line at RESULT_LINE_MAX, as
 * much as the condition shows of it (a failure's way out and the files it names, ../permissions.ts).
 */
function clip(line: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = line.replace(/[\u0000-\u001f\u007f]/g, '?');
  const max = RESULT.test(clean) ? RESULT_LINE_MAX : MAX_LINE;
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

const RESULT = /^scribe rclone (source|destination): result: /;
