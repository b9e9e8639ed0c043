/**
 * `kubectl scribe restore --as-of` on the local runtime, run through the bundled plugin as a user
 * would: an rsync destination keeping three images restores each of them by time, and a restic
 * destination restores an older backup through restoreAsOf.
 */
import { lchown, mkdir, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { EXIT_FAILURE } from '../../src/plugin/errors.js';
import type { DestinationImage } from '../../src/plugin/restore-choice.js';
import { copySecret } from '../../src/local/objects.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import {
  create,
  createPvc,
  e2eKubeConfig,
  e2eNamespace,
  get,
  patch,
  PRIVILEGED_MOVERS,
  pvcDirectory,
  waitForObject,
} from '../support/e2e.js';
import { createResticSecret, newBucket } from '../support/object-store.js';
import { AS_DB, DB_USER, treeBelowRoot } from '../support/object-storage-walkthrough.js';
import { buildPluginBundle, runPlugin, type PluginRun } from '../support/plugin.js';

const API = 'scribe.backube/v1alpha1';
type Destination = ReplicationDestination & { status?: { images?: DestinationImage[] } };

let bundle: string;
let home: string;

beforeAll(async () => {
  bundle = await buildPluginBundle();
  home = await mkdtemp(join(tmpdir(), 'scribe-restore-e2e-'));
});

/** Runs `kubectl scribe` with the e2e kubeconfig; fails with its output when the exit code differs. */
async function scribe(args: string[], expectedCode = 0): Promise<PluginRun> {
  const run = await runPlugin(bundle, args, {
    cwd: home,
    env: { KUBECONFIG: inject('e2eKubeconfig'), HOME: home },
  });
  if (run.code !== expectedCode) {
    throw new Error(`kubectl-scribe ${args.join(' ')} exited ${run.code}\n${run.stdout}\n${run.stderr}`);
  }
  return run;
}

/** Generation `g` of the sample data: every file says which sync it belongs to. */
async function writeSample(dir: string, g: number, owner?: number) {
  await mkdir(join(dir, 'db', 'tables'), { recursive: true });
  await writeFile(join(dir, 'db', 'tables', 'users'), `users generation ${g}\n`.repeat(1000));
  await writeFile(join(dir, 'db', 'VERSION'), `${g}\n`);
  await writeFile(join(dir, `only-in-${g}`), `${g}\n`);
  if (owner !== undefined) {
    for (const path of ['db', 'db/tables', 'db/tables/users', 'db/VERSION', `only-in-${g}`])
      await lchown(join(dir, path), owner, owner);
  }
}

/** The instant halfway between two RFC 3339 times, as RFC 3339 with milliseconds. */
function between(a: string, b: string): string {
  return new Date((Date.parse(a) + Date.parse(b)) / 2).toISOString();
}

