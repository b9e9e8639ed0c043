/**
 * restic's own progress, read from its `--json` output (pure): `backup` and `restore` print a
 * `"message_type":"status"` object every 1/RESTIC_PROGRESS_FPS seconds with running totals, and
 * one `"message_type":"summary"` object at the end (a run shorter than the interval prints only
 * the summary). The mover turns these into its `scribe progress:` lines (../runtime/progress.ts).
 *
 * What counts: for a backup, the files and bytes restic has read so far (files_done,
 * bytes_done; in the summary total_files_processed, total_bytes_processed), unchanged files
 * included, since restic reads or at least checks each one; for a restore, the files (and
 * directories) and bytes written so far (files_restored, bytes_restored), files already equal
 * in the volume excluded.
 */
import { jsonObject } from '../runtime/json-line.js';

/**
 * restic's status lines per second, set in the environment of `backup` and `restore`: one line
 * every 5 s, as often as the mover writes its own progress line. (Without it restic prints no
 * status at all when its output is not a terminal.)
 */
export const RESTIC_PROGRESS_FPS = '0.2';

/** One of restic's progress objects: running totals (`status`) or the final ones (`summary`). */
export interface ResticTotals {
  kind: 'status' | 'summary';
  files: number;
  bytes: number;
}

const FIELDS = {
  backup: { status: ['files_done', 'bytes_done'], summary: ['total_files_processed', 'total_bytes_processed'] },
  restore: { status: ['files_restored', 'bytes_restored'], summary: ['files_restored', 'bytes_restored'] },
} as const;

/**
 * The totals in one line of `restic backup|restore --json` output, or undefined for any other
 * line. restic leaves out fields that are zero, so a missing count is 0.
 */
export function resticTotals(line: string, command: 'backup' | 'restore'): ResticTotals | undefined {
  const text = line.trim();
  const o = text.startsWith('{') ? jsonObject(text) : undefined;
  if (!o) return undefined;
  const kind = o.message_type;
  if (kind !== 'status' && kind !== 'summary') return undefined;
  const [filesKey, bytesKey] = FIELDS[command][kind];
  const count = (key: string) => (typeof o[key] === 'number' && Number.isFinite(o[key]) ? o[key] : 0);
  return { kind, files: count(filesKey), bytes: count(bytesKey) };
}
