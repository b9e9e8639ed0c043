/**
 * Whether the destination can run the source's own push without rrsync (sshd-config.ts,
 * directPushLines): rrsync is a Python program, and its start was most of a sync's fixed cost on
 * the destination. The direct push runs the argv rrsync would run for that push, so it needs the
 * options rrsync adds (`--drop-D`, `--confine-root`) in the installed rsync, rrsync's lock tool
 * (flock, from util-linux), and a volume that is not `/` (for which rrsync confines nothing).
 * Without any of them every push goes through rrsync, as before.
 */
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { findExecutable } from '../runtime/env.js';
import type { DirectPush } from './sshd-config.js';

/** The direct push's settings, or why there is none. */
export function findDirectPush(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): { push: DirectPush } | { unavailable: string } {
  let rsync: string;
  let flock: string;
  try {
    rsync = findExecutable(env.SCRIBE_RSYNC ?? 'rsync', env.PATH, 'SCRIBE_RSYNC');
    flock = findExecutable('flock', env.PATH, 'PATH');
  } catch (error) {
    return { unavailable: (error as Error).message };
  }
  const help = spawnSync(rsync, ['--help'], { encoding: 'utf8', env: { ...env, LANG: 'C' } });
  const options = ['--drop-D', '--confine-root'].filter((option) => !(help.stdout ?? '').includes(option));
  if (options.length > 0) return { unavailable: `${rsync} lacks ${options.join(' and ')}` };
  const root = realpathSync(dataDir);
  if (root === '/') return { unavailable: 'the volume is /, which rrsync does not confine' };
  return { push: { rsync, flock, root } };
}
