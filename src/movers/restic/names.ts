/** The names of the restic mover's objects (decision 11; machines/naming.ts keeps roles apart). */
import type { ScribeCr } from '../../../machines/api.js';
import { MAX_NAME_LENGTH, roleName, shortHash } from '../../../machines/naming.js';
import { moverJobName, moverObjectName, nameRole, type NameRole } from '../names.js';

/** restic Job of a source: scribe-restic-src-<rs>. */
export function resticSourceName(rs: string): string {
  return moverObjectName('restic', 'src', rs);
}

/** restic Job of a destination: scribe-restic-dest-<rd>. */
export function resticDestinationName(rd: string): string {
  return moverObjectName('restic', 'dest', rd);
}

/** The Job of a CR: scribe-restic-<src|dest>-<cr>. */
export function jobName(cr: ScribeCr): string {
  return moverJobName('restic', cr);
}

/**
 * The restic mover pod's host name, which restic writes into its locks: restic-<src|dest>-<ns>-<cr>.
 * restic takes a lock for stale when it was made on this host by a PID not running here. So the
 * name is stable across one CR's attempts (a killed attempt's lock is recognised by the next) and
 * differs between the CRs that share a repository: a source and a destination of the same name
 * (the usual backup and restore pair) or same-named CRs of two namespaces would otherwise each
 * take the other's live lock for stale, and `unlock` would remove it while that run goes on.
 */
export function resticHostName(role: NameRole, namespace: string, cr: string): string {
  // The hash keeps apart what the dashes join alike (namespace "a-b" with "c", "a" with "b-c").
  const hash = shortHash(`${role}/${namespace}/${cr}`);
  const readable = `restic-${role}-${namespace}-${cr}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, MAX_NAME_LENGTH - hash.length - 1)
    .replace(/-+$/, '');
  return `${readable}-${hash}`;
}

/** The restic mover pod's host name of a CR (its role from its kind). */
export function hostNameOf(cr: ScribeCr): string {
  return resticHostName(nameRole(cr), cr.metadata.namespace ?? '', cr.metadata.name ?? '');
}

/**
 * The restic metadata cache PVC: scribe-cache-<src|dest>-<cr>. (It was scribe-<cr>-cache, which
 * a source and a destination of one name shared, and which was another CR's point-in-time name:
 * scribe-src-x-cache.)
 */
export function resticCacheName(role: NameRole, cr: string): string {
  return roleName(`scribe-cache-${role}-`, cr);
}

/** The restic cache PVC of a CR (its role from its kind). */
export function cacheNameOf(cr: ScribeCr): string {
  return resticCacheName(nameRole(cr), cr.metadata.name ?? '');
}
