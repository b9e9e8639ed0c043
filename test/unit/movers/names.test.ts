import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import { isDnsLabel, sourcePitName } from '../../../machines/naming.js';
import { moverObjectName } from '../../../src/movers/names.js';
import * as rclone from '../../../src/movers/rclone/names.js';
import * as restic from '../../../src/movers/restic/names.js';
import * as rsync from '../../../src/movers/rsync/names.js';

/** A CR of a kind, a namespace and a name: all a name depends on. */
function cr(kind: ScribeCr['kind'], name: string, namespace = 'ns'): ScribeCr {
  return { kind, metadata: { name, namespace } } as ScribeCr;
}

describe("the movers' object names (decision 11)", () => {
  it.each([
    [rsync.rsyncSourceName('db'), 'scribe-rsync-src-db'],
    [rsync.rsyncDestinationName('db'), 'scribe-rsync-dest-db'],
    [rsync.rsyncDestinationSourceKeysName('database-destination'), 'scribe-rsync-dest-src-database-destination'],
    [rsync.rsyncDestinationKeysName('database-destination'), 'scribe-rsync-dest-dest-database-destination'],
    [rsync.jobName(cr('ReplicationSource', 'db')), 'scribe-rsync-src-db'],
    [rsync.jobName(cr('ReplicationDestination', 'db')), 'scribe-rsync-dest-db'],
    [restic.resticCacheName('src', 'db'), 'scribe-cache-src-db'],
    [restic.resticCacheName('dest', 'db'), 'scribe-cache-dest-db'],
    [restic.cacheNameOf(cr('ReplicationDestination', 'db')), 'scribe-cache-dest-db'],
    [rclone.rcloneSourceName('db'), 'scribe-rclone-src-db'],
    [rclone.rcloneDestinationName('db'), 'scribe-rclone-dest-db'],
    [rclone.jobName(cr('ReplicationDestination', 'db')), 'scribe-rclone-dest-db'],
    [restic.resticSourceName('db'), 'scribe-restic-src-db'],
    [restic.resticDestinationName('db'), 'scribe-restic-dest-db'],
    [restic.jobName(cr('ReplicationSource', 'db')), 'scribe-restic-src-db'],
    [moverObjectName('restic', 'src', 'db'), 'scribe-restic-src-db'],
  ])('%s', (actual, expected) => {
    expect(actual).toBe(expected);
  });
  it('restic host names are the CR’s role, namespace and name', () => {
    expect(restic.hostNameOf(cr('ReplicationSource', 'db', 'apps'))).toBe(restic.resticHostName('src', 'apps', 'db'));
    expect(restic.resticHostName('src', 'apps', 'db')).toMatch(/^restic-src-apps-db-[0-9a-f]{10}$/);
  });
});

describe('long and unusual names', () => {
  const long = 'a'.repeat(80);
  it('are shortened to 63 characters deterministically, as valid DNS labels', () => {
    const name = rsync.rsyncDestinationSourceKeysName(long);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(isDnsLabel(name)).toBe(true);
    expect(rsync.rsyncDestinationSourceKeysName(long)).toBe(name);
    // The doubled dash: no CR name starts with one, so no unshortened name looks like this.
    expect(name.startsWith('scribe-rsync-dest-src--aaaa')).toBe(true);
  });
  it('replace dots (a subdomain CR name) without colliding with the dashed spelling', () => {
    const dotted = rsync.rsyncSourceName('my.db');
    expect(isDnsLabel(dotted)).toBe(true);
    expect(dotted).not.toBe(rsync.rsyncSourceName('my-db'));
  });
});

describe('names of different roles (issue 21)', () => {
  it('no longer collide where they used to', () => {
    // The restic cache of `src-x` was the point-in-time copy of `x-cache`.
    expect(restic.resticCacheName('src', 'src-x')).not.toBe(sourcePitName('x-cache'));
    // A source and a destination of one name shared one cache.
    expect(restic.resticCacheName('src', 'x')).not.toBe(restic.resticCacheName('dest', 'x'));
  });
});
