/**
 * Choosing the snapshot to restore (pure): the newest by default; with restoreAsOf the newest
 * taken at or before that time; with previous N, skip the N newest of those (VolSync's options).
 */

/** The fields of `restic snapshots --json` entries the restore uses. */
export interface SnapshotInfo {
  id: string;
  short_id?: string;
  time: string;
  hostname?: string;
  /** The backed-up paths, absolute (layout.ts). */
  paths?: string[];
  tags?: string[];
}

/** Which snapshot to restore. */
export interface SnapshotSelection {
  restoreAsOf?: Date;
  previous: number;
}

/** Parses `restic snapshots --json` output; throws when it is not a JSON array of snapshots. */
export function parseSnapshots(json: string): SnapshotInfo[] {
  const parsed: unknown = JSON.parse(json.trim() === '' ? '[]' : json);
  if (!Array.isArray(parsed)) throw new Error('restic snapshots --json did not print an array');
  return parsed.filter(
    (s): s is SnapshotInfo =>
      typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.time === 'string',
  );
}

/** The snapshot to restore, or undefined when none matches. */
export function selectSnapshot(
  snapshots: readonly SnapshotInfo[],
  selection: SnapshotSelection,
): SnapshotInfo | undefined {
  const asOf = selection.restoreAsOf?.getTime();
  const candidates = snapshots
    .map((snapshot) => ({ snapshot, time: Date.parse(snapshot.time) }))
    .filter(({ time }) => !Number.isNaN(time) && (asOf === undefined || time <= asOf))
    // Newest first; equal times keep restic's order, which is stable.
    .sort((a, b) => b.time - a.time);
  return candidates[selection.previous]?.snapshot;
}

/** Why nothing was selected, for the error message. */
export function noSnapshotReason(count: number, selection: SnapshotSelection): string {
  if (count === 0) return 'the repository holds no snapshot of this volume yet';
  const asOf = selection.restoreAsOf ? ` taken at or before ${selection.restoreAsOf.toISOString()}` : '';
  return `the repository holds ${count} snapshot(s), but not ${selection.previous + 1} snapshot(s)${asOf} (previous=${selection.previous})`;
}
