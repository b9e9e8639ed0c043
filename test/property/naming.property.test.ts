import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as naming from '../../machines/naming.js';
import { rcloneDestinationName, rcloneSourceName } from '../../src/movers/rclone/names.js';
import {
  resticCacheName,
  resticDestinationName,
  resticHostName,
  resticSourceName,
} from '../../src/movers/restic/names.js';
import {
  rsyncDestinationKeysName,
  rsyncDestinationName,
  rsyncDestinationSourceKeysName,
  rsyncSourceName,
} from '../../src/movers/rsync/names.js';

/** CR names as the API server admits them: DNS-1123 subdomains up to 253 characters. */
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
const crName = fc.array(label, { minLength: 1, maxLength: 4 }).map(
  (parts) =>
    parts
      .join('.')
      .slice(0, 253)
      .replace(/[.-]+$/, '') || 'x',
);

const namers: [string, (cr: string) => string][] = [
  ['sourcePit', naming.sourcePitName],
  ['destinationPvc', naming.destinationPvcName],
  ['image', (cr) => naming.destinationImageName(cr, Date.parse('2024-02-29T23:59:59Z'))],
  ['rsyncSource', rsyncSourceName],
  ['rsyncDestination', rsyncDestinationName],
  ['rsyncDestSrcKeys', rsyncDestinationSourceKeysName],
  ['rsyncDestDestKeys', rsyncDestinationKeysName],
  ['cacheSource', (cr) => resticCacheName('src', cr)],
  ['cacheDestination', (cr) => resticCacheName('dest', cr)],
  ['pitAlternative', (cr) => naming.sourcePitSnapshotAlternative(cr, '12')],
  ['rcloneSource', rcloneSourceName],
  ['rcloneDestination', rcloneDestinationName],
  ['resticSource', resticSourceName],
  ['resticDestination', resticDestinationName],
];

/**
 * Every role that names an object, with the kinds of object it names and how the name depends on
 * the CR's name and the role's other input (a time, a cycle's sequence number).
 */
const AT = fc.integer({ min: 0, max: 4_102_444_800 }).map((s) => s * 1000);
const SEQUENCE = fc.integer({ min: 1, max: 1_000_000 }).map(String);
const roles: Array<{
  role: string;
  kinds: string[];
  extra: fc.Arbitrary<string | number>;
  name: (cr: string, extra: never) => string;
}> = [
  {
    role: 'sourcePit',
    kinds: ['PersistentVolumeClaim', 'VolumeSnapshot'],
    extra: fc.constant(0),
    name: naming.sourcePitName,
  },
  {
    role: 'pitAlternative',
    kinds: ['VolumeSnapshot'],
    extra: SEQUENCE,
    name: (cr, n: string) => naming.sourcePitSnapshotAlternative(cr, n),
  },
  { role: 'destinationPvc', kinds: ['PersistentVolumeClaim'], extra: fc.constant(0), name: naming.destinationPvcName },
  {
    role: 'image',
    kinds: ['VolumeSnapshot'],
    extra: AT,
    name: (cr, at: number) => naming.destinationImageName(cr, at),
  },
  {
    role: 'cacheSource',
    kinds: ['PersistentVolumeClaim'],
    extra: fc.constant(0),
    name: (cr) => resticCacheName('src', cr),
  },
  {
    role: 'cacheDestination',
    kinds: ['PersistentVolumeClaim'],
    extra: fc.constant(0),
    name: (cr) => resticCacheName('dest', cr),
  },
  { role: 'rsyncSource', kinds: ['Job', 'Service'], extra: fc.constant(0), name: rsyncSourceName },
  { role: 'rsyncDestination', kinds: ['Job', 'Service'], extra: fc.constant(0), name: rsyncDestinationName },
  { role: 'rsyncDestSrcKeys', kinds: ['Secret'], extra: fc.constant(0), name: rsyncDestinationSourceKeysName },
  { role: 'rsyncDestDestKeys', kinds: ['Secret'], extra: fc.constant(0), name: rsyncDestinationKeysName },
  { role: 'rcloneSource', kinds: ['Job'], extra: fc.constant(0), name: rcloneSourceName },
  { role: 'rcloneDestination', kinds: ['Job'], extra: fc.constant(0), name: rcloneDestinationName },
  { role: 'resticSource', kinds: ['Job'], extra: fc.constant(0), name: resticSourceName },
  { role: 'resticDestination', kinds: ['Job'], extra: fc.constant(0), name: resticDestinationName },
];

