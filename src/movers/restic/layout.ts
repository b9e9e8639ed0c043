/**
 * How a volume is laid out in a restic snapshot, and so what a backup reads and a restore
 * writes back.
 *
 * A volume with content is backed up as `restic backup .` from its mount point: the snapshot's
 * root holds the volume's files, as VolSync's snapshots do, and a plain
 * `restic restore latest --target DIR` gives them back as they were.
 *
 * An empty volume cannot be backed up that way: restic refuses to save a snapshot with nothing
 * at its root ("snapshot is empty", restic issue 3760, still so in 0.19, with no flag to allow
 * it), and a volume holding only lost+found, which is excluded, is the same. The ways around it
 * that others take are all wrong here: a placeholder file would have to be written into the
 * source volume, which a backup only ever reads (decision 16: it is mounted read-only), and it
 * would come back with every restore; skipping the backup (VolSync) leaves an older snapshot as
 * the latest, so a restore would bring back files the volume no longer has. Instead the backup
 * names the volume's directory from its parent (`restic backup data` in `/`): the snapshot's
 * root then holds one entry, the volume's directory, whatever it contains, and restic still
 * reads nothing but the volume. Such a snapshot carries the tag VOLUME_DIR_TAG, and its restore
 * writes back the contents of that directory (`restic restore <id>:/data`), which for an empty
 * volume is nothing. Non-empty volumes keep the `.` layout, so only the case restic cannot store
 * otherwise differs.
 *
 * With enableFileDeletion, restoring an empty volume must empty the target, but
 * `restic restore --delete` of an empty tree deletes nothing: restic 0.19 deletes a directory's
 * extra entries when it leaves a directory it restored something into, and the root of an empty
 * tree has nothing (restorer.go, traverseTree). The restore then reports zero files in total,
 * and the mover deletes the entries itself (emptyVolume), as restic would have.
 */
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { ConfigError } from '../runtime/env.js';

/** The tag of a snapshot whose root holds the volume's directory rather than its contents. */
export const VOLUME_DIR_TAG = 'scribe-volume-dir';

/** The volume's file system debris: never backed up, never restored, never deleted. */
export const LOST_AND_FOUND = 'lost+found';

/** What `restic backup` is run on: the working directory, the path argument, extra flags. */
export interface BackupTarget {
  cwd: string;
  path: string;
  tags: string[];
}

/**
 * True when the volume holds nothing but lost+found (or nothing at all), so that `backup .`
 * would have nothing to save. A directory that cannot be listed counts as not empty: restic
 * then reads it and reports why it cannot.
 */
export function isEmptyVolume(dataDir: string): boolean {
  try {
    return readdirSync(dataDir).every((name) => name === LOST_AND_FOUND);
  } catch {
    return false;
  }
}

/** The backup's target for a volume mounted at `dataDir` (absolute), empty or not (see above). */
export function backupTarget(dataDir: string, empty: boolean): BackupTarget {
  if (!empty) return { cwd: dataDir, path: '.', tags: [] };
  const parent = dirname(dataDir);
  if (parent === dataDir)
    throw new ConfigError(`the data directory ${dataDir} (SCRIBE_DATA_DIR) has no parent to back it up from`);
  return { cwd: parent, path: basename(dataDir), tags: [VOLUME_DIR_TAG] };
}

/** The fields of a snapshot that say how it is laid out (from `restic snapshots --json`). */
export interface SnapshotLayout {
  id: string;
  paths?: string[];
  tags?: string[];
}

/**
 * What `restic restore` is given for `snapshot`: its id, or `<id>:/<dir>` for a snapshot whose
 * root holds the volume's directory. restic records the backed-up path as an absolute path, and
 * the directory sits at the root under its base name (the path argument was relative).
 */
export function restoreSource(snapshot: SnapshotLayout): string {
  if (!snapshot.tags?.includes(VOLUME_DIR_TAG)) return snapshot.id;
  const recorded = snapshot.paths?.[0];
  if (recorded === undefined || recorded === '')
    throw new Error(`snapshot ${snapshot.id} is tagged ${VOLUME_DIR_TAG} but records no path`);
  return `${snapshot.id}:/${posix.basename(recorded)}`;
}

/**
 * True when a `restic restore --json` output's summary says the restored tree held nothing at all
 * (`total_files`, which counts directories too, left out when zero). False when there is no
 * summary: nothing is deleted on doubt.
 */
export function restoredTreeWasEmpty(stdout: string): boolean {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as { message_type?: unknown; total_files?: unknown };
      if (parsed.message_type === 'summary') return (parsed.total_files ?? 0) === 0;
    } catch {
      // not one of restic's JSON lines
    }
  }
  return false;
}

/** Deletes every entry of the volume but lost+found; returns the names deleted, sorted. */
export function emptyVolume(dataDir: string): string[] {
  const names = readdirSync(dataDir)
    .filter((name) => name !== LOST_AND_FOUND)
    .sort();
  for (const name of names) rmSync(join(dataDir, name), { recursive: true, force: true });
  return names;
}
