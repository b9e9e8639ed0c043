/**
 * Mover pods of the object-storage movers killed mid-transfer (issue 10), on a whole local system
 * of this file's own with real restic, rclone and MinIO: the retry completes, the destination's
 * previous image stays intact until a new one is complete, and a restic repository is never
 * left locked.
 *
 * The movers reach MinIO through a relay whose bandwidth the test turns down just before the
 * transfer it interrupts (test/support/slow-link.ts): on loopback a whole transfer takes about a
 * second, too short to be sure of catching it in the middle. Syncs that are not interrupted, and
 * the retries, run at full speed. A mover is killed the way a node loss would kill it: its pod
 * deleted with gracePeriodSeconds 0 (the local runtime's agent then SIGKILLs it), once its log
 * and the repository show it is transferring; the link speeds up only once its processes are gone.
 * The test's own restic calls go to MinIO directly and never take a lock (--no-lock).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lchown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { startLocalRuntime, type LocalRuntime } from '../../src/local/runtime.js';
import { create, createPvc, get, patch, pvcDirectory, waitForObject } from '../../src/local/objects.js';
import { startS3Server, type S3Server } from '../../src/local/s3.js';
import { toolDir } from '../../src/local/tools.js';
import { rcloneDestinationName, rcloneSourceName } from '../../src/movers/rclone/names.js';
import { resticDestinationName, resticHostName, resticSourceName } from '../../src/movers/restic/names.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import { expectRcloneCopy } from '../support/rclone-tree.js';
import { killMoverMidway } from '../support/kill-mover.js';
import { startSlowLink, type SlowLink } from '../support/slow-link.js';

const run = promisify(execFile);
const API = 'scribe.backube/v1alpha1';
/** The link's bandwidth while a transfer is to be interrupted: tens of seconds for the data below. */
const SLOW = 1024 * 1024;

let runtime: LocalRuntime;
let s3: S3Server;
let link: SlowLink;
let resticBin: string;

beforeAll(async () => {
  runtime = await startLocalRuntime();
  s3 = await startS3Server();
  link = await startSlowLink(new URL(s3.endpoint).host);
  resticBin = join(await toolDir('restic'), 'restic');
  for (const name of ['src', 'dst']) {
    await create(runtime.kc, 'Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
});
afterAll(async () => {
  await link?.close();
  await s3?.stop();
  await runtime?.stop();
});

/** A name no earlier attempt of the test (vitest retries once) has used. */
const fresh = (base: string) => `${base}-${randomBytes(2).toString('hex')}`;

type Tree = ReturnType<typeof snapshotTree>;

/** The tree without the volume root's own entry: it is the volume's (restic does not restore its mode and times; a mover running as the application may not set them). */
function withoutRoot(tree: Tree): Tree {
  const { '.': _root, ...rest } = tree;
  return rest;
}

/**
 * Fills (version one) or changes (version two: half the files rewritten, some deleted, new ones
 * added) a volume with incompressible data: `big` files of 4 MiB and `small` files of 64 KiB.
 */
async function writeVolume(dir: string, version: 'one' | 'two', big: number, small: number) {
  await mkdir(join(dir, 'big'), { recursive: true });
  await mkdir(join(dir, 'small', 'nested'), { recursive: true });
  const smallPath = (i: number) => join(dir, 'small', i % 3 === 0 ? 'nested' : '', `s${i}`);
  if (version === 'one') {
    for (let i = 0; i < big; i++) await writeFile(join(dir, 'big', `b${i}`), randomBytes(4 * 1024 * 1024));
    for (let i = 0; i < small; i++) await writeFile(smallPath(i), randomBytes(64 * 1024));
    await writeFile(join(dir, 'version'), 'one\n');
    await ownByApp(dir);
    return;
  }
  for (let i = 0; i < big; i += 2) await writeFile(join(dir, 'big', `b${i}`), randomBytes(4 * 1024 * 1024));
  for (let i = 0; i < small; i += 2) await writeFile(smallPath(i), randomBytes(64 * 1024));
  for (let i = 1; i < small; i += 10) await rm(smallPath(i));
  for (let i = small; i < small + small / 4; i++) await writeFile(smallPath(i), randomBytes(64 * 1024));
  await writeFile(join(dir, 'version'), 'two\n');
  await ownByApp(dir);
}

/** The application's user: it owns the volume's files, and the movers run as it (docs/permissions.md). */
const APP = 999;
const AS_APP = { moverSecurityContext: { runAsUser: APP, runAsGroup: APP, fsGroup: APP } };

/** Gives everything below the volume's root to the application's user, as its writes would. */
async function ownByApp(dir: string): Promise<void> {
  for (const path of await readdir(dir, { recursive: true })) await lchown(join(dir, path), APP, APP);
}

/** A bucket and, in each namespace, a restic repository Secret pointing into it through the link. */
async function resticRepository(name: string) {
  const bucket = fresh('restic');
  await s3.createBucket(bucket);
  const password = randomBytes(12).toString('hex');
  const credentials = { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey };
  for (const ns of ['src', 'dst']) {
    await create(runtime.kc, 'Secret', ns, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name },
      stringData: {
        RESTIC_REPOSITORY: `s3:http://${link.address}/${bucket}/repo`,
        RESTIC_PASSWORD: password,
        ...credentials,
      },
    });
  }
  // The test's view of the same repository: MinIO directly, no cache, never a lock of its own.
  const env = {
    ...process.env,
    ...credentials,
    RESTIC_REPOSITORY: `s3:${s3.endpoint}/${bucket}/repo`,
    RESTIC_PASSWORD: password,
  };
  const restic = async (...args: string[]) =>
    (await run(resticBin, [...args, '--no-lock', '--no-cache'], { env, maxBuffer: 16 * 1024 * 1024 })).stdout;
  return {
    name,
    /** The locks in the repository, with who holds them. */
    async locks(): Promise<Array<{ id: string; hostname: string; exclusive: boolean }>> {
      const ids = (await restic('list', 'locks')).split('\n').filter(Boolean);
      const locks = [];
      for (const id of ids) {
        // A lock that cannot be read is still a lock.
        const text = await restic('cat', 'lock', id).catch(() => '{"hostname":"(unreadable)"}');
        const lock = JSON.parse(text) as { hostname: string; exclusive?: boolean };
        locks.push({ id, hostname: lock.hostname, exclusive: lock.exclusive ?? false });
      }
      return locks;
    },
    async snapshots(): Promise<Array<{ id: string }>> {
      return JSON.parse(await restic('snapshots', '--json')) as Array<{ id: string }>;
    },
  };
}

