/**
 * Directory copies for clones, snapshots and restores. `cp -a` preserves everything (owners,
 * modes, times, links, xattrs) as a CSI driver's block copy would; copies go to a `.partial`
 * sibling that is renamed when complete, so a crash never leaves a half-filled volume that a
 * later pass would take for a finished one.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
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
  await run('cp', ['-a', '--', source, partial]);
  await rename(partial, target);
}

/** Creates an empty directory `target` unless it exists. */
export async function makeDirectoryOnce(target: string): Promise<void> {
  await mkdir(target, { recursive: true });
}

/** Removes a directory tree and any partial copy of it. */
export async function removeDirectory(target: string): Promise<void> {
  await rm(target, { recursive: true, force: true });
  await rm(`${target}.partial`, { recursive: true, force: true });
}
