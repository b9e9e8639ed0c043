/**
 * Reading the key Secret the rsync mover's pod mounts (SCRIBE_KEYS_DIR), the same way on both
 * sides: an unreadable file names the mover's user and the two ways to fix it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../runtime/env.js';
import { describeIds } from './nss-wrapper.js';

/** The key files each side's Secret holds: its own pair and the other side's public key. */
const KEYS_OF = {
  source: 'source, source.pub and destination.pub',
  destination: 'destination, destination.pub and source.pub',
} as const;

/** The text of key file `name` in `keysDir`, for the `side` whose Secret it is. */
export function readMountedKey(keysDir: string, name: string, side: keyof typeof KEYS_OF): string {
  const file = join(keysDir, name);
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES')
      throw new ConfigError(
        `key "${name}" at ${file} is not readable by the mover's user (${describeIds()}); give the pod an fsGroup (a Secret volume is then readable by that group) or mount the Secret with a defaultMode that user can read`,
      );
    throw new ConfigError(
      `cannot read key "${name}" at ${file} (SCRIBE_KEYS_DIR=${keysDir}); the key Secret must hold ${KEYS_OF[side]}`,
    );
  }
}
