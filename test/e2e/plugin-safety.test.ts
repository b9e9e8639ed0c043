/**
 * Issue 18, point 6, on the local system with the bundled kubectl-scribe: images outlive a hasty
 * remove. set-replication returns only once its restored PVC is Bound, so an immediate
 * remove-replication cannot take the snapshot from under it; remove-replication refuses while a
 * PVC still restores from a snapshot the removal would delete; and a VolumeSnapshot labelled
 * scribe.backube/do-not-delete survives both Scribe's rotation of latestImage and the garbage
 * collection that follows the deletion of its ReplicationDestination (decision 20).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { destinationPvcName } from '../../machines/naming.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { objectPath, RESOURCES } from '../../src/kube/resources.js';
import { EXIT_FAILURE } from '../../src/plugin/errors.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import {
  create,
  createPvc,
  e2eKubeConfig,
  e2eNamespace,
  get,
  patch,
  pvcDirectory,
  waitForObject,
  PRIVILEGED_MOVERS,
} from '../support/e2e.js';
import { buildPluginBundle, runPlugin, type PluginRun } from '../support/plugin.js';

let bundle: string;

beforeAll(async () => {
  bundle = await buildPluginBundle();
});

type Pvc = KubernetesObject & {
  spec?: { dataSource?: { name?: string } };
  status?: { phase?: string };
};
type Event = KubernetesObject & { reason?: string; note?: string; regarding?: { name?: string } };

async function writeSample(dir: string, generation: number) {
  await mkdir(join(dir, 'db', 'tables'), { recursive: true });
  await writeFile(join(dir, 'db', 'tables', 'users'), `users generation ${generation}\n`.repeat(2000));
  await writeFile(join(dir, 'db', 'VERSION'), `${generation}\n`);
}

/** The seed's plugin walkthrough up to a first final copy: namespaces, the source PVC, config.yaml, start. */
async function walkthrough(prefix: string) {
  const kc = e2eKubeConfig();
  // Owners must arrive as they are: the rsync movers run privileged (docs/permissions.md).
  const source = await e2eNamespace(kc, `${prefix}s`, { annotations: PRIVILEGED_MOVERS });
  const dest = await e2eNamespace(kc, `${prefix}d`, { annotations: PRIVILEGED_MOVERS });
  await createPvc(kc, source, 'mysql-pv-claim');
  const sourceDir = await pvcDirectory(kc, source, 'mysql-pv-claim');
  await writeSample(sourceDir, 1);
  const cwd = await mkdtemp(join(tmpdir(), 'scribe-plugin-safety-'));
  await writeFile(
    join(cwd, 'config.yaml'),
    [
      'dest-copy-method: Snapshot',
      `dest-namespace: ${dest}`,
      `source-namespace: ${source}`,
      'source-pvc: mysql-pv-claim',
      'source-copy-method: Snapshot',
    ].join('\n'),
  );
  await mkdir(join(cwd, 'home'));
  const env = { KUBECONFIG: inject('e2eKubeconfig'), HOME: join(cwd, 'home') };
  /** Runs the plugin and fails with its output when the exit code is not the expected one. */
  const plugin = async (args: string[], expectedCode = 0): Promise<PluginRun> => {
    const run = await runPlugin(bundle, args, { cwd, env });
    if (run.code !== expectedCode) {
      throw new Error(`kubectl-scribe ${args.join(' ')} exited ${run.code}\n${run.stdout}\n${run.stderr}`);
    }
    return run;
  };
  await plugin(['start-replication']);
  return { kc, source, dest, sourceDir, plugin, rsName: `${source}-source`, rdName: `${dest}-destination` };
}

/** Runs set-replication and returns the PVC it restored and the snapshot it restored from. */
async function setReplication(plugin: (args: string[]) => Promise<PluginRun>) {
  const set = await plugin(['set-replication']);
  const created = /created PVC \S+\/(mysql-pv-claim-\d{14}) \(context \S+\) from VolumeSnapshot (\S+)/.exec(set.stdout);
  expect(created, set.stdout).not.toBeNull();
  return { set, pvc: created?.[1] as string, image: created?.[2] as string };
}

