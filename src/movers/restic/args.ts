/**
 * The argument lists of every restic command the mover runs, computed from its configuration
 * (pure, unit-tested). Secrets never appear here: restic reads them from the environment.
 */
import { join } from 'node:path';
import { backupTarget, LOST_AND_FOUND, type BackupTarget } from './layout.js';
import { keepFlags, type RetainPolicy } from './retain.js';

/** What the argument lists depend on. */
export interface ResticArgsConfig {
  /** The volume's mount point (absolute); see layout.ts for how backups read it. */
  dataDir: string;
  /** restic's metadata cache (the cache PVC). */
  cacheDir: string;
  /** Host name recorded in snapshots; a constant, because each mover Pod has a different host name. */
  host: string;
  limitUploadKiB?: number;
  limitDownloadKiB?: number;
  /** customCA's bundle, trusted besides the system's (--cacert). */
  caCert?: string;
}

function globalFlags(config: ResticArgsConfig): string[] {
  const flags = ['--cache-dir', config.cacheDir];
  if (config.limitUploadKiB !== undefined) flags.push('--limit-upload', String(config.limitUploadKiB));
  if (config.limitDownloadKiB !== undefined) flags.push('--limit-download', String(config.limitDownloadKiB));
  if (config.caCert !== undefined) flags.push('--cacert', config.caCert);
  return flags;
}

/** `restic init`. */
export function initArgs(config: ResticArgsConfig): string[] {
  return ['init', ...globalFlags(config)];
}

/**
 * `restic unlock`: removes stale locks only (a live restic's lock stays). The movers open the
 * repository with it: exit 10 means it does not exist, 12 a wrong password.
 */
export function unlockArgs(config: ResticArgsConfig): string[] {
  return ['unlock', ...globalFlags(config)];
}

/**
 * `restic backup`, run in `target.cwd` on `target.path` (layout.ts: `.` from the data directory,
 * or the data directory itself from its parent when the volume is empty). The exclude must be
 * the absolute path: restic matches excludes against absolute paths even for a relative target.
 * `--json` without `--quiet`: restic then prints JSON status lines (how often:
 * RESTIC_PROGRESS_FPS, status.ts) and a JSON summary, and nothing else on stdout.
 */
export function backupArgs(
  config: ResticArgsConfig,
  target: BackupTarget = backupTarget(config.dataDir, false),
): string[] {
  return [
    'backup',
    target.path,
    '--host',
    config.host,
    ...target.tags.flatMap((tag) => ['--tag', tag]),
    '--exclude',
    join(config.dataDir, LOST_AND_FOUND),
    '--json',
    ...globalFlags(config),
  ];
}

/**
 * `restic forget` with the retention policy, or undefined when the policy keeps everything.
 * Grouped by host only: the data directory's absolute path (part of restic's default grouping)
 * differs between mover Pods on the local runtime, and one repository serves one volume.
 */
export function forgetArgs(config: ResticArgsConfig, retain: RetainPolicy): string[] | undefined {
  const keep = keepFlags(retain);
  if (keep.length === 0) return undefined;
  return ['forget', '--host', config.host, '--group-by', 'host', ...keep, ...globalFlags(config)];
}

/**
 * `restic forget <id>`: one snapshot, whatever the policy (an incomplete backup's: a snapshot that
 * missed unreadable files is never left for a restore to pick).
 */
export function forgetSnapshotArgs(config: ResticArgsConfig, id: string): string[] {
  return ['forget', id, ...globalFlags(config)];
}

/** `restic prune`. */
export function pruneArgs(config: ResticArgsConfig): string[] {
  return ['prune', ...globalFlags(config)];
}

/** `restic snapshots --json` for this volume's snapshots. */
export function snapshotsArgs(config: ResticArgsConfig): string[] {
  return ['snapshots', '--json', '--host', config.host, ...globalFlags(config)];
}

/** How a restore treats the files already in the volume. */
export interface RestoreOptions {
  /**
   * enableFileDeletion: delete files the snapshot lacks (`--delete`), so the volume equals the
   * snapshot. Without it they are kept (decision 20): the volume may be the user's own PVC.
   */
  deleteExtraFiles: boolean;
}

/**
 * `restic restore <source>` into the data directory, where the source is a snapshot id or
 * `<id>:/<dir>` (layout.ts, restoreSource). lost+found belongs to the file system and is
 * neither restored nor deleted. --sparse keeps holes as holes. `--json` without `--quiet`, as
 * for the backup: status lines and a summary.
 */
export function restoreArgs(config: ResticArgsConfig, source: string, options: RestoreOptions): string[] {
  return [
    'restore',
    source,
    '--target',
    config.dataDir,
    ...(options.deleteExtraFiles ? ['--delete'] : []),
    '--sparse',
    '--exclude',
    `/${LOST_AND_FOUND}`,
    '--json',
    ...globalFlags(config),
  ];
}
