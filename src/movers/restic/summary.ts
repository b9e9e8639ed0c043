/**
 * The short summary of a restic mover's log for `status.latestMoverStatus.logs` (pure).
 *
 * From restic's `--json` summary objects it renders one line each for the backup (files
 * processed, bytes added, snapshot id, duration) and the restore; it keeps the mover's own
 * result, forget, prune and error lines and restic's `Fatal:` lines. Later lines win, file names
 * never appear, and the whole is bounded in size. The log it reads was already redacted when
 * printed; `redact` is applied again so a summary can never carry a secret the caller knows.
 */
import { RESULT_LINE_MAX } from '../permissions.js';

/** Upper bound of a summary in bytes, as the status field is meant for a short tail. */
export const DEFAULT_SUMMARY_BYTES = 1536;

const MAX_LINE = 240;

/** Human-readable byte count (binary units, as restic prints them). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${units[unit]}`;
}

type Json = Record<string, unknown>;
const num = (o: Json, key: string) => (typeof o[key] === 'number' ? (o[key] as number) : 0);

/** One line for a `restic backup --json` summary object. */
export function backupSummaryLine(o: Json): string {
  const id = typeof o.snapshot_id === 'string' ? o.snapshot_id.slice(0, 8) : '(none)';
  return (
    `backup: snapshot ${id}; ${num(o, 'total_files_processed')} files (${formatBytes(num(o, 'total_bytes_processed'))}) processed: ` +
    `${num(o, 'files_new')} new, ${num(o, 'files_changed')} changed, ${num(o, 'files_unmodified')} unmodified; ` +
    `added ${formatBytes(num(o, 'data_added'))} (${formatBytes(num(o, 'data_added_packed'))} stored); ` +
    `took ${num(o, 'total_duration').toFixed(1)}s`
  );
}

/** One line for a `restic restore --json` summary object. */
export function restoreSummaryLine(o: Json): string {
  return (
    `restore: ${num(o, 'files_restored')} of ${num(o, 'total_files')} files restored ` +
    `(${formatBytes(num(o, 'bytes_restored'))} of ${formatBytes(num(o, 'total_bytes'))}), ` +
    `${num(o, 'files_skipped')} unchanged, ${num(o, 'files_deleted')} deleted` +
    (typeof o.seconds_elapsed === 'number' ? `; took ${o.seconds_elapsed}s` : '')
  );
}

const KEPT = [
  /^scribe restic (backup|restore): result: /,
  /^scribe restic (backup|restore): error: /,
  /^scribe restic (backup|restore): (restoring|forget|prune|initialized|removed)/,
  /^scribe restic: lastPruned=/,
  /^Fatal: /,
];

/** Summarizes a restic mover's log in at most `maxBytes` bytes of UTF-8. */
export function summarizeResticLog(
  log: string,
  redact: (text: string) => string = (t) => t,
  maxBytes = DEFAULT_SUMMARY_BYTES,
): string {
  const picked: { key: string; line: string }[] = [];
  for (const raw of log.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('{')) {
      const rendered = renderJson(line);
      if (rendered) picked.push(rendered);
      continue;
    }
    const pattern = KEPT.findIndex((p) => p.test(line));
    // Several error lines may matter; of the other kinds only the last counts.
    if (pattern >= 0) picked.push({ key: pattern === 1 || pattern === 4 ? line : `kind${pattern}`, line });
  }
  // Later lines win: keep the last of each key, in reading order.
  const lastIndex = new Map(picked.map(({ key }, i) => [key, i]));
  const lines = picked.filter(({ key }, i) => lastIndex.get(key) === i).map(({ line }) => clip(redact(line)));
  // Drop the oldest lines until the summary fits, but always keep the result (the last line).
  while (lines.length > 1 && Buffer.byteLength(lines.join('\n'), 'utf8') > maxBytes) lines.splice(0, 1);
  return lines.join('\n');
}

function renderJson(line: string): { key: string; line: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const o = parsed as Json;
  if (o.message_type !== 'summary') return undefined;
  return 'snapshot_id' in o || 'data_added' in o
    ? { key: 'backup', line: backupSummaryLine(o) }
    : { key: 'restore', line: restoreSummaryLine(o) };
}

/** Counts of `restic forget --json` output: snapshots kept and removed over all groups. */
export function forgetCounts(json: string): { kept: number; removed: number } {
  try {
    const groups = JSON.parse(json) as { keep?: unknown[]; remove?: unknown[] | null }[];
    return {
      kept: groups.reduce((n, g) => n + (g.keep?.length ?? 0), 0),
      removed: groups.reduce((n, g) => n + (g.remove?.length ?? 0), 0),
    };
  } catch {
    return { kept: 0, removed: 0 };
  }
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

const RESULT = /^scribe restic (backup|restore): result: /;
