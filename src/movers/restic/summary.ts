/**
 * The short summary of a restic mover's log for `status.latestMoverStatus.logs` (pure).
 *
 * From restic's `--json` summary objects it renders one line each for the backup (files
 * processed, bytes added, snapshot id, duration) and the restore; it keeps the mover's own
 * result, forget, prune and error lines and restic's `Fatal:` lines. Later lines win, file names
 * never appear, and the whole is bounded in size. The log it reads was already redacted when
 * printed; `redact` is applied again so a summary can never carry a secret the caller knows.
 */
import { jsonObject } from '../runtime/json-line.js';
import { DEFAULT_SUMMARY_BYTES, summarizerOf, type SummaryRules } from '../runtime/summary.js';

export { DEFAULT_SUMMARY_BYTES };

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

/** What a restic mover's summary keeps (the runtime's engine applies it). */
export const RESTIC_SUMMARY: SummaryRules = {
  rules: [
    { kind: 'result', patterns: [/^scribe restic (backup|restore): result: /], keep: 'last' },
    // Several error lines may matter; of the other kinds only the last counts.
    { kind: 'error', patterns: [/^scribe restic (backup|restore): error: /], keep: 'distinct' },
    {
      kind: 'own',
      patterns: [/^scribe restic (backup|restore): (restoring|forget|prune|initialized|removed)/],
      keep: 'last',
    },
    { kind: 'pruned', patterns: [/^scribe restic: lastPruned=/], keep: 'last' },
    { kind: 'fatal', patterns: [/^Fatal: /], keep: 'distinct' },
  ],
  long: /^scribe restic (backup|restore): result: /,
  render: (line) => (line.startsWith('{') ? renderJson(line) : undefined),
};

/** Summarizes a restic mover's log in at most `maxBytes` bytes of UTF-8. */
export const summarizeResticLog = summarizerOf(RESTIC_SUMMARY);

function renderJson(line: string): { kind: string; line: string } | undefined {
  const o = jsonObject(line);
  if (o?.message_type !== 'summary') return undefined;
  return 'snapshot_id' in o || 'data_added' in o
    ? { kind: 'backup', line: backupSummaryLine(o) }
    : { kind: 'restore', line: restoreSummaryLine(o) };
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
