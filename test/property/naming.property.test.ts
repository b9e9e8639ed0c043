import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as naming from '../../machines/naming.js';

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
  ['rsyncSource', naming.rsyncSourceName],
  ['rsyncDestination', naming.rsyncDestinationName],
  ['rsyncDestSrcKeys', naming.rsyncDestinationSourceKeysName],
  ['rsyncDestDestKeys', naming.rsyncDestinationKeysName],
  ['rsyncSrcKeys', naming.rsyncSourceKeysName],
  ['rsyncSrcDestKeys', naming.rsyncSourceDestinationKeysName],
  ['cache', naming.cacheName],
  ['rcloneSource', naming.rcloneSourceName],
  ['rcloneDestination', naming.rcloneDestinationName],
  ['resticSource', naming.resticSourceName],
  ['resticDestination', naming.resticDestinationName],
];

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
        const name = naming.resticHostName(r1, ns1, cr1);
        expect(name.length).toBeLessThanOrEqual(63);
        expect(naming.isDnsLabel(name)).toBe(true);
        expect(naming.resticHostName(r1, ns1, cr1)).toBe(name);
        if (r1 !== r2 || ns1 !== ns2 || cr1 !== cr2) expect(naming.resticHostName(r2, ns2, cr2)).not.toBe(name);
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