/** A bucket and, in each namespace, an rclone configuration Secret pointing into it through the link. */
async function rcloneRemote(name: string) {
  const bucket = fresh('rclone');
  await s3.createBucket(bucket);
  const conf = [
    '[minio]',
    'type = s3',
    'provider = Minio',
    'env_auth = false',
    `access_key_id = ${s3.accessKey}`,
    `secret_access_key = ${s3.secretKey}`,
    `endpoint = http://${link.address}`,
    '',
  ].join('\n');
  for (const ns of ['src', 'dst']) {
    await create(runtime.kc, 'Secret', ns, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name },
      stringData: { 'rclone.conf': conf },
    });
  }
  return { rcloneConfigSection: 'minio', rcloneDestPath: `${bucket}/volume`, rcloneConfig: name };
}

const readSource = (name: string) => () => get<ReplicationSource>(runtime.kc, 'ReplicationSource', 'src', name);
const readDestination = (name: string) => () =>
  get<ReplicationDestination>(runtime.kc, 'ReplicationDestination', 'dst', name);

function createSource(name: string, manual: string, mover: object) {
  return create(runtime.kc, 'ReplicationSource', 'src', {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name },
    spec: { sourcePVC: name, trigger: { manual }, ...mover },
  });
}

function createDestination(name: string, manual: string, mover: object) {
  return create(runtime.kc, 'ReplicationDestination', 'dst', {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name },
    spec: { trigger: { manual }, ...mover },
  });
}

const trigger = (kind: 'ReplicationSource' | 'ReplicationDestination', ns: string, name: string, manual: string) =>
  patch(runtime.kc, kind, ns, name, { spec: { trigger: { manual } } });

/** Waits until a CR has completed the sync of `manual`. */
function synced<T extends ReplicationSource | ReplicationDestination>(
  read: () => Promise<T | undefined>,
  manual: string,
  timeoutMs = 300_000,
) {
  return waitForObject(`sync ${manual}`, read, (cr) => cr.status?.lastManualSync === manual, timeoutMs);
}

/** The journal's entries into `failed`: a sync that completes after one was a retry. */
function failedAttempts(cr: ReplicationSource | ReplicationDestination) {
  return (cr.status?.journal ?? []).filter((entry) => entry.to === 'failed');
}

/**
 * What a destination's killed and retried sync must show: until the retry had succeeded (the
 * states before preserving), latestImage stayed on `previous`; an attempt failed; then a new
 * image came. Returns the new image's name.
 */
