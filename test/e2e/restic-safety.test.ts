/**
 * restic's data safety end to end, through real restic and a real S3 server (MinIO on loopback):
 * an empty volume is a successful backup and restores as an empty volume; data the volume
 * receives later is backed up by the schedule without the CR being touched; a wrong password
 * fails, and fixing the Secret lets the same CR sync; a restore into a PVC holding files of its
 * own keeps them unless enableFileDeletion is true.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { toolDir } from '../../src/local/tools.js';
import { resticNamespace } from '../support/restic.js';
import { create, createPvc, get, patch, pvcDirectory, waitForObject } from '../support/e2e.js';

const API = 'scribe.backube/v1alpha1';
const PASSWORD = 'my-secure-restic-password';

let restic: string;

beforeAll(async () => {
  restic = join(await toolDir('restic'), 'restic');
});

/** A bucket, a namespace and the repository Secret `restic-config` in it. */
const setup = (prefix: string, password = PASSWORD) => resticNamespace(prefix, password, PASSWORD);

/** Runs restic from the test, with the repository's right password, to set the scene or check it. */
function resticCli(repository: Record<string, string>, args: string[]): string {
  const result = spawnSync(restic, [...args, '--no-cache'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...repository },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`restic ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Every path under `dir` but lost+found and what it holds, sorted. */
async function entries(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true, encoding: 'utf8' });
  return all.filter((name) => name !== 'lost+found' && !name.startsWith('lost+found/')).sort();
}

/** A PVC that already holds files of its own: notes.txt, docs/old.txt. */
async function occupiedPvc(kc: KubeConfig, ns: string, name: string): Promise<string> {
  await createPvc(kc, ns, name);
  const dir = await pvcDirectory(kc, ns, name);
  await mkdir(join(dir, 'docs'), { recursive: true });
  await writeFile(join(dir, 'notes.txt'), 'the user wrote this');
  await writeFile(join(dir, 'docs', 'old.txt'), 'older content');
  return dir;
}

/** Creates a restic ReplicationDestination restoring once (manual `token`) into `pvc`. */
async function restoreInto(kc: KubeConfig, ns: string, name: string, pvc: string, extra: object = {}) {
  await create(kc, 'ReplicationDestination', ns, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name },
    spec: {
      trigger: { manual: 'restore-once' },
      restic: { repository: 'restic-config', destinationPVC: pvc, copyMethod: 'None', ...extra },
    },
  });
}

async function restored(kc: KubeConfig, ns: string, name: string) {
  const rd = await waitForObject(
    `restore ${name}`,
    () => get<ReplicationDestination>(kc, 'ReplicationDestination', ns, name),
    (d) => d.status?.lastManualSync === 'restore-once',
  );
  expect(rd.status?.latestMoverStatus?.result).toBe('Successful');
  return rd;
}

const readSource = (kc: KubeConfig, ns: string) => () => get<ReplicationSource>(kc, 'ReplicationSource', ns, 'backup');

describe('restic data safety on the local runtime', () => {
  it('an empty volume backs up and restores as an empty volume; data it receives later is backed up on schedule', async () => {
    const { kc, ns, repository } = await setup('restic-empty');
    await createPvc(kc, ns, 'data');
    const sourceDir = await pvcDirectory(kc, ns, 'data');
    await mkdir(join(sourceDir, 'lost+found'), { recursive: true }); // all a fresh file system holds
    await create(kc, 'ReplicationSource', ns, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'backup' },
      spec: {
        sourcePVC: 'data',
        trigger: { schedule: '* * * * *' },
        // No retain policy: no forget, so no exclusive lock in the way of the restores below.
        restic: { repository: 'restic-config', copyMethod: 'Snapshot' },
      },
    });
    const first = await waitForObject(
      'the first backup',
      readSource(kc, ns),
      (rs) => Boolean(rs.status?.lastSyncTime) || rs.status?.latestMoverStatus?.result === 'Failed',
    );
    expect(first.status?.latestMoverStatus, JSON.stringify(first.status)).toMatchObject({ result: 'Successful' });
    expect(first.status?.latestMoverStatus?.logs).toMatch(/^backup: snapshot [0-9a-f]{8}; 0 files/m);
    expect(await readdir(sourceDir)).toEqual(['lost+found']);
    const snapshots = JSON.parse(resticCli(repository, ['snapshots', '--json'])) as { tags?: string[] }[];
    expect(snapshots.length).toBeGreaterThanOrEqual(1);

    // Its restore: nothing is written; with enableFileDeletion the volume is emptied.
    const keptDir = await occupiedPvc(kc, ns, 'kept');
    const emptiedDir = await occupiedPvc(kc, ns, 'emptied');
    await mkdir(join(emptiedDir, 'lost+found'), { recursive: true });
    await writeFile(join(emptiedDir, 'lost+found', '#12'), 'file system debris');
    await restoreInto(kc, ns, 'keep', 'kept');
    await restoreInto(kc, ns, 'mirror', 'emptied', { enableFileDeletion: true });
    await restored(kc, ns, 'keep');
    await restored(kc, ns, 'mirror');
    expect(await entries(keptDir)).toEqual(['docs', 'docs/old.txt', 'notes.txt']);
    expect(await entries(emptiedDir)).toEqual([]);
    expect(await readdir(join(emptiedDir, 'lost+found'))).toEqual(['#12']);

    // Data arrives; the next scheduled backup takes it, the CR untouched.
    const untouched = (await readSource(kc, ns)()) as ReplicationSource;
    await mkdir(join(sourceDir, 'db'));
    await writeFile(join(sourceDir, 'db', 'table'), 'alice\nbob\n'.repeat(1000));
    const written = Date.now();
    const later = await waitForObject(
      'a scheduled backup that started after the data was written',
      readSource(kc, ns),
      (rs) => {
        const started = Date.parse(rs.status?.lastSyncStartTime ?? '');
        const completed = Date.parse(rs.status?.lastSyncTime ?? '');
        return started > written && completed >= started;
      },
      200_000,
    );
    expect(later.status?.latestMoverStatus?.result).toBe('Successful');
    expect(later.metadata?.uid).toBe(untouched.metadata?.uid);
    expect(later.metadata?.generation).toBe(untouched.metadata?.generation);
    expect(later.spec).toEqual(untouched.spec);
    expect(resticCli(repository, ['ls', 'latest'])).toMatch(/^\/db\/table$/m);

    await restoreInto(kc, ns, 'after', 'emptied', { enableFileDeletion: true });
    await restored(kc, ns, 'after');
    expect(await entries(emptiedDir)).toEqual(['db', 'db/table']);
    expect(await readFile(join(emptiedDir, 'db', 'table'), 'utf8')).toBe('alice\nbob\n'.repeat(1000));
  });

  it('a wrong password fails the backup; once the Secret is fixed the same CR syncs', async () => {
    const { kc, ns, repository } = await setup('restic-password', 'not-the-password');
    // The repository exists, made with the right password (say, by an earlier cluster).
    resticCli(repository, ['init']);
    await createPvc(kc, ns, 'data');
    const sourceDir = await pvcDirectory(kc, ns, 'data');
    await writeFile(join(sourceDir, 'file.txt'), 'precious');
    await create(kc, 'ReplicationSource', ns, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'backup' },
      spec: {
        sourcePVC: 'data',
        trigger: { manual: 'once' },
        restic: { repository: 'restic-config', copyMethod: 'Clone' },
      },
    });
    const failed = await waitForObject('the failure in status', readSource(kc, ns), (rs) =>
      Boolean(rs.status?.latestMoverStatus?.result === 'Failed'),
    );
    expect(failed.status?.latestMoverStatus?.logs).toMatch(/wrong password/);
    expect(failed.status?.latestMoverStatus?.logs).not.toContain('not-the-password');
    const reconciled = failed.status?.conditions?.find((c) => c.type === 'Reconciled');
    expect(reconciled?.status).toBe('False');
    expect(failed.status?.lastManualSync).toBeUndefined();
    // Never re-initialized: the repository still opens with the right password, and holds nothing.
    expect(JSON.parse(resticCli(repository, ['snapshots', '--json']))).toEqual([]);

    await patch(kc, 'Secret', ns, 'restic-config', {
      data: { RESTIC_PASSWORD: Buffer.from(PASSWORD).toString('base64') },
    });
    const synced = await waitForObject(
      'the sync after the Secret was fixed',
      readSource(kc, ns),
      (rs) => rs.status?.lastManualSync === 'once',
      240_000,
    );
    expect(synced.status?.latestMoverStatus?.result).toBe('Successful');
    expect(synced.metadata?.uid).toBe(failed.metadata?.uid);
    expect(synced.metadata?.generation).toBe(failed.metadata?.generation);
    expect(synced.status?.conditions?.find((c) => c.type === 'Reconciled')?.status).toBe('True');
    expect(resticCli(repository, ['ls', 'latest'])).toMatch(/^\/file\.txt$/m);
  });

  it('a restore into a destinationPVC keeps files the snapshot lacks, unless enableFileDeletion is true', async () => {
    const { kc, ns } = await setup('restic-keep');
    await createPvc(kc, ns, 'data');
    const sourceDir = await pvcDirectory(kc, ns, 'data');
    await mkdir(join(sourceDir, 'docs'));
    await writeFile(join(sourceDir, 'docs', 'old.txt'), 'the backed-up version');
    await writeFile(join(sourceDir, 'new.txt'), 'only in the backup');
    await create(kc, 'ReplicationSource', ns, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'backup' },
      spec: {
        sourcePVC: 'data',
        trigger: { manual: 'once' },
        restic: { repository: 'restic-config', copyMethod: 'None' },
      },
    });
    await waitForObject('the backup', readSource(kc, ns), (rs) => rs.status?.lastManualSync === 'once');

    const keptDir = await occupiedPvc(kc, ns, 'kept');
    const mirroredDir = await occupiedPvc(kc, ns, 'mirrored');
    await restoreInto(kc, ns, 'keep', 'kept');
    await restoreInto(kc, ns, 'mirror', 'mirrored', { enableFileDeletion: true });
    const keep = await restored(kc, ns, 'keep');
    await restored(kc, ns, 'mirror');
    expect(await entries(keptDir)).toEqual(['docs', 'docs/old.txt', 'new.txt', 'notes.txt']);
    expect(await readFile(join(keptDir, 'docs', 'old.txt'), 'utf8')).toBe('the backed-up version');
    expect(await entries(mirroredDir)).toEqual(['docs', 'docs/old.txt', 'new.txt']);
    expect(await readFile(join(mirroredDir, 'docs', 'old.txt'), 'utf8')).toBe('the backed-up version');
    // The API server records the default.
    expect(keep.spec.restic?.enableFileDeletion).toBe(false);
  });
});
