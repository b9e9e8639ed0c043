/**
 * The restic mover's entrypoints against real restic and a real S3 server (MinIO) on 127.0.0.1:
 * round trips, retention, pruning, snapshot selection, a killed backup and failures.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../../src/local/s3.js';
import { freePort } from '../../../src/local/processes.js';
import { toolDir } from '../../../src/local/tools.js';
import { lastProgress } from '../../../src/movers/runtime/progress.js';
import {
  aclSupported,
  buildTree,
  bytes,
  describeTree,
  runEntrypoint,
  startReaped,
  summaryOf,
  tempDir,
  waitUntil,
} from './support/movers.js';

const PASSWORD = 'correct horse battery staple';
const cleanup: (() => void)[] = [];
let s3: S3Server;
let restic: string;
let work: string;
let repoCounter = 0;

beforeAll(async () => {
  restic = join(await toolDir('restic'), 'restic');
  s3 = await startS3Server();
  cleanup.push(() => void 0);
  await s3.createBucket('backups');
  work = tempDir(cleanup, 'scribe-restic-test-');
}, 300_000);
afterAll(async () => {
  await s3?.stop();
  cleanup.forEach((fn) => fn());
});

/** The env of one volume's mover: a fresh repository path unless `repository` is given. */
function moverEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    RESTIC_REPOSITORY: `s3:${s3.endpoint}/backups/repo-${++repoCounter}`,
    RESTIC_PASSWORD: PASSWORD,
    AWS_ACCESS_KEY_ID: s3.accessKey,
    AWS_SECRET_ACCESS_KEY: s3.secretKey,
    SCRIBE_DATA_DIR: dataDir,
    SCRIBE_CACHE_DIR: join(work, `cache-${repoCounter}`),
    SCRIBE_RESTIC: restic,
    ...extra,
  };
}

function newDir(name: string): string {
  const dir = join(work, `${name}-${++repoCounter}`);
  mkdirSync(dir);
  return dir;
}

