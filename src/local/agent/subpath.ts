/**
 * A volume mount's subPath as the kubelet resolves it (kubelet_pods.go makeMounts and
 * pkg/volume/util/subpath): the expanded subPath may be neither absolute nor hold a `..`
 * component; a missing subPath is created directory by directory inside the volume without
 * following a symlink out of it (doSafeMakeDir); then the subPath is opened component by
 * component, each without following a symlink (safeOpenSubPath), and the container gets a bind
 * mount of that open file descriptor (/proc/<pid>/fd/<n>), not of the path, made under the pod's
 * directory (volume-subpaths/<volume>/<container>/<index>, as the kubelet's): a container that
 * swaps a directory of the path for a symlink after the check mounts nothing of the host.
 *
 * Openat and mkdirat, which Node does not have, are their /proc/self/fd/<n>/<name> forms: the
 * kernel resolves /proc/self/fd/<n> to the directory that descriptor holds open.
 */
import { constants, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { isAbsolute, dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from './env.js';
import { unmountUnder } from './files.js';

const run = promisify(execFile);

/** open(2)'s O_PATH on Linux (Node does not export it): a descriptor that only names a file. */
const O_PATH = 0o10000000;
const NOFOLLOW_DIR = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_DIRECTORY;

/** A subPath opened inside its volume: mount `source`, then `close()` once no container needs it. */
export interface OpenSubPath {
  /** /proc/<this process>/fd/<n>: the opened file or directory, whatever its path becomes. */
  source: string;
  isDirectory: boolean;
  close(): Promise<void>;
}

/** The kubelet's refusals of an expanded subPath (makeMounts), as CreateContainerConfigError. */
export function checkSubPath(subPath: string): void {
  if (isAbsolute(subPath)) throw new ConfigError(`error SubPath \`${subPath}\` must not be an absolute path`);
  if (subPath.split(/[\\/]/).includes('..')) {
    throw new ConfigError(`unable to provision SubPath \`${subPath}\`: must not contain '..'`);
  }
}

/** True when `path` is `base` or under it (PathWithinBase). */
export function pathWithinBase(path: string, base: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

const fdPath = (handle: FileHandle, name?: string) =>
  name === undefined ? `/proc/self/fd/${handle.fd}` : `/proc/self/fd/${handle.fd}/${name}`;

/**
 * Opens `path` (inside `base`, both real paths) one component at a time, never following a
 * symlink (doSafeOpen); the caller closes the handle.
 */
async function safeOpen(path: string, base: string, finalFlags: number): Promise<FileHandle> {
  if (!pathWithinBase(path, base)) throw new Error(`path ${path} is outside of allowed base ${base}`);
  const segments = relative(base, path).split(sep).filter(Boolean);
  // The base is the only directory under our control: it may not be a symlink either.
  let parent = await open(base, segments.length === 0 ? finalFlags : NOFOLLOW_DIR);
  try {
    let current = base;
    for (const [index, segment] of segments.entries()) {
      current = join(current, segment);
      const last = index === segments.length - 1;
      let child: FileHandle;
      try {
        child = await open(fdPath(parent, segment), last ? finalFlags : NOFOLLOW_DIR);
      } catch (error) {
        throw new Error(`cannot open ${current}: ${(error as Error).message}`, { cause: error });
      }
      await parent.close();
      parent = child;
      // With O_PATH|O_NOFOLLOW, a symlink opens as itself: refuse it.
      if ((await parent.stat()).isSymbolicLink()) throw new Error(`unexpected symlink found ${current}`);
    }
    return parent;
  } catch (error) {
    await parent.close().catch(() => {});
    throw error;
  }
}

/** The longest existing prefix of `path` under `base`, and the components still to create. */
async function existingPrefix(base: string, path: string): Promise<{ existing: string; toCreate: string[] }> {
  const segments = relative(base, path).split(sep).filter(Boolean);
  let existing = base;
  for (const [index, segment] of segments.entries()) {
    const next = join(existing, segment);
    const stats: Stats | undefined = await lstat(next).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!stats) return { existing, toCreate: segments.slice(index) };
    existing = next;
  }
  return { existing, toCreate: [] };
}

/**
 * SafeMakeDir: creates the directory `subPath` inside `volumePath` with mode `perm`, as
 * doSafeMakeDir does: an existing directory is left as it is; the deepest existing component,
 * symlinks resolved, must be inside the volume; each missing component is made with mkdirat
 * under a descriptor opened without following symlinks, then chmodded to `perm` (mkdir's mode
 * goes through the umask).
 */
export async function safeMakeDir(subPath: string, volumePath: string, perm: number): Promise<void> {
  const base = await realpath(volumePath);
  const path = join(base, subPath);
  if (!pathWithinBase(path, base)) throw new Error(`path ${path} is outside of allowed base ${base}`);
  const found = await stat(path).catch(() => undefined);
  if (found) {
    if (found.isDirectory()) return; // can be outside of the volume: safeOpenSubPath refuses it then
    throw new Error(`mkdir ${path}: not a directory`);
  }
  const { existing, toCreate } = await existingPrefix(base, path);
  const realExisting = await realpath(existing);
  if (!pathWithinBase(realExisting, base)) {
    throw new Error(`path ${realExisting} is outside of allowed base ${base}`);
  }
  let parent = await safeOpen(realExisting, base, NOFOLLOW_DIR);
  try {
    for (const segment of toCreate) {
      try {
        await mkdir(fdPath(parent, segment), { mode: perm });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const child = await open(fdPath(parent, segment), NOFOLLOW_DIR);
      await parent.close();
      parent = child;
      await chmod(fdPath(parent), perm);
    }
  } finally {
    await parent.close().catch(() => {});
  }
}

/**
 * safeOpenSubPath: opens `subPath` of `volumePath` (which must be inside it, no component a
 * symlink) and keeps it open; its `source` is what the container's bind mount names.
 */
export async function openSubPath(subPath: string, volumePath: string): Promise<OpenSubPath> {
  const base = await realpath(volumePath);
  const handle = await safeOpen(join(base, subPath), base, O_PATH | constants.O_NOFOLLOW);
  const isDirectory = (await handle.stat()).isDirectory();
  return {
    source: `/proc/${process.pid}/fd/${handle.fd}`,
    isDirectory,
    close: () => handle.close(),
  };
}

/**
 * A mount's subPath made ready to mount (makeMounts, doBindSubPath): refused when absolute or
 * holding `..`; created as a directory with the volume's mode when missing; opened safely and
 * its descriptor bind-mounted (in the node's own mount namespace: runc's cannot bind a
 * descriptor of another) at `target`, a file or directory the pod's teardown unmounts
 * (unmountSubPaths). The refusals name the mount and container only, as the kubelet's do (no
 * detail of the host's filesystem); `target` is what the container's bind mount names.
 */
export async function prepareSubPath(
  subPath: string,
  volumePath: string,
  names: { mount: string; container: string },
  target: string,
): Promise<{ path: string; isDirectory: boolean }> {
  checkSubPath(subPath);
  const exists = await stat(join(volumePath, subPath)).then(
    () => true,
    () => false,
  );
  if (!exists) {
    try {
      await safeMakeDir(subPath, volumePath, (await stat(volumePath)).mode & 0o7777);
    } catch {
      throw new ConfigError(
        `failed to create subPath directory for volumeMount "${names.mount}" of container "${names.container}"`,
      );
    }
  }
  let opened: OpenSubPath | undefined;
  try {
    opened = await openSubPath(subPath, volumePath);
    await unmountUnder(target); // an earlier attempt's
    await mkdir(dirname(target), { recursive: true });
    if (opened.isDirectory) await mkdir(target, { recursive: true });
    else await (await open(target, 'a', 0o644)).close();
    await run('mount', ['--no-canonicalize', '--bind', opened.source, target]);
    return { path: target, isDirectory: opened.isDirectory };
  } catch {
    throw new ConfigError(
      `failed to prepare subPath for volumeMount "${names.mount}" of container "${names.container}"`,
    );
  } finally {
    await opened?.close();
  }
}

/** Unmounts every subPath bind mount under `dir` (a pod's volume-subpaths) before it is removed. */
export async function unmountSubPaths(dir: string): Promise<void> {
  await unmountUnder(dir);
}
