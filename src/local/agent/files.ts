/**
 * Directory copies for clones, snapshots and restores. `cp -a` preserves everything (owners,
 * modes, times, links, xattrs) as a CSI driver's block copy would, sharing blocks where the
 * volume storage can (storage.ts); copies go to a `.partial`
 * sibling that is renamed when complete, so a crash never leaves a half-filled volume that a
 * later pass would take for a finished one.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Fills `target` with a copy of `source`'s contents unless `target` already exists. */
export async function copyDirectoryOnce(source: string, target: string): Promise<void> {
  if (existsSync(target)) return;
  const partial = `${target}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(dirname(target), { recursive: true });
  // `partial` does not exist, so cp creates it as a copy of `source` itself, dotfiles and mode included.
  // --reflink=auto: on a file system that shares blocks (storage.ts) a file's copy costs no data,
  // as a CSI driver's copy-on-write clone; elsewhere cp copies the bytes.
  await run('cp', ['-a', '--reflink=auto', '--', source, partial]);
  await rename(partial, target);
}

/** Creates an empty directory `target` unless it exists. */
export async function makeDirectoryOnce(target: string): Promise<void> {
  await mkdir(target, { recursive: true });
}

/** Removes a directory tree (unmounting a sized volume first) and any partial copy of it. */
export async function removeDirectory(target: string): Promise<void> {
  await unmountUnder(target);
  await rm(target, { recursive: true, force: true });
  await rm(`${target}.partial`, { recursive: true, force: true });
}

/**
 * Makes `target` a file system of exactly `bytes` (a tmpfs mount), so writing more than that
 * fails with ENOSPC as on a real volume. Needs the privilege to mount (root); idempotent.
 */
export async function mountSizedDirectory(target: string, bytes: number): Promise<void> {
  await mkdir(target, { recursive: true });
  if (await isMountPoint(target)) return;
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', target]);
}

/** Unmounts every mount point at or under `dir` (deepest first). */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((path): path is string => path !== undefined && (path === dir || path.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const path of mounts) await run('umount', [path]);
}

async function isMountPoint(path: string): Promise<boolean> {
  return run('mountpoint', ['-q', path]).then(
    () => true,
    () => false,
  );
}