function expectImageKeptUntilRetried(
  { done, seen }: Awaited<ReturnType<typeof watchDestination>>,
  previous: string,
): string {
  const beforeNewImage = seen.filter((s) => !s.synced && ['moving', 'failed', 'snapshotting'].includes(s.state ?? ''));
  expect(beforeNewImage.length).toBeGreaterThan(0);
  expect(beforeNewImage.filter((s) => s.image !== previous)).toEqual([]);
  expect(seen.some((s) => s.state === 'failed')).toBe(true);
  expect(failedAttempts(done).length).toBeGreaterThan(0);
  const image = done.status?.latestImage?.name;
  expect(image).toBeDefined();
  expect(image).not.toBe(previous);
  return image as string;
}

/**
 * Waits for the destination's sync of `manual`, recording every (state, latestImage) it shows on
 * the way; returns the final object and the record.
 */
async function watchDestination(read: () => Promise<ReplicationDestination | undefined>, manual: string) {
  const seen: Array<{ state?: string; image?: string; synced: boolean }> = [];
  const done = await waitForObject(
    `sync ${manual}`,
    async () => {
      const rd = await read();
      if (rd)
        seen.push({
          state: rd.status?.state,
          image: rd.status?.latestImage?.name,
          synced: rd.status?.lastManualSync === manual,
        });
      return rd;
    },
    (rd) => rd.status?.lastManualSync === manual,
    300_000,
  );
  return { done, seen };
}

/** The data of a VolumeSnapshot, through a PVC restored from it. */
async function snapshotData(name: string, snapshot: string) {
  await createPvc(runtime.kc, 'dst', name, {
    dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: snapshot },
  });
  return snapshotTree(await pvcDirectory(runtime.kc, 'dst', name));
}

