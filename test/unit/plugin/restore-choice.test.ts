/**
 * What `kubectl scribe restore` decides without a cluster: the instant --as-of names, the way a
 * destination is restored, which image it restores, and the one-off restic destination. The e2e
 * test restore-as-of.test.ts runs the command against the local runtime.
 */
import { describe, expect, it } from 'vitest';
import type { ReplicationDestination } from '../../../src/api/index.js';
import { EXIT_FAILURE, PluginError } from '../../../src/plugin/errors.js';
import { buildProgram } from '../../../src/plugin/program.js';
import { oneOffDestination } from '../../../src/plugin/restore.js';
import {
  chooseImage,
  oneOffName,
  parseAsOf,
  resticRestored,
  restorePath,
  type DestinationImage,
} from '../../../src/plugin/restore-choice.js';

const image = (name: string, time: string): DestinationImage => ({
  apiGroup: 'snapshot.storage.k8s.io',
  kind: 'VolumeSnapshot',
  name,
  time,
});
const IMAGES = [
  image('img-1', '2026-12-07T10:00:00Z'),
  image('img-2', '2026-12-07T10:05:00Z'),
  image('img-3', '2026-12-07T10:10:00Z'),
];

/** The PluginError `run` throws (the test fails when it throws none). */
function refusalOf(run: () => unknown): PluginError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PluginError);
    return error as PluginError;
  }
  throw new Error('expected a refusal');
}

