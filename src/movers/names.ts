/**
 * The one naming rule every mover's Job follows: scribe-<mover>-<src|dest>-<cr> (decision 11).
 * Each mover's own names live in its folder (src/movers/<name>/names.ts); the rule that keeps
 * names of different roles apart is machines/naming.ts's roleName.
 */
import type { ScribeCr } from '../../machines/api.js';
import { roleName } from '../../machines/naming.js';

/** A CR's side as its objects' names say it. */
export type NameRole = 'src' | 'dest';

/** The side of a CR: src for a ReplicationSource, dest for a ReplicationDestination. */
export function nameRole(cr: ScribeCr): NameRole {
  return cr.kind === 'ReplicationSource' ? 'src' : 'dest';
}

/** The mover object name for a mover and role, e.g. scribe-rclone-src-<cr>. */
export function moverObjectName(mover: string, role: NameRole, cr: string): string {
  return roleName(`scribe-${mover}-${role}-`, cr);
}

/** The Job (and for rsync the Service) of a CR: scribe-<mover>-<src|dest>-<cr>. */
export function moverJobName(mover: string, cr: ScribeCr): string {
  return moverObjectName(mover, nameRole(cr), cr.metadata.name ?? '');
}