describe('object-storage movers killed mid-transfer', () => {
  it('restic source: a backup killed mid-upload is retried to completion, no lock is left, and it restores', async () => {
    const kc = runtime.kc;
    const id = fresh('rsrc');
    const repo = await resticRepository(`${id}-repo`);
    await createPvc(kc, 'src', id);
    const dir = await pvcDirectory(kc, 'src', id);
    await writeVolume(dir, 'one', 12, 80);
    link.setRate(SLOW);
    // retain makes the backup run `forget`, which needs an exclusive lock: a lock the killed
    // backup left behind would fail the retry.
    await createSource(id, 'one', {
      restic: { repository: repo.name, copyMethod: 'Clone', retain: { last: 3 }, ...AS_APP },
    });
    await killMoverMidway(
      runtime.kc,
      'src',
      resticSourceName(id),
      async (log) => log.includes('scribe restic backup: backing up') && (await repo.locks()).length > 0,
    );
    link.setRate(Number.POSITIVE_INFINITY);
    // The killed backup could not remove its lock: the fault is real.
    const left = await repo.locks();
    expect(left.map((lock) => lock.hostname)).toContain(resticHostName('src', 'src', id));
    expect(await repo.snapshots()).toEqual([]);

    const done = await synced(readSource(id), 'one');
    expect(done.status?.latestMoverStatus?.result).toBe('Successful');
    expect(failedAttempts(done).length).toBeGreaterThan(0);
    expect((await readSource(id)())?.status?.conditions?.find((c) => c.type === 'Reconciled')?.status).toBe('True');
    // No one ran unlock by hand, and the repository is not locked.
    expect(await repo.locks()).toEqual([]);
    expect(await repo.snapshots()).toHaveLength(1);

    await createPvc(kc, 'dst', `${id}-restored`);
    await createDestination(`${id}-restore`, 'restore', {
      restic: { repository: repo.name, destinationPVC: `${id}-restored`, copyMethod: 'None', ...AS_APP },
    });
    await synced(readDestination(`${id}-restore`), 'restore');
    expect(await repo.locks()).toEqual([]);
    expect(withoutRoot(snapshotTree(await pvcDirectory(kc, 'dst', `${id}-restored`)))).toEqual(
      withoutRoot(snapshotTree(dir)),
    );
  });

  it('restic destination: a restore killed mid-download keeps the previous image until the retry completes, and no lock is left', async () => {
    const kc = runtime.kc;
    const id = fresh('rdst');
    const rd = `${id}-dest`;
    const repo = await resticRepository(`${id}-repo`);
    await createPvc(kc, 'src', id);
    const dir = await pvcDirectory(kc, 'src', id);
    await writeVolume(dir, 'one', 12, 80);
    await createSource(id, 'one', { restic: { repository: repo.name, copyMethod: 'Clone', ...AS_APP } });
    await synced(readSource(id), 'one');
    const treeOne = withoutRoot(snapshotTree(dir));
    // enableFileDeletion: the image must equal the source, whose second version deletes files.
    await createDestination(rd, 'one', {
      restic: { repository: repo.name, copyMethod: 'Snapshot', capacity: '1Gi', enableFileDeletion: true, ...AS_APP },
    });
    const first = await waitForObject(
      'the first image',
      readDestination(rd),
      (d) => d.status?.lastManualSync === 'one' && Boolean(d.status?.latestImage?.name),
    );
    const previous = first.status?.latestImage?.name as string;

    await writeVolume(dir, 'two', 12, 80);
    await trigger('ReplicationSource', 'src', id, 'two');
    await synced(readSource(id), 'two');
    const treeTwo = withoutRoot(snapshotTree(dir));
    expect(treeTwo).not.toEqual(treeOne);

    link.setRate(SLOW);
    await trigger('ReplicationDestination', 'dst', rd, 'two');
    await killMoverMidway(
      runtime.kc,
      'dst',
      resticDestinationName(rd),
      async (log) => log.includes('scribe restic restore: restoring snapshot') && (await repo.locks()).length > 0,
    );
    link.setRate(Number.POSITIVE_INFINITY);
    expect((await repo.locks()).map((lock) => lock.hostname)).toContain(resticHostName('dest', 'dst', rd));
    expect((await readDestination(rd)())?.status?.latestImage?.name).toBe(previous);

    const watching = watchDestination(readDestination(rd), 'two');
    watching.catch(() => undefined); // awaited below
    // Meanwhile the previous image is intact: a PVC restored from it holds the first restore.
    // (Once the new image is complete the previous one is deleted, so this is the time to look.)
    expect(withoutRoot(await snapshotData(`${id}-previous`, previous))).toEqual(treeOne);
    const image = expectImageKeptUntilRetried(await watching, previous);
    expect(await repo.locks()).toEqual([]);

    expect(withoutRoot(await snapshotData(`${id}-new`, image))).toEqual(treeTwo);
  });

  it('rclone: a source and then a destination killed mid-sync both retry to completion, and the previous image stays until the new one is complete', async () => {
    const kc = runtime.kc;
    const id = fresh('rcl');
    const rd = `${id}-dest`;
    const remote = await rcloneRemote(`${id}-conf`);
    await createPvc(kc, 'src', id);
    const dir = await pvcDirectory(kc, 'src', id);
    await writeVolume(dir, 'one', 2, 400);
    await createSource(id, 'one', { rclone: { ...remote, copyMethod: 'Clone', ...AS_APP } });
    await synced(readSource(id), 'one');
    const treeOne = withoutRoot(snapshotTree(dir));
    await createDestination(rd, 'one', {
      rclone: { ...remote, copyMethod: 'Snapshot', capacity: '1Gi', accessModes: ['ReadWriteOnce'], ...AS_APP },
    });
    const first = await waitForObject(
      'the first image',
      readDestination(rd),
      (d) => d.status?.lastManualSync === 'one' && Boolean(d.status?.latestImage?.name),
    );
    const previous = first.status?.latestImage?.name as string;

    // The source, killed while uploading the changes.
    await writeVolume(dir, 'two', 2, 400);
    const treeTwo = withoutRoot(snapshotTree(dir));
    expect(treeTwo).not.toEqual(treeOne);
    link.setRate(SLOW);
    await trigger('ReplicationSource', 'src', id, 'two');
    await killMoverMidway(runtime.kc, 'src', rcloneSourceName(id), (log) => /: Copied \(/.test(log));
    link.setRate(Number.POSITIVE_INFINITY);
    const sent = await synced(readSource(id), 'two');
    expect(sent.status?.latestMoverStatus?.result).toBe('Successful');
    expect(failedAttempts(sent).length).toBeGreaterThan(0);

    // The destination, killed while downloading them.
    link.setRate(SLOW);
    await trigger('ReplicationDestination', 'dst', rd, 'two');
    await killMoverMidway(runtime.kc, 'dst', rcloneDestinationName(rd), (log) => /: Copied \(/.test(log));
    link.setRate(Number.POSITIVE_INFINITY);
    expect((await readDestination(rd)())?.status?.latestImage?.name).toBe(previous);

    const watching = watchDestination(readDestination(rd), 'two');
    watching.catch(() => undefined); // awaited below
    expectRcloneCopy(withoutRoot(await snapshotData(`${id}-previous`, previous)), treeOne);
    const image = expectImageKeptUntilRetried(await watching, previous);

    expectRcloneCopy(withoutRoot(await snapshotData(`${id}-new`, image)), treeTwo);
  });
});