describe('--as-of', () => {
  it('reads RFC 3339 with Z or an offset, fractions and a space for T', () => {
    expect(parseAsOf('2026-12-07T10:00:00Z', 'Europe/Paris').toISOString()).toBe('2026-12-07T10:00:00.000Z');
    expect(parseAsOf('2026-12-07T11:00:00+01:00', 'Europe/Paris').toISOString()).toBe('2026-12-07T10:00:00.000Z');
    expect(parseAsOf('2026-12-07t10:00:00.250z', 'UTC').toISOString()).toBe('2026-12-07T10:00:00.250Z');
    expect(parseAsOf('2026-12-07 05:00:00-05:00', 'UTC').toISOString()).toBe('2026-12-07T10:00:00.000Z');
  });

  it('reads a date-time without zone only where the local zone is UTC, and says why elsewhere', () => {
    expect(parseAsOf('2026-12-07T10:00:00', 'UTC').toISOString()).toBe('2026-12-07T10:00:00.000Z');
    expect(parseAsOf('2026-12-07T10:00:00', 'Etc/UTC').toISOString()).toBe('2026-12-07T10:00:00.000Z');
    const refused = refusalOf(() => parseAsOf('2026-12-07T10:00:00', 'Europe/London', 0));
    expect(refused.message).toMatch(/^--as-of "2026-12-07T10:00:00" has no zone, and the local zone is Europe\/London/);
    expect(refused.message).toContain(
      'could mean 2026-12-07T10:00:00Z (UTC) or 2026-12-07T10:00:00+00:00 (local time)',
    );
    expect(refusalOf(() => parseAsOf('2026-07-01T10:00:00', 'America/St_Johns', -150)).message).toContain(
      '2026-07-01T10:00:00-02:30 (local time)',
    );
    expect(refusalOf(() => parseAsOf('2026-07-01T10:00:00', 'Asia/Tokyo')).message).toContain('±hh:mm');
    expect(refusalOf(() => parseAsOf('2026-07-01 10:00:00', 'Asia/Tokyo', 540)).message).toContain(
      'could mean 2026-07-01T10:00:00Z (UTC) or 2026-07-01T10:00:00+09:00 (local time)',
    );
    expect(refused.exitCode).toBe(EXIT_FAILURE);
  });

  it('refuses what is not a date-time, naming --as-of', () => {
    for (const bad of ['2026-12-07', 'yesterday', '2026-02-30T10:00:00Z', '2026-12-07T25:00:00Z', '1765101600', '']) {
      expect(refusalOf(() => parseAsOf(bad, 'UTC')).message, bad).toMatch(/^--as-of "/);
    }
  });

  it('--help says what --as-of accepts', () => {
    const help = buildProgram()
      .commands.find((c) => c.name() === 'restore')
      ?.helpInformation();
    expect(help).toMatch(/--as-of <time>/);
    expect(help?.replace(/\s+/g, ' ')).toMatch(
      /RFC 3339 date-time with a zone .* without a zone only where the local zone is UTC/,
    );
  });
});

describe('which image', () => {
  it('takes the newest image at or before the time', () => {
    const at = (t: string) => chooseImage('rd', IMAGES, IMAGES[2], new Date(t)).name;
    expect(at('2026-12-07T10:02:30Z')).toBe('img-1');
    expect(at('2026-12-07T10:07:30Z')).toBe('img-2');
    expect(at('2026-12-07T12:00:00Z')).toBe('img-3');
    // An image taken at exactly that instant counts.
    expect(at('2026-12-07T10:05:00Z')).toBe('img-2');
    expect(at('2026-12-07T10:00:00Z')).toBe('img-1');
  });

  it('goes by time, not by the order of the list', () => {
    const shuffled = [IMAGES[2], IMAGES[0], IMAGES[1]] as DestinationImage[];
    expect(chooseImage('rd', shuffled, undefined, new Date('2026-12-07T10:07:00Z')).name).toBe('img-2');
    expect(chooseImage('rd', shuffled, undefined, undefined).name).toBe('img-3');
  });

  it('takes the newest without --as-of, or latestImage when there is no list', () => {
    expect(chooseImage('rd', IMAGES, IMAGES[2], undefined).name).toBe('img-3');
    const latest = { kind: 'VolumeSnapshot', name: 'only' };
    expect(chooseImage('rd', [], latest, undefined).name).toBe('only');
  });

  it('refuses a time before every image, naming --as-of and listing the times', () => {
    const refused = refusalOf(() => chooseImage('db', IMAGES, IMAGES[2], new Date('2026-12-07T09:59:59Z')));
    expect(refused.message).toMatch(
      /^--as-of 2026-12-07T09:59:59.000Z is before every image of ReplicationDestination db; its images:\n/,
    );
    for (const i of IMAGES) expect(refused.message).toContain(`${i.name}  taken ${i.time}`);
    expect(refused.exitCode).toBe(EXIT_FAILURE);
  });

  it('refuses a destination without images, and an image without a time for --as-of', () => {
    expect(refusalOf(() => chooseImage('db', [], undefined, undefined)).message).toMatch(/has no image yet/);
    const untimed = [{ kind: 'VolumeSnapshot', name: 'x' }];
    expect(refusalOf(() => chooseImage('db', untimed, untimed[0], new Date())).message).toMatch(
      /x {2}taken \(time unknown\)/,
    );
  });
});

describe('how a destination is restored', () => {
  const asOf = new Date('2026-12-07T10:00:00Z');

  it('from its images; a restic destination given --as-of through restoreAsOf', () => {
    expect(restorePath({ name: 'a', mover: 'rsync', copyMethod: 'Snapshot' }, asOf)).toBe('images');
    expect(restorePath({ name: 'a', mover: 'rclone', copyMethod: 'Snapshot' }, undefined)).toBe('images');
    expect(restorePath({ name: 'a', mover: 'restic', copyMethod: 'Snapshot' }, undefined)).toBe('images');
    expect(restorePath({ name: 'a', mover: 'restic', copyMethod: 'Snapshot' }, asOf)).toBe('resticAsOf');
  });

  it('refuses copyMethod None and external providers, naming --from', () => {
    expect(refusalOf(() => restorePath({ name: 'a', mover: 'rsync', copyMethod: 'None' }, asOf)).message).toMatch(
      /^--from rd\/a: the destination has copyMethod None, so it keeps no image to restore/,
    );
    expect(refusalOf(() => restorePath({ name: 'a', mover: 'restic', copyMethod: 'None' }, asOf)).message).toMatch(
      /^--from rd\/a: .*copyMethod None/,
    );
    expect(refusalOf(() => restorePath({ name: 'a' }, undefined)).message).toMatch(/external provider/);
  });
});

describe('the one-off restic destination', () => {
  it('is named after the PVC and fits', () => {
    expect(oneOffName('db')).toBe('db-restore');
    const long = oneOffName(`${'a'.repeat(31)}-${'b'.repeat(40)}`);
    expect(long.length).toBeLessThanOrEqual(40);
    expect(long).toMatch(/^a+-restore$/);
  });

  it('has the destination restic settings, copyMethod Snapshot, restoreAsOf and a manual trigger', () => {
    const rd = { metadata: { name: 'db', namespace: 'ns' } } as ReplicationDestination;
    const section = {
      repository: 'restic-config',
      copyMethod: 'Snapshot' as const,
      destinationPVC: 'users-pvc',
      previous: 2,
      restoreAsOf: '2020-01-01T00:00:00Z',
      imagesToKeep: 3,
      cacheCapacity: '2Gi',
      storageClassName: 'fast',
    };
    const oneOff = oneOffDestination(rd, section, 'x-restore', new Date('2026-12-07T10:00:00Z'), 'token-1', '5Gi');
    expect(oneOff.metadata).toMatchObject({
      name: 'x-restore',
      labels: { 'app.kubernetes.io/created-by': 'kubectl-scribe' },
      annotations: { 'scribe.backube/restore-of': 'db' },
    });
    expect(oneOff.spec).toEqual({
      trigger: { manual: 'token-1' },
      restic: {
        repository: 'restic-config',
        copyMethod: 'Snapshot',
        cacheCapacity: '2Gi',
        storageClassName: 'fast',
        capacity: '5Gi',
        restoreAsOf: '2026-12-07T10:00:00.000Z',
      },
    });
  });
});

describe("restic's choice", () => {
  it('reads the snapshot restored from the mover summary', () => {
    const logs =
      'scribe restic restore: restoring snapshot cb73744e taken at 2026-12-07T09:34:57.51425536Z into /data\nscribe restic restore: result: restored snapshot cb73744e taken at 2026-12-07T09:34:57.51425536Z; exit code 0\n';
    expect(resticRestored(logs)).toEqual({ id: 'cb73744e', time: '2026-12-07T09:34:57.51425536Z' });
    expect(resticRestored('restore: 5 of 5 files restored')).toBeUndefined();
    expect(resticRestored(undefined)).toBeUndefined();
  });
});