/** Runs restic directly with the mover's repository settings (to set the scene or check it). */
function resticCli(env: Record<string, string>, args: string[], cwd?: string): string {
  const result = spawnSync(restic, [...args, '--cache-dir', env.SCRIBE_CACHE_DIR as string], {
    env: { ...process.env, ...env },
    cwd,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`restic ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function snapshotTimes(env: Record<string, string>): string[] {
  return (JSON.parse(resticCli(env, ['snapshots', '--json'])) as { time: string }[])
    .map((s) => new Date(s.time).toISOString())
    .sort();
}

/** Every path under `root`, lost+found included, sorted. */
function entries(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).sort();
}

function expectNoSecrets(output: string): void {
  for (const secret of [PASSWORD, s3.secretKey, s3.accessKey]) expect(output).not.toContain(secret);
}

/** restic's JSON summary object of the backup or restore, as the mover printed it. */
function resticSummary(output: string): Record<string, number> {
  const line = output.split('\n').findLast((l) => l.startsWith('{') && l.includes('"message_type":"summary"'));
  expect(line, output).toBeDefined();
  return JSON.parse(line as string) as Record<string, number>;
}

/**
 * The mover wrote `scribe progress:` lines (never restic's raw status objects), and the last
 * one holds restic's final figures: files and bytes read by the backup, written by the restore,
 * as in the summary block.
 */
function expectProgressMatchesSummary(output: string, command: 'backup' | 'restore') {
  expect(output).toMatch(/^scribe progress: files=\d+ bytes=\d+ elapsed=\d+\.\d$/m);
  expect(output).not.toContain('"message_type":"status"');
  const json = resticSummary(output);
  const progress = lastProgress(output);
  const files = command === 'backup' ? json.total_files_processed : json.files_restored;
  const bytes = command === 'backup' ? json.total_bytes_processed : json.bytes_restored;
  expect(progress?.files).toBeGreaterThan(0);
  expect(progress?.bytes).toBeGreaterThan(0);
  expect(progress?.files).toBe(files);
  expect(progress?.bytes).toBe(bytes);
  const counted =
    command === 'backup'
      ? /^backup: snapshot \S+; (\d+) files/m.exec(summaryOf(output))
      : /^restore: (\d+) of \d+ files restored/m.exec(summaryOf(output));
  expect(Number(counted?.[1])).toBe(progress?.files);
}

describe('restic backup and restore', () => {
  it('round-trips a tree: contents, modes, owners, mtimes, symlinks, ACLs; lost+found stays out (file deletion on)', async () => {
    const source = newDir('source');
    const acl = aclSupported(source);
    buildTree(source, { acl });
    const env = moverEnv(source);
    const backup = await runEntrypoint('restic', 'source', env);
    expect(backup.code, backup.output).toBe(0);
    expect(backup.output).toContain('the repository does not exist yet; initializing it');
    const summary = summaryOf(backup.output);
    expect(summary).toMatch(/^backup: snapshot [0-9a-f]{8}; 8 files \(.*\) processed: 8 new, 0 changed/m);
    expect(summary).toMatch(/scribe restic backup: result: backup succeeded; exit code 0$/);
    expectNoSecrets(backup.output);
    // A backup shorter than restic's status interval still ends with a progress line.
    expectProgressMatchesSummary(backup.output, 'backup');

    const target = newDir('target');
    mkdirSync(join(target, 'lost+found'));
    writeFileSync(join(target, 'lost+found', 'keep'), 'fs debris of the destination');
    writeFileSync(join(target, 'stale.txt'), 'not in the snapshot');
    mkdirSync(join(target, 'docs'));
    writeFileSync(join(target, 'docs', 'random.bin'), 'older content');
    const restore = await runEntrypoint('restic', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: target,
      SCRIBE_ENABLE_FILE_DELETION: 'true',
    });
    expect(restore.code, restore.output).toBe(0);
    expect(summaryOf(restore.output)).toMatch(/^restore: \d+ of \d+ files restored/m);
    expectNoSecrets(restore.output);
    expectProgressMatchesSummary(restore.output, 'restore');
    // restic keeps no attributes of the backup root itself; everything inside must be equal.
    expect(describeTree(target, { acl, includeRoot: false })).toEqual(
      describeTree(source, { acl, includeRoot: false }),
    );
    expect(readFileSync(join(target, 'lost+found', 'keep'), 'utf8')).toBe('fs debris of the destination');
    expect(existsSync(join(target, 'lost+found', '#1234'))).toBe(false);
  });

  it('initializes only once: a second backup reuses the repository and adds little', async () => {
    const source = newDir('source');
    writeFileSync(join(source, 'a.bin'), bytes(7, 200_000));
    const env = moverEnv(source);
    expect((await runEntrypoint('restic', 'source', env)).code).toBe(0);
    const second = await runEntrypoint('restic', 'source', env);
    expect(second.code, second.output).toBe(0);
    expect(second.output).not.toContain('initializing');
    expect(summaryOf(second.output)).toMatch(/processed: 0 new, 0 changed, 1 unmodified; added 0 B/);
    expect(snapshotTimes(env)).toHaveLength(2);
  });
});

describe('files the snapshot lacks (enableFileDeletion)', () => {
  /** A destination volume that already holds data: lost+found, a file of its own, an older version. */
  function occupiedTarget(): string {
    const target = newDir('target');
    mkdirSync(join(target, 'lost+found'));
    writeFileSync(join(target, 'lost+found', 'keep'), 'fs debris of the destination');
    writeFileSync(join(target, 'users-notes.txt'), 'the user wrote this');
    mkdirSync(join(target, 'docs'));
    writeFileSync(join(target, 'docs', 'a.txt'), 'older content');
    writeFileSync(join(target, 'docs', 'extra.txt'), 'only here');
    return target;
  }

  it('are kept by default and deleted with SCRIBE_ENABLE_FILE_DELETION=true; lost+found stays either way', async () => {
    const source = newDir('source');
    mkdirSync(join(source, 'docs'));
    writeFileSync(join(source, 'docs', 'a.txt'), 'from the snapshot');
    writeFileSync(join(source, 'b.txt'), 'also from the snapshot');
    const env = moverEnv(source);
    expect((await runEntrypoint('restic', 'source', env)).code).toBe(0);

    const kept = occupiedTarget();
    const keep = await runEntrypoint('restic', 'destination', { ...env, SCRIBE_DATA_DIR: kept });
    expect(keep.code, keep.output).toBe(0);
    expect(entries(kept)).toEqual([
      'b.txt',
      'docs',
      'docs/a.txt',
      'docs/extra.txt',
      'lost+found',
      'lost+found/keep',
      'users-notes.txt',
    ]);
    expect(readFileSync(join(kept, 'docs', 'a.txt'), 'utf8')).toBe('from the snapshot');
    expect(readFileSync(join(kept, 'users-notes.txt'), 'utf8')).toBe('the user wrote this');
    expect(keep.output).toContain('files the snapshot lacks are kept (enableFileDeletion is false)');
    expect(summaryOf(keep.output)).toMatch(/^restore: .*, 0 deleted/m);

    const mirrored = occupiedTarget();
    const mirror = await runEntrypoint('restic', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: mirrored,
      SCRIBE_ENABLE_FILE_DELETION: 'true',
    });
    expect(mirror.code, mirror.output).toBe(0);
    expect(mirror.output).toContain('files the snapshot lacks are deleted (enableFileDeletion)');
    expect(summaryOf(mirror.output)).toMatch(/^restore: .*, 2 deleted/m);
    expect(entries(mirrored)).toEqual(['b.txt', 'docs', 'docs/a.txt', 'lost+found', 'lost+found/keep']);
  });

  it('refuses a value that is not a boolean, touching nothing', async () => {
    const source = newDir('source');
    writeFileSync(join(source, 'f'), 'x');
    const env = moverEnv(source);
    expect((await runEntrypoint('restic', 'source', env)).code).toBe(0);
    const target = occupiedTarget();
    const run = await runEntrypoint('restic', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: target,
      SCRIBE_ENABLE_FILE_DELETION: 'sometimes',
    });
    expect(run.code).toBe(1);
    expect(summaryOf(run.output)).toMatch(/configuration error: SCRIBE_ENABLE_FILE_DELETION must be true or false/);
    expect(entries(target)).toContain('users-notes.txt');
  });
});

describe('an empty volume', () => {
  /** The repository's snapshots, oldest first. */
  const snapshots = (env: Record<string, string>) =>
    (JSON.parse(resticCli(env, ['snapshots', '--json'])) as { time: string; tags?: string[]; paths: string[] }[]).sort(
      (a, b) => Date.parse(a.time) - Date.parse(b.time),
    );

  it('is a successful backup that leaves the volume as it was, and its restore writes nothing or, with file deletion, empties the volume', async () => {
    const source = newDir('source');
    mkdirSync(join(source, 'lost+found')); // an empty file system's volume holds just this
    const before = describeTree(source, { acl: false });
    const env = moverEnv(source);
    const backup = await runEntrypoint('restic', 'source', env);
    expect(backup.code, backup.output).toBe(0);
    expect(backup.output).toContain('the volume is empty, so its directory is saved');
    expect(summaryOf(backup.output)).toMatch(/^backup: snapshot [0-9a-f]{8}; 0 files/m);
    expect(summaryOf(backup.output)).toMatch(/result: backup succeeded; exit code 0$/);
    expect(describeTree(source, { acl: false })).toEqual(before);
    expect(snapshots(env)).toMatchObject([{ tags: ['scribe-volume-dir'], paths: [source] }]);

    const kept = newDir('target');
    writeFileSync(join(kept, 'users-notes.txt'), 'the user wrote this');
    const keep = await runEntrypoint('restic', 'destination', { ...env, SCRIBE_DATA_DIR: kept });
    expect(keep.code, keep.output).toBe(0);
    expect(entries(kept)).toEqual(['users-notes.txt']);

    const emptied = newDir('target');
    mkdirSync(join(emptied, 'lost+found'));
    writeFileSync(join(emptied, 'lost+found', 'keep'), 'fs debris of the destination');
    mkdirSync(join(emptied, 'docs'));
    writeFileSync(join(emptied, 'docs', 'old.txt'), 'stale');
    writeFileSync(join(emptied, 'users-notes.txt'), 'the user wrote this');
    const mirror = await runEntrypoint('restic', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: emptied,
      SCRIBE_ENABLE_FILE_DELETION: 'true',
    });
    expect(mirror.code, mirror.output).toBe(0);
    expect(entries(emptied)).toEqual(['lost+found', 'lost+found/keep']);
    // Nothing of the volume's own directory lands inside the volume.
    expect(existsSync(join(emptied, basename(source)))).toBe(false);
  });

  it('that later receives data, and is emptied again, is backed up as it is each time', async () => {
    const source = newDir('source');
    const env = moverEnv(source, { SCRIBE_RETAIN_LAST: '5' });
    expect((await runEntrypoint('restic', 'source', env)).code).toBe(0);

    mkdirSync(join(source, 'db'));
    writeFileSync(join(source, 'db', 'table'), bytes(3, 50_000));
    const filled = await runEntrypoint('restic', 'source', env);
    expect(filled.code, filled.output).toBe(0);
    expect(filled.output).not.toContain('the volume is empty');
    expect(summaryOf(filled.output)).toMatch(/^backup: snapshot [0-9a-f]{8}; 1 files .* 1 new/m);

    rmSync(join(source, 'db'), { recursive: true });
    expect((await runEntrypoint('restic', 'source', env)).code).toBe(0);
    expect(snapshots(env).map((s) => s.tags ?? [])).toEqual([['scribe-volume-dir'], [], ['scribe-volume-dir']]);

    // The newest is the emptied volume; the one before it holds the data, in the usual layout.
    const latest = newDir('target');
    writeFileSync(join(latest, 'stale'), 'x');
    const restoreLatest = await runEntrypoint('restic', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: latest,
      SCRIBE_ENABLE_FILE_DELETION: 'true',
    });
    expect(restoreLatest.code, restoreLatest.output).toBe(0);
    expect(entries(latest)).toEqual([]);
    const previous = newDir('target');
    const restorePrevious = await runEntrypoint('restic', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: previous,
      SCRIBE_PREVIOUS: '1',
    });
    expect(restorePrevious.code, restorePrevious.output).toBe(0);
    expect(entries(previous)).toEqual(['db', 'db/table']);
    expect(readFileSync(join(previous, 'db', 'table'))).toEqual(bytes(3, 50_000));
  });
});

describe('progress while restic runs', () => {
  /** The progress lines of an output, in order. */
  const progressLines = (output: string) =>
    output
      .split('\n')
      .filter((line) => line.startsWith('scribe progress:'))
      .map((line) => lastProgress(line));

  it(
    'a slow backup and restore report running totals every 5 s from restic status lines, never the raw lines',
    { timeout: 180_000 },
    async () => {
      const source = newDir('source');
      for (let i = 0; i < 2; i++) writeFileSync(join(source, `big-${i}.bin`), bytes(200 + i, 3 * 1024 * 1024));
      // 6 MiB at 512 KiB/s: about 12 s, so restic prints a status and the meter a line with it.
      const env = moverEnv(source);
      const backup = await runEntrypoint('restic', 'source', { ...env, SCRIBE_RESTIC_LIMIT_UPLOAD_KIB: '512' });
      expect(backup.code, backup.output).toBe(0);
      expectProgressMatchesSummary(backup.output, 'backup');
      const during = progressLines(backup.output);
      expect(during.length, backup.output).toBeGreaterThanOrEqual(3);
      // A line before the final one already had restic's running figures.
      expect(
        during.slice(0, -1).some((p) => (p?.bytes ?? 0) > 0),
        backup.output,
      ).toBe(true);
      for (let i = 1; i < during.length; i++) {
        expect(during[i]?.bytes).toBeGreaterThanOrEqual(during[i - 1]?.bytes ?? 0);
        expect(during[i]?.elapsedSeconds).toBeGreaterThanOrEqual(during[i - 1]?.elapsedSeconds ?? 0);
      }

      const target = newDir('target');
      const restore = await runEntrypoint('restic', 'destination', {
        ...env,
        SCRIBE_DATA_DIR: target,
        SCRIBE_RESTIC_LIMIT_DOWNLOAD_KIB: '512',
      });
      expect(restore.code, restore.output).toBe(0);
      expectProgressMatchesSummary(restore.output, 'restore');
      expect(lastProgress(restore.output)?.bytes).toBe(6 * 1024 * 1024);
      expect(progressLines(restore.output).length, restore.output).toBeGreaterThanOrEqual(3);
    },
  );
});

describe('retention and pruning', () => {
  /** Snapshots of `dir` at `times` (restic backup --time), recorded with the mover's host name. */
  function seed(env: Record<string, string>, dir: string, times: Date[]): void {
    resticCli(env, ['init']);
    for (const [i, time] of times.entries()) {
      writeFileSync(join(dir, 'version.txt'), `version ${i + 1}\n`);
      const stamp = time
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, '');
      resticCli(env, ['backup', '.', '--host', 'scribe', '--time', stamp], dir);
    }
  }

  const day = 24 * 3600 * 1000;
  const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z').getTime();
  const at = (days: number, hours: number) => new Date(today - days * day + hours * 3600 * 1000);

  it('forget keeps exactly what the policy says (daily 3: the newest of each of the last 3 days)', async () => {
    const source = newDir('source');
    const env = moverEnv(source, { SCRIBE_RETAIN_DAILY: '3', TZ: 'UTC' });
    seed(env, source, [at(10, 12), at(3, 12), at(2, 10), at(2, 11), at(1, 12)]);
    const run = await runEntrypoint('restic', 'source', env);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('forget: kept 3, removed 3 snapshot(s) (--keep-daily 3)');
    const times = snapshotTimes(env);
    expect(times).toHaveLength(3);
    expect(times.slice(0, 2)).toEqual([at(2, 11).toISOString(), at(1, 12).toISOString()]);
  });

  it('within with weeks ("1w") keeps the snapshots of the 7 days before the newest', async () => {
    const source = newDir('source');
    const env = moverEnv(source, { SCRIBE_RETAIN_WITHIN: '1w', SCRIBE_PRUNE_INTERVAL_DAYS: '7' });
    seed(env, source, [at(30, 12), at(9, 12), at(3, 12), at(1, 12)]);
    const run = await runEntrypoint('restic', 'source', env);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('forget: kept 3, removed 2 snapshot(s) (--keep-within 7d)');
    expect(snapshotTimes(env).slice(0, 2)).toEqual([at(3, 12).toISOString(), at(1, 12).toISOString()]);
  });

  it('no retain policy keeps every snapshot', async () => {
    const source = newDir('source');
    const env = moverEnv(source);
    seed(env, source, [at(400, 1), at(200, 1)]);
    const run = await runEntrypoint('restic', 'source', env);
    expect(run.output).toContain('forget skipped: no retain policy, every snapshot is kept');
    expect(snapshotTimes(env)).toHaveLength(3);
  });

  it('prunes only when pruneIntervalDays have passed since the last prune, and reports when it did', async () => {
    const source = newDir('source');
    writeFileSync(join(source, 'f'), 'x');
    const env = moverEnv(source, { SCRIBE_RETAIN_LAST: '1', SCRIBE_PRUNE_INTERVAL_DAYS: '7' });
    const recent = new Date(Date.now() - 6 * day).toISOString();
    const notDue = await runEntrypoint('restic', 'source', { ...env, SCRIBE_LAST_PRUNED: recent });
    expect(notDue.code, notDue.output).toBe(0);
    expect(notDue.output).toMatch(/prune: not due/);
    expect(notDue.output).not.toMatch(/lastPruned=/);

    const before = Date.now();
    const old = new Date(Date.now() - 8 * day).toISOString();
    writeFileSync(join(source, 'f'), 'y'); // the first snapshot's data becomes unused after forget
    const due = await runEntrypoint('restic', 'source', { ...env, SCRIBE_LAST_PRUNED: old });
    expect(due.code, due.output).toBe(0);
    const match = /^scribe restic: lastPruned=(\S+)$/m.exec(due.output);
    expect(match).not.toBeNull();
    expect(new Date(match?.[1] as string).getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(due.output).toMatch(/this removes:\s+\d+ blobs/);
    expect(summaryOf(due.output)).toContain('scribe restic: lastPruned=');
  });
});

describe('choosing the snapshot to restore', () => {
  let env: Record<string, string>;
  const times = [new Date('2024-01-01T10:00:00Z'), new Date('2024-02-01T10:00:00Z'), new Date('2024-03-01T10:00:00Z')];

  beforeAll(() => {
    const source = newDir('source');
    env = moverEnv(source);
    resticCli(env, ['init']);
    for (const [i, time] of times.entries()) {
      writeFileSync(join(source, 'version.txt'), `version ${i + 1}\n`);
      resticCli(
        env,
        ['backup', '.', '--host', 'scribe', '--time', time.toISOString().slice(0, 19).replace('T', ' ')],
        source,
      );
    }
  });

  async function restoreWith(extra: Record<string, string>) {
    const target = newDir('target');
    writeFileSync(join(target, 'version.txt'), 'untouched\n');
    const run = await runEntrypoint('restic', 'destination', { ...env, SCRIBE_DATA_DIR: target, ...extra });
    return { ...run, version: readFileSync(join(target, 'version.txt'), 'utf8').trim() };
  }

  it('restores the latest by default, restoreAsOf the newest at or before, previous skips', async () => {
    expect((await restoreWith({})).version).toBe('version 3');
    expect((await restoreWith({ SCRIBE_RESTORE_AS_OF: '2024-02-15T00:00:00Z' })).version).toBe('version 2');
    expect((await restoreWith({ SCRIBE_RESTORE_AS_OF: '2024-02-01T10:00:00Z' })).version).toBe('version 2');
    expect((await restoreWith({ SCRIBE_PREVIOUS: '1' })).version).toBe('version 2');
    expect((await restoreWith({ SCRIBE_PREVIOUS: '2' })).version).toBe('version 1');
    expect(
      (await restoreWith({ SCRIBE_RESTORE_AS_OF: '2024-03-01T09:00:00+00:00', SCRIBE_PREVIOUS: '1' })).version,
    ).toBe('version 1');
  });

  it('fails loudly, leaving the volume untouched, when nothing matches', async () => {
    const early = await restoreWith({ SCRIBE_RESTORE_AS_OF: '2023-12-31T00:00:00Z' });
    expect(early.code).toBe(4);
    expect(early.version).toBe('untouched');
    expect(summaryOf(early.output)).toMatch(
      /result: failed: nothing to restore: the repository holds 3 snapshot\(s\), but not 1 snapshot\(s\) taken at or before 2023-12-31T00:00:00.000Z.*the volume was left untouched; exit code 4/,
    );
    const tooFar = await restoreWith({ SCRIBE_PREVIOUS: '3' });
    expect(tooFar.code).toBe(4);
  });

  it('fails an empty repository and a missing one, never restoring "nothing"', async () => {
    const emptyEnv = moverEnv(newDir('unused'));
    resticCli(emptyEnv, ['init']);
    const target = newDir('target');
    writeFileSync(join(target, 'precious'), 'data');
    const empty = await runEntrypoint('restic', 'destination', { ...emptyEnv, SCRIBE_DATA_DIR: target });
    expect(empty.code).toBe(4);
    expect(empty.output).toContain('nothing to restore: the repository holds no snapshot of this volume yet');
    const missing = await runEntrypoint('restic', 'destination', { ...moverEnv(target) });
    expect(missing.code).toBe(10);
    expect(missing.output).toMatch(/result: failed: restic open repository: the repository does not exist/);
    expect(readdirSync(target)).toEqual(['precious']);
  });
});

describe('interruptions and failures', () => {
  it('a backup killed mid-way (SIGKILL of the process group) does not block the next one', async () => {
    const source = newDir('source');
    for (let i = 0; i < 4; i++) writeFileSync(join(source, `big-${i}.bin`), bytes(100 + i, 4 * 1024 * 1024));
    const env = moverEnv(source, { SCRIBE_RETAIN_LAST: '3' });
    const repoDir = join(s3.dataDir, 'backups', `repo-${repoCounter}`);
    const slow = startReaped('restic', 'source', { ...env, SCRIBE_RESTIC_LIMIT_UPLOAD_KIB: '1024' });
    // Mid-way: restic holds its lock and has begun uploading packs.
    await waitUntil(
      'restic to lock the repository and upload data',
      () =>
        slow.output().includes('backing up') && existsSync(join(repoDir, 'locks')) && existsSync(join(repoDir, 'data')),
      60_000,
    );
    await slow.killGroup();
    expect(await slow.exited).toBe(137);
    expect(slow.output()).not.toContain('result:');
    expect(readdirSync(join(repoDir, 'locks')).length).toBeGreaterThan(0);

    const again = await runEntrypoint('restic', 'source', env);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/successfully removed \d+ locks|removed \d+ stale lock/i);
    const target = newDir('target');
    expect((await runEntrypoint('restic', 'destination', { ...env, SCRIBE_DATA_DIR: target })).code).toBe(0);
    expect(describeTree(target, { acl: false, includeRoot: false })).toEqual(
      describeTree(source, { acl: false, includeRoot: false }),
    );
  });

  it(
    'a stale exclusive lock (a restic killed while holding it) is removed when the backup meets it',
    { timeout: 120_000 },
    async () => {
      const source = newDir('source');
      for (let i = 0; i < 3; i++) writeFileSync(join(source, `part-${i}.bin`), bytes(200 + i, 2 * 1024 * 1024));
      const env = moverEnv(source);
      const lockDir = join(s3.dataDir, 'backups', `repo-${repoCounter}`, 'locks');
      expect((await runEntrypoint('restic', 'source', env)).code).toBe(0);
      const locks = () => resticCli(env, ['list', 'locks', '--no-lock']).trim().split('\n').filter(Boolean);
      // `repair index` takes the exclusive lock first, then reads the index and every pack's
      // header at 1 KiB/s: killed once its lock is in the bucket, it leaves that lock, made on
      // this host by a PID no longer running. The bucket's directory is watched (not restic,
      // which takes half a second per call) so the kill comes before it could finish.
      const lockObjects = () => (existsSync(lockDir) ? readdirSync(lockDir) : []);
      const before = new Set(lockObjects());
      const holder = spawn(
        restic,
        ['repair', 'index', '--read-all-packs', '--limit-download', '1', '--cache-dir', env.SCRIBE_CACHE_DIR as string],
        { env: { ...process.env, ...env }, stdio: 'ignore' },
      );
      const holderExited = new Promise<number | null>((resolve) => holder.on('close', resolve));
      await waitUntil(
        'the exclusive lock in the bucket',
        () => lockObjects().some((name) => !before.has(name)),
        30_000,
      );
      holder.kill('SIGKILL');
      expect(await holderExited).toBeNull();
      expect(locks()).toHaveLength(1);

      const again = await runEntrypoint('restic', 'source', env);
      expect(again.code, again.output).toBe(0);
      expect(again.output).toContain('backup: the repository is locked; removing stale locks (restic unlock)');
      expect(again.output).toMatch(/successfully removed 1 locks/i);
      expect(locks()).toEqual([]);
      expect(snapshotTimes(env)).toHaveLength(2);
    },
  );

  it('a backup to an endpoint that does not answer gives up after SCRIBE_REPOSITORY_TIMEOUT_SECONDS', async () => {
    const source = newDir('source');
    writeFileSync(join(source, 'f'), 'x');
    const started = Date.now();
    const run = await runEntrypoint('restic', 'source', {
      ...moverEnv(source),
      RESTIC_REPOSITORY: `s3:http://127.0.0.1:${await freePort()}/backups/repo`,
      SCRIBE_REPOSITORY_TIMEOUT_SECONDS: '3',
    });
    expect(run.code, run.output).toBe(124);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(summaryOf(run.output)).toMatch(
      /restic backup: no answer from the repository within SCRIBE_REPOSITORY_TIMEOUT_SECONDS: .*connection refused/,
    );
    expect(run.output).not.toContain('initializing');
  });

  it('a wrong password fails clearly and never re-initializes the repository', async () => {
    const source = newDir('source');
    writeFileSync(join(source, 'f'), 'x');
    const env = moverEnv(source);
    expect((await runEntrypoint('restic', 'source', env)).code).toBe(0);
    const wrong = await runEntrypoint('restic', 'source', { ...env, RESTIC_PASSWORD: 'not the password at all' });
    expect(wrong.code).toBe(12);
    expect(summaryOf(wrong.output)).toMatch(/result: failed: restic backup: wrong password/);
    expect(wrong.output).not.toContain('initializing');
    expect(wrong.output).not.toContain('not the password at all');
    expectNoSecrets(wrong.output);
    expect(snapshotTimes(env)).toHaveLength(1);

    const target = newDir('target');
    writeFileSync(join(target, 'precious'), 'data');
    const restore = await runEntrypoint('restic', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: target,
      RESTIC_PASSWORD: 'not the password at all',
    });
    expect(restore.code).toBe(12);
    expect(readdirSync(target)).toEqual(['precious']);
  });

  it('a missing bucket and an unreachable endpoint fail the restore, leaving the volume untouched', async () => {
    const target = newDir('target');
    writeFileSync(join(target, 'precious'), 'data');
    const noBucket = await runEntrypoint('restic', 'destination', {
      ...moverEnv(target),
      RESTIC_REPOSITORY: `s3:${s3.endpoint}/no-such-bucket/repo`,
    });
    expect(noBucket.code).toBe(10);
    expect(summaryOf(noBucket.output)).toMatch(
      /the bucket does not exist \(S3 answered "The specified bucket does not exist"\)/,
    );
    expectNoSecrets(noBucket.output);

    const port = await freePort();
    const started = Date.now();
    const unreachable = await runEntrypoint('restic', 'destination', {
      ...moverEnv(target),
      RESTIC_REPOSITORY: `s3:http://127.0.0.1:${port}/backups/repo`,
      SCRIBE_REPOSITORY_TIMEOUT_SECONDS: '3',
    });
    expect(unreachable.code).toBe(124);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(summaryOf(unreachable.output)).toMatch(
      /no answer from the repository within SCRIBE_REPOSITORY_TIMEOUT_SECONDS: .*connection refused/,
    );
    expectNoSecrets(unreachable.output);
    expect(readdirSync(target)).toEqual(['precious']);
  });

  it('redacts credentials embedded in the repository URL', async () => {
    const target = newDir('target');
    const run = await runEntrypoint('restic', 'destination', {
      ...moverEnv(target),
      RESTIC_REPOSITORY: `rest:http://scribe:hunter2hunter2@127.0.0.1:${await freePort()}/repo`,
      SCRIBE_REPOSITORY_TIMEOUT_SECONDS: '2',
    });
    expect(run.code).not.toBe(0);
    expect(run.output).not.toContain('hunter2hunter2');
    expect(run.output).toContain('[redacted]@127.0.0.1');
  });
});
