/**
 * The rclone mover's entrypoints against real rclone and a real S3 server (MinIO) on 127.0.0.1:
 * round trips with ownership, modes, mtimes, symlinks, empty directories and ACLs, one source
 * feeding two destinations, and failures that leave the destination untouched.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/local/processes.js';
import { startS3Server, type S3Server } from '../../../src/local/s3.js';
import { toolDir } from '../../../src/local/tools.js';
import { lastProgress } from '../../../src/movers/runtime/progress.js';
import { RECORD_NAME } from '../../../src/movers/rclone/record.js';
import {
  aclSupported,
  buildTree,
  describeTree,
  runEntrypoint,
  summaryOf,
  tempDir,
  walk,
} from '../restic/support/movers.js';

const cleanup: (() => void)[] = [];
let s3: S3Server;
let rclone: string;
let work: string;
let counter = 0;

beforeAll(async () => {
  rclone = join(await toolDir('rclone'), 'rclone');
  s3 = await startS3Server();
  await s3.createBucket('replication');
  work = tempDir(cleanup, 'scribe-rclone-test-');
}, 300_000);
afterAll(async () => {
  await s3?.stop();
  cleanup.forEach((fn) => fn());
});

function writeConfig(overrides: { endpoint?: string; secret?: string } = {}): string {
  const file = join(work, `rclone-${++counter}.conf`);
  writeFileSync(
    file,
    [
      '[scribe-s3]',
      'type = s3',
      'provider = Minio',
      `access_key_id = ${s3.accessKey}`,
      `secret_access_key = ${overrides.secret ?? s3.secretKey}`,
      `endpoint = ${overrides.endpoint ?? s3.endpoint}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  return file;
}

function moverEnv(dataDir: string, destPath: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SCRIBE_RCLONE_CONFIG: writeConfig(),
    SCRIBE_RCLONE_CONFIG_SECTION: 'scribe-s3',
    SCRIBE_RCLONE_DEST_PATH: destPath,
    SCRIBE_DATA_DIR: dataDir,
    SCRIBE_RUN_DIR: work,
    SCRIBE_RCLONE: rclone,
    // Fail fast where a real deployment would retry a while.
    RCLONE_RETRIES: '1',
    RCLONE_LOW_LEVEL_RETRIES: '1',
    RCLONE_CONTIMEOUT: '3s',
    ...extra,
  };
}

function newDir(name: string): string {
  const dir = join(work, `${name}-${++counter}`);
  mkdirSync(dir);
  return dir;
}

/** The remote's objects with sizes and mtimes, to show the destinations never write. */
function listRemote(env: Record<string, string>): unknown[] {
  const result = spawnSync(
    rclone,
    ['lsjson', '-R', '--config', env.SCRIBE_RCLONE_CONFIG as string, `scribe-s3:${env.SCRIBE_RCLONE_DEST_PATH}`],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(result.stderr);
  // S3 has no directories: rclone invents them with the listing's time.
  return (JSON.parse(result.stdout) as { IsDir: boolean }[]).filter((o) => !o.IsDir);
}

function expectNoSecrets(output: string): void {
  expect(output).not.toContain(s3.secretKey);
  expect(output).not.toContain(s3.accessKey);
}

/** Bytes rclone carries for a tree: regular files' sizes and symlinks' target lengths (lstat). */
function treeBytes(root: string): number {
  return walk(root)
    .map((path) => lstatSync(join(root, path)))
    .filter((stat) => !stat.isDirectory())
    .reduce((sum, stat) => sum + stat.size, 0);
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/**
 * The mover wrote `scribe progress:` lines, and the last one counts what rclone's final
 * statistics say it transferred: the same number of files, `bytes` (the tree's) to rclone's
 * rounding of its byte count.
 */
function expectProgressMatchesTransfer(output: string, bytes: number) {
  expect(output).toMatch(/^scribe progress: files=\d+ bytes=\d+ elapsed=\d+\.\d$/m);
  const progress = lastProgress(output);
  const files = [...output.matchAll(/^Transferred:\s+(\d+) \/ \d+, 100%$/gm)].at(-1)?.[1];
  const size = [...output.matchAll(/^Transferred:\s+([\d.]+) (\w?i?B) \/ /gm)].at(-1);
  expect(Number(files), output).toBeGreaterThan(0);
  expect(progress?.files).toBe(Number(files));
  expect(bytes).toBeGreaterThan(0);
  expect(progress?.bytes).toBe(bytes);
  const reported = Number(size?.[1]) * (UNITS[size?.[2] ?? ''] ?? NaN);
  expect(Math.abs(reported - bytes)).toBeLessThanOrEqual(Math.max(1, bytes * 0.001));
}

describe('rclone source and destinations', () => {
  it('one source feeds two destinations; each ends identical to the source, the remote unchanged by them', async () => {
    const source = newDir('source');
    const acl = aclSupported(source);
    buildTree(source, { acl });
    chmodSync(source, 0o750);
    const env = moverEnv(source, 'replication/volume-a');
    const sent = await runEntrypoint('rclone', 'source', env);
    expect(sent.code, sent.output).toBe(0);
    expect(summaryOf(sent.output)).toMatch(/^Transferred:\s+\d+ \/ \d+, 100%$/m);
    expect(summaryOf(sent.output)).toMatch(
      /result: synchronized 18 entries to scribe-s3:replication\/volume-a; exit code 0$/,
    );
    expectNoSecrets(sent.output);
    expectProgressMatchesTransfer(sent.output, treeBytes(source));
    const remoteBefore = listRemote(env);
    expect(JSON.stringify(remoteBefore)).toContain(RECORD_NAME);
    expect(JSON.stringify(remoteBefore)).not.toContain('lost+found');

    const first = newDir('dest');
    const second = newDir('dest');
    // The first destination holds stale data and its own lost+found.
    mkdirSync(join(first, 'lost+found'));
    writeFileSync(join(first, 'lost+found', 'keep'), 'debris');
    mkdirSync(join(first, 'old-dir/inner'), { recursive: true });
    writeFileSync(join(first, 'small.txt'), 'stale');
    for (const dest of [first, second]) {
      const got = await runEntrypoint('rclone', 'destination', { ...env, SCRIBE_DATA_DIR: dest });
      expect(got.code, got.output).toBe(0);
      expect(summaryOf(got.output)).toMatch(/applied the record: \d+ removed, \d+ created, ACLs (restored|none)/);
      expectNoSecrets(got.output);
      expect(describeTree(dest, { acl })).toEqual(describeTree(source, { acl }));
      expectProgressMatchesTransfer(got.output, treeBytes(dest));
    }
    expect(readFileSync(join(first, 'lost+found', 'keep'), 'utf8')).toBe('debris');
    expect(listRemote(env)).toEqual(remoteBefore);
  });

  it.each([
    ['a live volume (record read before the sync)', 'volume-b', {}],
    ['a point-in-time copy (record read during the sync)', 'volume-c', { SCRIBE_VOLUME_POINT_IN_TIME: 'true' }],
  ])('a later sync carries deletions, new files and changed modes: %s', async (_, path, extra) => {
    const source = newDir('source');
    buildTree(source, { acl: false });
    const env = { ...moverEnv(source, `replication/${path}`), ...extra };
    const dest = newDir('dest');
    expect((await runEntrypoint('rclone', 'source', env)).code).toBe(0);
    expect((await runEntrypoint('rclone', 'destination', { ...env, SCRIBE_DATA_DIR: dest })).code).toBe(0);

    rmSync(join(source, 'docs'), { recursive: true });
    rmSync(join(source, 'link-to-dir'));
    writeFileSync(join(source, 'new.txt'), 'new');
    chmodSync(join(source, 'run.sh'), 0o700);
    mkdirSync(join(source, 'new-empty'));
    const resent = await runEntrypoint('rclone', 'source', env);
    expect(resent.code, resent.output).toBe(0);
    const again = await runEntrypoint('rclone', 'destination', { ...env, SCRIBE_DATA_DIR: dest });
    expect(again.code, again.output).toBe(0);
    expect(describeTree(dest, { acl: false })).toEqual(describeTree(source, { acl: false }));
    // Only what changed moves: new.txt (run.sh's mode is metadata, carried by the record).
    const changed = lstatSync(join(source, 'new.txt')).size;
    expectProgressMatchesTransfer(resent.output, changed);
    expectProgressMatchesTransfer(again.output, changed);
  });
});

describe('failures leave the destination untouched', () => {
  async function failingDestination(env: Record<string, string>) {
    const dest = newDir('dest');
    writeFileSync(join(dest, 'precious'), 'data');
    const run = await runEntrypoint('rclone', 'destination', { ...env, SCRIBE_DATA_DIR: dest });
    expect(run.code).toBe(1);
    expect(readdirSync(dest)).toEqual(['precious']);
    expectNoSecrets(run.output);
    return summaryOf(run.output);
  }

  it('a missing bucket, nothing replicated yet, a wrong secret key and an unreachable endpoint', async () => {
    const data = newDir('unused');
    expect(await failingDestination(moverEnv(data, 'no-such-bucket/volume'))).toMatch(
      /result: failed: rclone fetch of \.scribe-rclone-metadata\.json failed with exit code \d+: .*(bucket does not exist|not found).*has the source synchronized/,
    );
    expect(await failingDestination(moverEnv(data, 'replication/never-written'))).toMatch(
      /result: failed: no \.scribe-rclone-metadata\.json at scribe-s3:replication\/never-written: the source has not synchronized there yet/,
    );
    const wrongKey = {
      ...moverEnv(data, 'replication/volume-a'),
      SCRIBE_RCLONE_CONFIG: writeConfig({ secret: 'x'.repeat(40) }),
    };
    expect(await failingDestination(wrongKey)).toMatch(/SignatureDoesNotMatch|signature|Forbidden|403/i);
    const port = await freePort();
    const unreachable = {
      ...moverEnv(data, 'replication/volume-a'),
      SCRIBE_RCLONE_CONFIG: writeConfig({ endpoint: `http://127.0.0.1:${port}` }),
    };
    expect(await failingDestination(unreachable)).toMatch(/connection refused/);
  });

  it('configuration errors name the variable', async () => {
    const data = newDir('unused');
    const noSection = await runEntrypoint('rclone', 'source', {
      ...moverEnv(data, 'replication/x'),
      SCRIBE_RCLONE_CONFIG_SECTION: 'other',
    });
    expect(noSection.code).toBe(1);
    expect(noSection.output).toContain(
      'rclone.conf has no section [other] (SCRIBE_RCLONE_CONFIG_SECTION); it has: scribe-s3',
    );
    const noConfig = await runEntrypoint('rclone', 'destination', {
      ...moverEnv(data, 'replication/x'),
      SCRIBE_RCLONE_CONFIG: join(work, 'missing.conf'),
    });
    expect(noConfig.output).toMatch(/cannot read the rclone configuration .*missing\.conf \(SCRIBE_RCLONE_CONFIG\)/);
    const badPath = await runEntrypoint('rclone', 'source', { ...moverEnv(data, '../up') });
    expect(badPath.output).toMatch(/SCRIBE_RCLONE_DEST_PATH: rcloneDestPath "\.\.\/up" must name a bucket/);
  });
});