describe('kubectl scribe restore --as-of', () => {
  it('restores each of three kept images by time, and refuses a time before the first', async () => {
    const kc = e2eKubeConfig();
    // The rsync walkthrough keeps owners: its movers run privileged (docs/permissions.md).
    const source = await e2eNamespace(kc, 'asof-src', { annotations: PRIVILEGED_MOVERS });
    const dest = await e2eNamespace(kc, 'asof-dst', { annotations: PRIVILEGED_MOVERS });
    await createPvc(kc, source, 'data');
    const sourceDir = await pvcDirectory(kc, source, 'data');

    await create(kc, 'ReplicationDestination', dest, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'keeper' },
      spec: {
        rsync: { copyMethod: 'Snapshot', capacity: '1Gi', accessModes: ['ReadWriteOnce'], imagesToKeep: 3 },
      },
    });
    const readDest = () => get<Destination>(kc, 'ReplicationDestination', dest, 'keeper');
    const listening = await waitForObject('the destination listening', readDest, (rd) =>
      Boolean(rd.status?.rsync?.address && rd.status.rsync.sshKeys),
    );
    const keys = listening.status?.rsync?.sshKeys as string;
    await copySecret(kc, keys, dest, source);

    // Three syncs, each with its own data; the tree of each generation is what its image must hold.
    const trees: ReturnType<typeof snapshotTree>[] = [];
    for (const g of [1, 2, 3]) {
      await writeSample(sourceDir, g);
      trees.push(snapshotTree(sourceDir));
      if (g === 1) {
        await create(kc, 'ReplicationSource', source, {
          apiVersion: API,
          kind: 'ReplicationSource',
          metadata: { name: 'sender' },
          spec: {
            sourcePVC: 'data',
            trigger: { manual: 'sync-1' },
            rsync: { sshKeys: keys, address: listening.status?.rsync?.address, copyMethod: 'Clone' },
          },
        });
      } else {
        await patch(kc, 'ReplicationSource', source, 'sender', { spec: { trigger: { manual: `sync-${g}` } } });
      }
      await waitForObject(
        `sync ${g}`,
        () => get<ReplicationSource>(kc, 'ReplicationSource', source, 'sender'),
        (rs) => rs.status?.lastManualSync === `sync-${g}`,
      );
      await waitForObject(`image ${g}`, readDest, (rd) => (rd.status?.images?.length ?? 0) === g);
    }
    const images = (await readDest())?.status?.images ?? [];
    expect(images.map((i) => i.name)).toHaveLength(3);
    const times = images.map((i) => i.time as string);
    expect([...times].sort()).toEqual(times);
    expect(new Set(times).size).toBe(3);
    console.log(`[restore e2e] images: ${images.map((i) => `${i.name} ${i.time}`).join(', ')}`);

    const cases = [
      { asOf: between(times[0] as string, times[1] as string), g: 1 },
      { asOf: between(times[1] as string, times[2] as string), g: 2 },
      { asOf: new Date(Date.parse(times[2] as string) + 60_000).toISOString(), g: 3 },
    ];
    for (const { asOf, g } of cases) {
      const to = `restored-${g}`;
      const run = await scribe(['restore', '--from', 'rd/keeper', '--as-of', asOf, '--to', to, '-n', dest]);
      console.log(`[restore e2e] --as-of ${asOf}:\n${run.stdout}`);
      const chosen = images[g - 1] as DestinationImage;
      expect(run.stdout).toContain(`chose image ${chosen.name} taken ${chosen.time}`);
      expect(run.stdout).toContain(`PVC ${dest}/${to} is Bound with the data of VolumeSnapshot ${chosen.name}`);
      expect(snapshotTree(await pvcDirectory(kc, dest, to)), `as of ${asOf}`).toEqual(trees[g - 1]);
    }

    // Before the first image: refused, naming --as-of and listing the images' times; no PVC made.
    const early = new Date(Date.parse(times[0] as string) - 60_000).toISOString();
    const refused = await scribe(
      ['restore', '--from', 'rd/keeper', '--as-of', early, '--to', 'too-early', '-n', dest],
      EXIT_FAILURE,
    );
    expect(refused.stderr).toMatch(/^error: --as-of \S+ is before every image of ReplicationDestination keeper/);
    for (const time of times) expect(refused.stderr).toContain(`taken ${time}`);
    expect(await get(kc, 'PersistentVolumeClaim', dest, 'too-early')).toBeUndefined();

    // An existing PVC is never overwritten.
    const exists = await scribe(['restore', '--from', 'rd/keeper', '--to', 'restored-1', '-n', dest], EXIT_FAILURE);
    expect(exists.stderr).toMatch(/^error: --to restored-1: PVC \S+ already exists/);
  }, 480_000);

  it("restic: restores an older backup through restoreAsOf, and fails with the mover's message before the first", async () => {
    const kc = e2eKubeConfig();
    const s3 = inject('e2eS3');
    const bucket = await newBucket(s3, 'asof');
    const ns = await e2eNamespace(kc, 'asof-restic');
    await createResticSecret(kc, ns, s3, bucket, 'restore-as-of-password');
    await createPvc(kc, ns, 'data');
    const sourceDir = await pvcDirectory(kc, ns, 'data');
    const beforeBackups = new Date().toISOString();

    // Two backups; after each, a time that falls between it and the next.
    const trees: ReturnType<typeof treeBelowRoot>[] = [];
    const after: string[] = [];
    for (const g of [1, 2]) {
      await writeSample(sourceDir, g, DB_USER);
      trees.push(treeBelowRoot(sourceDir));
      if (g === 1) {
        await create(kc, 'ReplicationSource', ns, {
          apiVersion: API,
          kind: 'ReplicationSource',
          metadata: { name: 'backup' },
          spec: {
            sourcePVC: 'data',
            trigger: { manual: 'backup-1' },
            restic: { repository: 'restic-config', copyMethod: 'Clone', ...AS_DB },
          },
        });
      } else {
        await patch(kc, 'ReplicationSource', ns, 'backup', { spec: { trigger: { manual: `backup-${g}` } } });
      }
      await waitForObject(
        `backup ${g}`,
        () => get<ReplicationSource>(kc, 'ReplicationSource', ns, 'backup'),
        (rs) => rs.status?.lastManualSync === `backup-${g}`,
      );
      // Seen complete, so restic's snapshot is older; the next one is taken after the next trigger.
      after.push(new Date().toISOString());
    }

    // The user's destination: restic, copyMethod Snapshot; paused, so only the plugin restores.
    await create(kc, 'ReplicationDestination', ns, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'vault' },
      spec: {
        paused: true,
        restic: { repository: 'restic-config', copyMethod: 'Snapshot', capacity: '1Gi', ...AS_DB },
      },
    });

    const run = await scribe([
      'restore',
      '--from',
      'rd/vault',
      '--as-of',
      after[0] as string,
      '--to',
      'older',
      '-n',
      ns,
    ]);
    console.log(`[restore e2e] restic --as-of ${after[0]}:\n${run.stdout}`);
    expect(run.stdout).toContain(`created ReplicationDestination ${ns}/older-restore`);
    // restic chose backup 1: taken before the time asked for (backup 2 was taken after it).
    const chosen =
      /chose restic snapshot \S+ taken (\S+) \(restic's newest at or before \S+\), restored into image \S+/.exec(
        run.stdout,
      );
    expect(chosen, run.stdout).not.toBeNull();
    expect(Date.parse(chosen?.[1] as string)).toBeLessThanOrEqual(Date.parse(after[0] as string));
    expect(run.stdout).toContain(`deleted ReplicationDestination ${ns}/older-restore`);
    expect(treeBelowRoot(await pvcDirectory(kc, ns, 'older'))).toEqual(trees[0]);
    expect(treeBelowRoot(sourceDir)).toEqual(trees[1]);
    await waitForObject(
      'the one-off destination gone',
      async () => (await get(kc, 'ReplicationDestination', ns, 'older-restore')) ?? null,
      (rd) => rd === null,
      60_000,
    );

    // Before the first backup restic finds no snapshot: the mover's message, exit 1, nothing left.
    const none = await scribe(
      ['restore', '--from', 'rd/vault', '--as-of', beforeBackups, '--to', 'none', '-n', ns],
      EXIT_FAILURE,
    );
    console.log(`[restore e2e] restic --as-of ${beforeBackups}:\n${none.stdout}${none.stderr}`);
    expect(none.stderr).toMatch(/^error: sync of ReplicationDestination \S+\/none-restore failed/);
    expect(`${none.stdout}${none.stderr}`).toMatch(/no snapshot/i);
    expect(none.stdout).toContain(`deleted ReplicationDestination ${ns}/none-restore`);
    expect(await get(kc, 'PersistentVolumeClaim', ns, 'none')).toBeUndefined();
  }, 480_000);
});
