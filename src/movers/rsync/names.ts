/** The names of the rsync mover's objects (decision 11; machines/naming.ts keeps roles apart). */
import type { ScribeCr } from '../../../machines/api.js';
import { roleName } from '../../../machines/naming.js';
import { moverJobName, moverObjectName } from '../names.js';

/** rsync source Job: scribe-rsync-src-<rs>. */
export function rsyncSourceName(rs: string): string {
  return moverObjectName('rsync', 'src', rs);
}

/** rsync destination Job and Service: scribe-rsync-dest-<rd>. */
export function rsyncDestinationName(rd: string): string {
  return moverObjectName('rsync', 'dest', rd);
}

/** The generated key Secret a destination hands to its source: scribe-rsync-dest-src-<rd> (decision 10). */
export function rsyncDestinationSourceKeysName(rd: string): string {
  return roleName('scribe-rsync-dest-src-', rd);
}

/** The destination's own generated key Secret: scribe-rsync-dest-dest-<rd> (decision 10). */
export function rsyncDestinationKeysName(rd: string): string {
  return roleName('scribe-rsync-dest-dest-', rd);
}

/** The Job (and a destination's Service) of a CR: scribe-rsync-<src|dest>-<cr>. */
export function jobName(cr: ScribeCr): string {
  return moverJobName('rsync', cr);
}