const ownerUids = (object: KubernetesObject | undefined) =>
  (object?.metadata?.ownerReferences ?? []).map((ref) => ref.uid);

describe('kubectl scribe: images outlive a hasty remove', () => {
  it('set-replication then remove-replication at once leaves a Bound PVC with the data', async () => {
    const { kc, dest, sourceDir, plugin, rsName, rdName, source } = await walkthrough('hasty');
    await writeSample(sourceDir, 2);
    const { set, pvc, image } = await setReplication(plugin);
    // set-replication returned only once the PVC was Bound, i.e. restored from the snapshot.
    expect(set.stdout).toMatch(
      new RegExp(`waiting for PVC ${dest}/${pvc} to be bound with the data of VolumeSnapshot ${image}`),
    );
    expect(set.stdout).toContain(`PVC ${dest}/${pvc} is Bound with the data of VolumeSnapshot ${image}`);
    const atReturn = await get<Pvc>(kc, 'PersistentVolumeClaim', dest, pvc);
    expect(atReturn?.status?.phase).toBe('Bound');

    const removed = await plugin(['remove-replication']);
    expect(removed.stdout).toContain(`removed ReplicationDestination ${dest}/${rdName}`);
    // The removal really takes the snapshot (garbage collection of the destination's objects)...
    await waitForObject(
      'the CRs and the restored-from snapshot gone',
      async () => ({
        rs: await get(kc, 'ReplicationSource', source, rsName),
        rd: await get(kc, 'ReplicationDestination', dest, rdName),
        image: await get(kc, 'VolumeSnapshot', dest, image),
      }),
      (o) => !o.rs && !o.rd && !o.image,
      120_000,
    );
    // ...and the PVC holds the final copy all the same.
    expect((await get<Pvc>(kc, 'PersistentVolumeClaim', dest, pvc))?.status?.phase).toBe('Bound');
    expect(snapshotTree(await pvcDirectory(kc, dest, pvc))).toEqual(snapshotTree(sourceDir));
  });

  it('remove-replication refuses, naming the PVC, while a PVC still restores from a snapshot it would delete', async () => {
    const { kc, dest, source, plugin, rsName, rdName } = await walkthrough('refuse');
    const { image } = await setReplication(plugin);
    // A PVC that cannot bind: its class names a provisioner nobody serves, so it stays Pending
    // and keeps needing the snapshot (as a PVC of a WaitForFirstConsumer class does until a pod uses it).
    const never = `scribe-never-${randomBytes(3).toString('hex')}`;
    await create(kc, 'StorageClass', undefined, {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: never },
      provisioner: 'example.com/never',
      volumeBindingMode: 'Immediate',
    });
    onTestFinished(() => remove(kc, 'StorageClass', undefined, never));
    await create(kc, 'PersistentVolumeClaim', dest, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'still-restoring' },
      spec: {
        storageClassName: never,
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: image },
      },
    });

    const refused = await plugin(['remove-replication'], EXIT_FAILURE);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^error: refusing to remove the replication: removing ReplicationDestination ${dest}/${rdName} deletes snapshots`,
      ),
    );
    expect(refused.stderr).toContain(
      `PVC ${dest}/still-restoring (Pending) still restores from VolumeSnapshot ${dest}/${image}`,
    );
    expect(refused.stderr).toContain('Nothing was removed.');
    expect(await get(kc, 'ReplicationSource', source, rsName)).toBeDefined();
    expect(await get(kc, 'ReplicationDestination', dest, rdName)).toBeDefined();
    expect(await get(kc, 'VolumeSnapshot', dest, image)).toBeDefined();

    // Without that PVC the same command removes the replication.
    await remove(kc, 'PersistentVolumeClaim', dest, 'still-restoring');
    await waitForObject(
      'the PVC gone',
      async () => ({ pvc: await get(kc, 'PersistentVolumeClaim', dest, 'still-restoring') }),
      (o) => !o.pvc,
      60_000,
    );
    const removed = await plugin(['remove-replication']);
    expect(removed.stdout).toContain(`removed ReplicationDestination ${dest}/${rdName}`);
  });

  it('a snapshot labelled scribe.backube/do-not-delete survives the rotation of latestImage and the deletion of its ReplicationDestination', async () => {
    const { kc, dest, source, plugin, rsName, rdName } = await walkthrough('keep');
    const { image: kept } = await setReplication(plugin);
    const rd = await get<ReplicationDestination>(kc, 'ReplicationDestination', dest, rdName);
    const rdUid = rd?.metadata?.uid as string;
    expect(ownerUids(await get(kc, 'VolumeSnapshot', dest, kept))).toEqual([rdUid]);

    // The user labels latestImage while the destination is idle: the operator removes its
    // ownerReference as soon as it sees the label, with an Event saying so.
    await patch(kc, 'VolumeSnapshot', dest, kept, { metadata: { labels: { 'scribe.backube/do-not-delete': 'yes' } } });
    await waitForObject(
      `VolumeSnapshot ${kept} released by the operator`,
      () => get(kc, 'VolumeSnapshot', dest, kept),
      (s) => !ownerUids(s).includes(rdUid),
      60_000,
    );
    await waitForObject(
      'the VolumeSnapshotReleased Event',
      async () =>
        (
          await kubeRequest<{ items: Event[] }>(kc, {
            method: 'GET',
            path: `/apis/events.k8s.io/v1/namespaces/${dest}/events`,
          })
        ).items,
      (events) => events.some((e) => e.reason === 'VolumeSnapshotReleased' && e.note?.includes(kept) === true),
      60_000,
    );

    // A new sync replaces latestImage; the replaced, labelled image is not deleted.
    const synced = await plugin(['sync', `rs/${rsName}`, '-n', source, '--timeout', '4m']);
    expect(synced.stdout).toMatch(/sync complete: Successful/);
    const rotated = await waitForObject(
      'a new latestImage, and the cycle that made it cleaned up',
      () => get<ReplicationDestination>(kc, 'ReplicationDestination', dest, rdName),
      // A destination without a schedule starts its next cycle at once: the one that replaced
      // the image is over once its objects no longer name the replaced image.
      (o) =>
        Boolean(o.status?.latestImage?.name) &&
        o.status?.latestImage?.name !== kept &&
        o.status?.state !== 'complete' &&
        !o.status?.cycle?.objects?.previousImage,
      180_000,
    );
    const replacement = rotated.status?.latestImage?.name as string;
    expect(await get(kc, 'VolumeSnapshot', dest, kept)).toBeDefined();

    // Deleting the ReplicationDestination garbage-collects what it owns (the new latestImage,
    // the destination PVC), but not the released snapshot.
    const removed = await plugin(['remove-replication']);
    expect(removed.stdout).toContain(`removed ReplicationDestination ${dest}/${rdName}`);
    await waitForObject(
      'the ReplicationDestination and its owned objects garbage-collected',
      async () => ({
        rd: await get(kc, 'ReplicationDestination', dest, rdName),
        replacement: await get(kc, 'VolumeSnapshot', dest, replacement),
        pvc: await get(kc, 'PersistentVolumeClaim', dest, destinationPvcName(rdName)),
      }),
      (o) => !o.rd && !o.replacement && !o.pvc,
      120_000,
    );
    const survivor = await get<KubernetesObject & { status?: { readyToUse?: boolean } }>(
      kc,
      'VolumeSnapshot',
      dest,
      kept,
    );
    expect(survivor?.metadata?.labels?.['scribe.backube/do-not-delete']).toBe('yes');
    expect(ownerUids(survivor)).toEqual([]);
    expect(survivor?.status?.readyToUse).toBe(true);
    expect(await get<ReplicationSource>(kc, 'ReplicationSource', source, rsName)).toBeUndefined();
  });
});

async function remove(kc: KubeConfig, kind: keyof typeof RESOURCES, namespace: string | undefined, name: string) {
  await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES[kind], namespace, name) }).catch(
    () => undefined,
  );
}
