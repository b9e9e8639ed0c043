import { describe, expect, it } from 'vitest';
import * as naming from '../../../machines/naming.js';
import { JOURNAL_LIMIT, SCRIBE_GROUP } from '../../../machines/api.js';
import { API_GROUP, JOURNAL_MAX_ENTRIES } from '../../../src/api/index.js';

describe('object names from the seed (decision 11)', () => {
  it.each([
    [naming.sourcePitName('database-source'), 'scribe-src-database-source'],
    [
      naming.destinationImageName('database-destination', Date.parse('2021-01-19T22:16:01Z')),
      'scribe-dest-database-destination-20210119221601',
    ],
    [naming.sourcePitSnapshotAlternative('db', '7'), 'scribe-srcpit-db-7'],
    [naming.destinationPvcName('db'), 'scribe-dest-db'],
  ])('%s', (actual, expected) => {
    expect(actual).toBe(expected);
  });
});

describe('long and unusual names', () => {
  const long = 'a'.repeat(80);
  it('are shortened to 63 characters deterministically, as valid DNS labels', () => {
    const name = naming.sourcePitName(long);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(naming.isDnsLabel(name)).toBe(true);
    expect(naming.sourcePitName(long)).toBe(name);
    // The doubled dash: no CR name starts with one, so no unshortened name looks like this.
    expect(name.startsWith('scribe-src--aaaa')).toBe(true);
  });
  it('keep different inputs apart even when their prefixes agree', () => {
    expect(naming.sourcePitName(`${long}x`)).not.toBe(naming.sourcePitName(`${long}y`));
  });
  it('replace dots (a subdomain CR name) without colliding with the dashed spelling', () => {
    const dotted = naming.sourcePitName('my.db');
    expect(naming.isDnsLabel(dotted)).toBe(true);
    expect(dotted).not.toBe(naming.sourcePitName('my-db'));
  });
  it('keep the timestamp of destination snapshots', () => {
    const name = naming.destinationImageName(long, Date.parse('2021-01-14T19:43:05Z'));
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name.endsWith('-20210114194305')).toBe(true);
    expect(naming.isDnsLabel(name)).toBe(true);
  });
});

describe('names of different roles (issue 21)', () => {
  it('no longer collide where they used to', () => {
    // The alternative point-in-time snapshot of `x` was the point-in-time name of `x-2`.
    expect(naming.sourcePitSnapshotAlternative('x', '2')).not.toBe(naming.sourcePitName('x-2'));
  });
  it('a shortened name is never the unshortened name of another CR', () => {
    const long = 'a'.repeat(80);
    const shortened = naming.sourcePitName(long);
    expect(shortened).toMatch(/^scribe-src--a+-[0-9a-f]{10}$/);
    expect(naming.sourcePitName(shortened.slice('scribe-src-'.length))).not.toBe(shortened);
  });
});

describe('labels', () => {
  it('mark every object as created by scribe, and with its cycle when it has one', () => {
    expect(naming.objectLabels()).toEqual({ 'app.kubernetes.io/created-by': 'scribe' });
    expect(naming.objectLabels({ cycleId: '3-x' })).toEqual({
      'app.kubernetes.io/created-by': 'scribe',
      'scribe.backube/cycle': '3-x',
    });
  });
  it('mirror the constants of src/api', () => {
    expect(SCRIBE_GROUP).toBe(API_GROUP);
    expect(JOURNAL_LIMIT).toBe(JOURNAL_MAX_ENTRIES);
  });
});
