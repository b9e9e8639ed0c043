/**
 * Volume modes and ownership as the kubelet applies them. SetVolumeOwnership is
 * k8s.io/kubernetes pkg/volume/volume_linux.go (VolumeOwnership.ChangePermissions,
 * changeFilePermission, requiresPermissionChange, walkDeep); the emptyDir setup is
 * pkg/volume/emptydir/empty_dir.go (SetUpAt, setupDir, setupTmpfs).
 */
import type { Stats } from 'node:fs';
import { chmod, lchown, lstat, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** volume_linux.go `rwMask`: added to every file and directory of a writable volume. */
export const RW_MASK = 0o660;
/** volume_linux.go `roMask`: added instead of rwMask when the volume plugin says ReadOnly. */
export const RO_MASK = 0o440;
/** volume_linux.go `execMask`: added to directories so the group can traverse them. */
export const EXEC_MASK = 0o110;
/** os.ModeSetgid as chmod(2) spells it: new files in the directory inherit its group. */
export const SETGID = 0o2000;
/** empty_dir.go `perm`: the emptyDir directory, chmodded explicitly because of the umask. */
export const EMPTY_DIR_MODE = 0o777;
/**
 * The root of a fresh tmpfs (the kernel's default `mode=1777`): what an emptyDir of medium
 * Memory, and the memory emptyDir behind secret/configMap/downwardAPI/projected volumes, look
 * like once empty_dir.go's setupTmpfs mounts tmpfs without a mode option over the 0777 dir.
 */
export const TMPFS_ROOT_MODE = 0o1777;

/** The pod's fsGroup settings for one volume, as the kubelet's MounterArgs carry them. */
export interface OwnershipOptions {
  /** pod.spec.securityContext.fsGroup; nothing changes without it. */
  fsGroup?: number;
  /** The volume plugin's GetAttributes().ReadOnly (roMask instead of rwMask). */
  readOnly: boolean;
  /** pod.spec.securityContext.fsGroupChangePolicy; only PVC plugins pass it (others pass nil). */
  changePolicy?: string;
}

/** SetVolumeOwnership (VolumeOwnership.ChangePermissions) on the tree at `dir`. */
export async function setVolumeOwnership(dir: string, options: OwnershipOptions): Promise<void> {
  const { fsGroup, readOnly } = options;
  if (fsGroup === undefined) return;
  if (options.changePolicy === 'OnRootMismatch' && !(await requiresPermissionChange(dir, fsGroup, readOnly))) return;
  await walkDeep(dir, (path, stats) => changeFilePermission(path, stats, fsGroup, readOnly));
}

/** changeFilePermission: group to fsGroup, then the masks (and setgid + g+x on directories). */
async function changeFilePermission(path: string, stats: Stats, fsGroup: number, readOnly: boolean): Promise<void> {
  // The kubelet logs a failed Lchown or Chmod and goes on; so does this.
  await lchown(path, -1, fsGroup).catch(() => undefined);
  // chmod follows symlinks: it would rewrite the target's mode with the link's 0777.
  if (stats.isSymbolicLink()) return;
  let mask = readOnly ? RO_MASK : RW_MASK;
  if (stats.isDirectory()) mask |= SETGID | EXEC_MASK;
  await chmod(path, (stats.mode & 0o7777) | mask).catch(() => undefined);
}

/**
 * requiresPermissionChange (for OnRootMismatch): false only when the root is a directory of
 * group fsGroup, with setgid and at least the mask's bits plus execMask.
 */
export async function requiresPermissionChange(root: string, fsGroup: number, readOnly: boolean): Promise<boolean> {
  const stats = await stat(root).catch(() => undefined);
  if (!stats || stats.gid !== fsGroup || !stats.isDirectory()) return true;
  const wanted = (readOnly ? RO_MASK : RW_MASK) | EXEC_MASK;
  return (stats.mode & wanted) !== wanted || (stats.mode & SETGID) === 0;
}

/** walkDeep: every entry without following links, children before their directory. */
async function walkDeep(path: string, visit: (path: string, stats: Stats) => Promise<void>): Promise<void> {
  const stats = await lstat(path);
  if (stats.isDirectory()) {
    for (const name of await readdir(path)) await walkDeep(join(path, name), visit);
  }
  await visit(path, stats);
}

/** How an emptyDir is set up. */
export interface EmptyDirOptions {
  /** emptyDir.medium: "" (the node's disk) or "Memory". */
  medium?: string;
  fsGroup?: number;
  /**
   * The plugin's "ready" file: once written, a later set-up of the same volume does nothing
   * (SetUpAt returns early when IsReady and the directory exists), so files the containers
   * created are not walked again. Omitted for the memory emptyDir wrapped by secret and
   * friends, which this agent rebuilds from scratch each time.
   */
  readyFile?: string;
}

/** emptyDir SetUpAt: the directory (0777, or a tmpfs root's 1777), then the fsGroup. */
export async function setUpEmptyDir(dir: string, options: EmptyDirOptions): Promise<void> {
  if (options.readyFile && (await exists(options.readyFile)) && (await exists(dir))) return;
  await mkdir(dir, { recursive: true, mode: EMPTY_DIR_MODE });
  // No tmpfs is mounted here (the pod's teardown would have to unmount it): the directory
  // takes the mode the tmpfs root would show instead.
  await chmod(dir, options.medium === 'Memory' ? TMPFS_ROOT_MODE : EMPTY_DIR_MODE);
  // emptyDir's GetAttributes().ReadOnly is false, and it passes no fsGroupChangePolicy.
  await setVolumeOwnership(dir, { fsGroup: options.fsGroup, readOnly: false });
  if (options.readyFile) {
    await mkdir(dirname(options.readyFile), { recursive: true });
    await writeFile(options.readyFile, '');
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