/** A CR name built to forge another role's name: a role's distinguishing words in front or behind. */
const forging = fc
  .tuple(
    fc.constantFrom('', 'src-', 'dest-', 'cache-', 'rsync-', 'src-src-', 'dest-src-', 'srcpit-', 'cache-src-', '-'),
    crName,
    fc.constantFrom('', '-cache', '-12', '-20240229235959', '-src', '--0123456789'),
  )
  .map(([front, cr, back]) => `${front}${cr}${back}`.replace(/^-+/, '') || 'x');
const anyName = fc.oneof(crName, forging, fc.constant('a'.repeat(70)), fc.constant(`${'b'.repeat(60)}-cache`));

describe('object names of different roles (issue 21)', () => {
  const pair = fc
    .integer({ min: 0, max: roles.length - 1 })
    .chain((index) => fc.tuple(fc.constant(index), anyName, roles[index]!.extra as fc.Arbitrary<string | number>));
  it('no two (role, CR name) pairs give one object of one kind the same name', () => {
    fc.assert(
      fc.property(pair, pair, ([i, a, x], [j, b, y]) => {
        const [r, s] = [roles[i]!, roles[j]!];
        fc.pre(r.kinds.some((kind) => s.kinds.includes(kind)));
        fc.pre(i !== j || a !== b || x !== y);
        expect(r.name(a, x as never)).not.toBe(s.name(b, y as never));
      }),
      {
        numRuns: 20_000,
        examples: [
          // The collisions of before: cache of src-x / point-in-time of x-cache; a source and a
          // destination sharing a cache; the alternative snapshot of x / point-in-time of x-12.
          [
            [4, 'src-x', 0],
            [0, 'x-cache', 0],
          ],
          [
            [4, 'x', 0],
            [5, 'x', 0],
          ],
          [
            [1, 'x', '12'],
            [0, 'x-12', 0],
          ],
        ],
      },
    );
  });
  it('every role names its objects validly and deterministically', () => {
    fc.assert(
      fc.property(pair, ([i, a, x]) => {
        const name = roles[i]!.name(a, x as never);
        expect(naming.isDnsLabel(name)).toBe(true);
        expect(roles[i]!.name(a, x as never)).toBe(name);
      }),
    );
  });
});

describe('object names', () => {
  it.each(namers)('%s: at most 63 characters, a DNS-1123 label, deterministic', (_, namer) => {
    fc.assert(
      fc.property(crName, (cr) => {
        const name = namer(cr);
        expect(name.length).toBeLessThanOrEqual(63);
        expect(naming.isDnsLabel(name)).toBe(true);
        expect(namer(cr)).toBe(name);
      }),
    );
  });
  it.each(namers)('%s: different CRs get different names', (_, namer) => {
    fc.assert(
      fc.property(crName, crName, (a, b) => {
        fc.pre(a !== b);
        expect(namer(a)).not.toBe(namer(b));
      }),
    );
  });
  it('restic host names: valid, deterministic, and different for any two CRs (role, namespace, name)', () => {
    const role = fc.constantFrom('src' as const, 'dest' as const);
    fc.assert(
      fc.property(role, label, crName, role, label, crName, (r1, ns1, cr1, r2, ns2, cr2) => {
        const name = resticHostName(r1, ns1, cr1);
        expect(name.length).toBeLessThanOrEqual(63);
        expect(naming.isDnsLabel(name)).toBe(true);
        expect(resticHostName(r1, ns1, cr1)).toBe(name);
        if (r1 !== r2 || ns1 !== ns2 || cr1 !== cr2) expect(resticHostName(r2, ns2, cr2)).not.toBe(name);
      }),
      // Dashes join these alike; the names must still differ.
      { examples: [['src', 'a-b', 'c', 'src', 'a', 'b-c']] },
    );
  });
  it('destination snapshots of different times differ and keep their timestamp', () => {
    fc.assert(
      fc.property(
        crName,
        fc.integer({ min: 0, max: 4_102_444_800 }),
        fc.integer({ min: 0, max: 4_102_444_800 }),
        (cr, s1, s2) => {
          fc.pre(s1 !== s2);
          const a = naming.destinationImageName(cr, s1 * 1000);
          expect(a).not.toBe(naming.destinationImageName(cr, s2 * 1000));
          expect(a).toMatch(/-\d{14}$/);
        },
      ),
    );
  });
  it('toDnsLabel keeps valid short names and fixes everything else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (raw) => {
        const name = naming.toDnsLabel(raw);
        expect(naming.isDnsLabel(name)).toBe(true);
        if (naming.isDnsLabel(raw)) expect(name).toBe(raw);
      }),
    );
  });
});
