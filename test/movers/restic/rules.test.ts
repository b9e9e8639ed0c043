/** The restic mover's pure modules: retain flags, argument lists, prune timing, snapshot choice, summary, redaction. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import { backupArgs, forgetArgs, restoreArgs } from '../../../src/movers/restic/args.js';
import { backupTarget, restoredTreeWasEmpty, restoreSource } from '../../../src/movers/restic/layout.js';
import { resticMover } from '../../../src/movers/restic/mover.js';
import { explainFailure } from '../../../src/movers/restic/outcome.js';
import { PERMISSIONS_HINT } from '../../../src/movers/permissions.js';
import { isPruneDue, lastPrunedLine, parseLastPruned } from '../../../src/movers/restic/prune.js';
import { makeRedactor, secretValues } from '../../../src/movers/runtime/redact.js';
import { keepFlags, resticWithin } from '../../../src/movers/restic/retain.js';
import { noSnapshotReason, selectSnapshot, type SnapshotInfo } from '../../../src/movers/restic/snapshots.js';
import { resticTotals } from '../../../src/movers/restic/status.js';
import { forgetCounts, summarizeResticLog } from '../../../src/movers/restic/summary.js';

const config = { dataDir: '/data', cacheDir: '/cache', host: 'scribe' };

describe('retain', () => {
  it('turns weeks into days and keeps restic units', () => {
    expect(resticWithin('3w15h')).toBe('21d15h');
    expect(resticWithin('1y2m1w3d')).toBe('1y2m10d');
    expect(resticWithin('48h')).toBe('48h');
    expect(() => resticWithin('5 minutes')).toThrow(/must be a duration like 3w15h/);
    expect(() => resticWithin('10s')).toThrow();
  });

  it('emits a flag per positive count; zero and absent set no rule', () => {
    expect(keepFlags({ last: 2, hourly: 0, daily: 5, within: '1w' })).toEqual([
      '--keep-last',
      '2',
      '--keep-daily',
      '5',
      '--keep-within',
      '7d',
    ]);
    expect(keepFlags({})).toEqual([]);
    expect(keepFlags({ hourly: 0, within: '0d' })).toEqual([]);
  });
});

describe('argument lists', () => {
  it('backs up "." with an absolute lost+found exclude, a fixed host, the cache and limits', () => {
    expect(backupArgs({ ...config, limitUploadKiB: 100 })).toEqual([
      'backup',
      '.',
      '--host',
      'scribe',
      '--exclude',
      '/data/lost+found',
      '--json',
      '--cache-dir',
      '/cache',
      '--limit-upload',
      '100',
    ]);
  });

  it('forgets per host only, or not at all without a policy', () => {
    expect(forgetArgs(config, {})).toBeUndefined();
    expect(forgetArgs(config, { yearly: 1 })).toEqual([
      'forget',
      '--host',
      'scribe',
      '--group-by',
      'host',
      '--keep-yearly',
      '1',
      '--cache-dir',
      '/cache',
    ]);
  });

  it('backs an empty volume up as its directory from the parent, tagged, so restic has an entry to save', () => {
    expect(backupTarget('/data', true)).toEqual({ cwd: '/', path: 'data', tags: ['scribe-volume-dir'] });
    expect(backupTarget('/data', false)).toEqual({ cwd: '/data', path: '.', tags: [] });
    expect(backupArgs(config, backupTarget('/data', true))).toEqual([
      'backup',
      'data',
      '--host',
      'scribe',
      '--tag',
      'scribe-volume-dir',
      '--exclude',
      '/data/lost+found',
      '--json',
      '--cache-dir',
      '/cache',
    ]);
    expect(() => backupTarget('/', true)).toThrow(/has no parent/);
  });

  it('restores a tagged snapshot from the volume directory inside it, any other from its root', () => {
    expect(restoreSource({ id: 'abc', paths: ['/data'], tags: ['scribe-volume-dir'] })).toBe('abc:/data');
    expect(restoreSource({ id: 'abc', paths: ['/tmp/x/source-3'], tags: ['other', 'scribe-volume-dir'] })).toBe(
      'abc:/source-3',
    );
    expect(restoreSource({ id: 'abc', paths: ['/data'] })).toBe('abc');
    expect(restoreSource({ id: 'abc', paths: ['/data'], tags: ['other'] })).toBe('abc');
    expect(() => restoreSource({ id: 'abc', tags: ['scribe-volume-dir'] })).toThrow(/records no path/);
  });

  it('tells a restore of an empty tree (restic deletes nothing then) from any other', () => {
    expect(restoredTreeWasEmpty('{"message_type":"summary","seconds_elapsed":0}\n')).toBe(true);
    expect(restoredTreeWasEmpty('{"message_type":"summary","total_files":0}')).toBe(true);
    expect(
      restoredTreeWasEmpty('{"message_type":"summary","total_files":1,"files_restored":1}\n{"message_type":"x"}'),
    ).toBe(false);
    // No summary (restic's output not understood): never a reason to delete.
    expect(restoredTreeWasEmpty('')).toBe(false);
    expect(restoredTreeWasEmpty('{not json\nrestored 0 files')).toBe(false);
  });

  it('restores with --delete only when enableFileDeletion is on, always sparing lost+found', () => {
    const keeping = restoreArgs(config, 'abc', { deleteExtraFiles: false });
    expect(keeping).toEqual(expect.arrayContaining(['restore', 'abc', '--target', '/data']));
    expect(keeping).not.toContain('--delete');
    expect(keeping.join(' ')).toContain('--exclude /lost+found');
    const mirroring = restoreArgs(config, 'abc:/data', { deleteExtraFiles: true });
    expect(mirroring).toEqual(expect.arrayContaining(['restore', 'abc:/data', '--target', '/data', '--delete']));
    expect(mirroring.join(' ')).toContain('--exclude /lost+found');
  });

  it('lets backup and restore print their JSON status lines (no --quiet) for progress', () => {
    for (const args of [backupArgs(config), restoreArgs(config, 'abc', { deleteExtraFiles: false })]) {
      expect(args).toContain('--json');
      expect(args).not.toContain('--quiet');
    }
  });
});

describe('prune timing', () => {
  const now = new Date('2024-06-10T12:00:00Z');
  it('is due when never pruned or when the interval has passed', () => {
    expect(isPruneDue(undefined, 7, now)).toBe(true);
    expect(isPruneDue(new Date('2024-06-03T12:00:00Z'), 7, now)).toBe(true);
    expect(isPruneDue(new Date('2024-06-03T12:00:01Z'), 7, now)).toBe(false);
    expect(isPruneDue(now, 0, now)).toBe(true);
  });
  it('reports the prune time in a line the operator can parse', () => {
    expect(lastPrunedLine(now)).toBe('scribe restic: lastPruned=2024-06-10T12:00:00Z');
    expect(parseLastPruned(`x\n${lastPrunedLine(now)}\ny`)).toEqual(now);
  });
});

describe('snapshot selection', () => {
  const snapshot = (t: number): SnapshotInfo => ({ id: `id-${t}`, time: new Date(t * 1000).toISOString() });

  it('matches a model: the (previous+1)-th newest at or before restoreAsOf', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { maxLength: 12 }),
        fc.option(fc.integer({ min: 0, max: 1_000_001 }), { nil: undefined }),
        fc.nat(14),
        (times, asOf, previous) => {
          const selection = { previous, ...(asOf === undefined ? {} : { restoreAsOf: new Date(asOf * 1000) }) };
          const expected = times
            .filter((t) => asOf === undefined || t <= asOf)
            .sort((a, b) => b - a)
            .at(previous);
          expect(selectSnapshot(times.map(snapshot), selection)?.id).toBe(
            expected === undefined ? undefined : `id-${expected}`,
          );
        },
      ),
    );
  });

  it('explains an empty repository differently from an unmatched selection', () => {
    expect(noSnapshotReason(0, { previous: 0 })).toBe('the repository holds no snapshot of this volume yet');
    expect(noSnapshotReason(2, { previous: 2 })).toMatch(/holds 2 snapshot\(s\), but not 3/);
  });
});

describe('failures', () => {
  it('maps restic exit codes to clear messages', () => {
    expect(explainFailure('backup', 12, 'Fatal: wrong password or no key found\n', false)).toMatchObject({ code: 12 });
    expect(explainFailure('open', 10, 'Fatal: repository does not exist', false).message).toMatch(/does not exist/);
    expect(
      explainFailure('open', 1, 'x\nStat returned error, retrying after 1s: dial tcp: connection refused', true),
    ).toEqual({
      code: 124,
      message:
        'restic open: no answer from the repository within SCRIBE_REPOSITORY_TIMEOUT_SECONDS: dial tcp: connection refused',
    });
    expect(explainFailure('backup', 137, '', false).code).toBe(137);
    // backup --json reports its fatal error as a JSON object on stderr.
    const json = JSON.stringify({
      message_type: 'exit_error',
      code: 12,
      message: 'Fatal: wrong password or no key found\nmore detail',
    });
    expect(explainFailure('backup', 12, `${json}\n`, false).message).toMatch(
      /^restic backup: wrong password: .*: Fatal: wrong password or no key found$/,
    );
  });

  it('names the files an incomplete backup could not read, and the way out (issue 20)', () => {
    const unreadable = (path: string) =>
      JSON.stringify({
        message_type: 'error',
        error: { message: `open ${path}: permission denied` },
        during: 'scan',
        item: path,
      });
    const stderr = [1, 2, 3, 4, 5, 6, 7].map((n) => unreadable(`/data/db/t${n}`)).join('\n');
    const { code, message } = explainFailure(
      'backup',
      3,
      `${stderr}\nWarning: at least one source file could not be read\n`,
      false,
    );
    expect(code).toBe(3);
    expect(message).toContain('open /data/db/t1: permission denied; open /data/db/t2: permission denied');
    expect(message).toContain('/data/db/t5: permission denied; and 2 more');
    expect(message).not.toContain('/data/db/t6');
    expect(message).toMatch(/moverSecurityContext/);
    // Nothing readable at all: restic refuses an empty snapshot, and the cause is named the same way.
    const empty = explainFailure(
      'backup',
      1,
      `${unreadable('/data/db')}\n${unreadable('/data/db')}\nFatal: unable to save snapshot: snapshot is empty\n`,
      false,
    );
    expect(empty.message).toBe(
      `restic backup: could not read files (${PERMISSIONS_HINT}): open /data/db: permission denied; restic exited 1: Fatal: unable to save snapshot: snapshot is empty`,
    );
    // Both ways out: the application's user, or a privileged mover.
    expect(PERMISSIONS_HINT).toMatch(/moverSecurityContext.*scribe\.backube\/privileged-movers: "true"/);
  });
});

describe('progress from restic status lines', () => {
  it('reads running and final totals of a backup and a restore; zero fields are left out', () => {
    const backupStatus =
      '{"message_type":"status","seconds_elapsed":5,"percent_done":0.5,"total_files":10,"files_done":4,"total_bytes":2000,"bytes_done":1000,"current_files":["/data/a"]}';
    expect(resticTotals(backupStatus, 'backup')).toEqual({ kind: 'status', files: 4, bytes: 1000 });
    expect(
      resticTotals(
        '{"message_type":"summary","files_new":1,"total_files_processed":10,"total_bytes_processed":2000,"snapshot_id":"ab"}',
        'backup',
      ),
    ).toEqual({ kind: 'summary', files: 10, bytes: 2000 });
    expect(resticTotals('{"message_type":"status","percent_done":0}', 'backup')).toEqual({
      kind: 'status',
      files: 0,
      bytes: 0,
    });
    expect(
      resticTotals(
        '{"message_type":"status","seconds_elapsed":2,"percent_done":0.18,"total_files":7,"files_restored":4,"total_bytes":4900007,"bytes_restored":900007}',
        'restore',
      ),
    ).toEqual({ kind: 'status', files: 4, bytes: 900007 });
    expect(
      resticTotals(
        '{"message_type":"summary","total_files":1,"files_restored":1,"files_skipped":4,"bytes_skipped":900003}',
        'restore',
      ),
    ).toEqual({ kind: 'summary', files: 1, bytes: 0 });
  });

  it('ignores every other line', () => {
    for (const line of [
      '',
      'scribe restic backup: backing up /data',
      '{"message_type":"error","error":{"message":"x"},"during":"archival","item":"/data/f"}',
      '{"message_type":"verbose_status","action":"new","item":"/data/f"}',
      '{not json',
      '[1,2]',
      'null',
    ])
      expect(resticTotals(line, 'backup'), line).toBeUndefined();
  });
});

describe('summary and redaction', () => {
  const backupJson = JSON.stringify({
    message_type: 'summary',
    files_new: 2,
    files_changed: 1,
    files_unmodified: 3,
    data_added: 2048,
    data_added_packed: 1024,
    total_files_processed: 6,
    total_bytes_processed: 10 * 1024 * 1024,
    total_duration: 1.25,
    snapshot_id: '0123456789abcdef',
  });

  it('renders the backup summary and keeps result, prune and error lines', () => {
    const log = [
      'scribe restic backup: backing up /data',
      backupJson,
      'scribe restic backup: forget: kept 3, removed 1 snapshot(s) (--keep-last 3)',
      'scribe restic: lastPruned=2024-06-10T12:00:00Z',
      'some/file/name.txt',
      'scribe restic backup: result: backup succeeded; exit code 0',
    ].join('\n');
    expect(summarizeResticLog(log)).toBe(
      [
        'backup: snapshot 01234567; 6 files (10.00 MiB) processed: 2 new, 1 changed, 3 unmodified; added 2.00 KiB (1.00 KiB stored); took 1.3s',
        'scribe restic backup: forget: kept 3, removed 1 snapshot(s) (--keep-last 3)',
        'scribe restic: lastPruned=2024-06-10T12:00:00Z',
        'scribe restic backup: result: backup succeeded; exit code 0',
      ].join('\n'),
    );
  });

  it('is bounded, idempotent enough and keeps the result line', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 300 }), { maxLength: 60 }), (lines) => {
        const log = [...lines.map((l) => `Fatal: ${l}`), 'scribe restic restore: result: ok; exit code 0'].join('\n');
        const summary = summarizeResticLog(log, (t) => t, 512);
        expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(512);
        expect(summary.split('\n').at(-1)).toBe('scribe restic restore: result: ok; exit code 0');
      }),
    );
  });

  it('never lets a secret of the environment or URL credentials through', () => {
    const env = {
      RESTIC_PASSWORD: 'pa55word!',
      AWS_SECRET_ACCESS_KEY: 'SECRETKEY123',
      AWS_ACCESS_KEY_ID: 'AKIA999',
      HOME: '/home/someone',
    };
    const redact = makeRedactor(secretValues(env));
    const line = 'Fatal: pa55word! SECRETKEY123 AKIA999 rest:https://user:pw@host/repo /home/someone';
    expect(redact(line)).toBe(
      'Fatal: [redacted] [redacted] [redacted] rest:https://[redacted]@host/repo /home/someone',
    );
    expect(summarizeResticLog(line, redact)).not.toMatch(/pa55word|SECRETKEY|AKIA999|user:pw/);
  });

  it('counts forget results', () => {
    expect(
      forgetCounts(
        JSON.stringify([
          { keep: [1, 2], remove: [3] },
          { keep: [4], remove: null },
        ]),
      ),
    ).toEqual({
      kept: 3,
      removed: 1,
    });
    expect(forgetCounts('not json')).toEqual({ kept: 0, removed: 0 });
  });
});

describe('the mover pod host name (what restic writes into its locks)', () => {
  const cr = (kind: 'ReplicationSource' | 'ReplicationDestination', namespace: string) =>
    ({
      apiVersion: 'scribe.backube/v1alpha1',
      kind,
      metadata: { name: 'db', namespace, uid: `uid-${kind}-${namespace}` },
      spec: { ...(kind === 'ReplicationSource' ? { sourcePVC: 'data' } : {}), restic: { repository: 'repo' } },
    }) as unknown as ScribeCr;
  const hostnameOf = (resource: ScribeCr) => {
    const job = resticMover
      .build(resource, { cycleId: '1-20260101000000', attempt: 0, volume: 'data' }, {})
      .objects.find((o) => o.kind === 'Job') as { spec: { template: { spec: { hostname?: string } } } } | undefined;
    return job?.spec.template.spec.hostname;
  };

  it('differs between a source and a destination of one name, and between namespaces; stays across attempts', () => {
    // Each side would otherwise take the other's live lock for stale (same host, PID not running here).
    const names = [
      hostnameOf(cr('ReplicationSource', 'app')),
      hostnameOf(cr('ReplicationDestination', 'app')),
      hostnameOf(cr('ReplicationSource', 'other')),
    ];
    expect(names[0]).toMatch(/^restic-src-app-db-[0-9a-f]{10}$/);
    expect(names[1]).toMatch(/^restic-dest-app-db-[0-9a-f]{10}$/);
    expect(new Set(names).size).toBe(3);
    expect(hostnameOf(cr('ReplicationSource', 'app'))).toBe(names[0]);
  });
});

describe('enableFileDeletion in the restore Job', () => {
  const envOf = (restic: Record<string, unknown>, kind: 'ReplicationSource' | 'ReplicationDestination') => {
    const cr = {
      apiVersion: 'scribe.backube/v1alpha1',
      kind,
      metadata: { name: 'db', namespace: 'app', uid: 'uid-1' },
      spec: {
        ...(kind === 'ReplicationSource' ? { sourcePVC: 'data' } : {}),
        restic: { repository: 'repo', ...restic },
      },
    } as unknown as ScribeCr;
    const job = resticMover
      .build(cr, { cycleId: '1-20260101000000', attempt: 0, volume: 'data' }, {})
      .objects.find((o) => o.kind === 'Job') as unknown as
      { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } } | undefined;
    const env = job?.spec.template.spec.containers[0]?.env ?? [];
    return env.find((e) => e.name === 'SCRIBE_ENABLE_FILE_DELETION')?.value;
  };

  it('is false unless the destination says true; a backup has no such setting', () => {
    expect(envOf({}, 'ReplicationDestination')).toBe('false');
    expect(envOf({ enableFileDeletion: false }, 'ReplicationDestination')).toBe('false');
    expect(envOf({ enableFileDeletion: true }, 'ReplicationDestination')).toBe('true');
    expect(envOf({ enableFileDeletion: true }, 'ReplicationSource')).toBeUndefined();
  });
});
