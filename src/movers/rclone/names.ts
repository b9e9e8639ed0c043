/** The names of the rclone mover's objects (decision 11; machines/naming.ts keeps roles apart). */
import type { ScribeCr } from '../../../machines/api.js';
import { moverJobName, moverObjectName } from '../names.js';

/** rclone Job of a source: scribe-rclone-src-<rs>. */
export function rcloneSourceName(rs: string): string {
  return moverObjectName('rclone', 'src', rs);
}

/** rclone Job of a destination: scribe-rclone-dest-<rd>. */
export function rcloneDestinationName(rd: string): string {
  return moverObjectName('rclone', 'dest', rd);
}

/** The Job of a CR: scribe-rclone-<src|dest>-<cr>. */
export function jobName(cr: ScribeCr): string {
  return moverJobName('rclone', cr);
}
