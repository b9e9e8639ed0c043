/**
 * Replication between two real clusters on one machine (issue 23): clusters scribe-a and
 * scribe-b side by side (src/local/clusters.ts), each with its own control plane, node agent and
 * Scribe from the chart, and one kubeconfig with a context for each.
 *
 * - The seed's cross-cluster plugin walkthrough (start, set, continue, remove) from A to B with
 *   `serviceType: LoadBalancer`: the source in A connects to the LoadBalancer address B's node
 *   gave the destination's Service; the PVC restored in B equals the source.
 * - restic: a backup in A restored in B from the same MinIO bucket; rclone the same.
 * - B's API server stopped while a sync from A runs costs the source at most one failed attempt,
 *   and once B's API server is back the next sync completes. Before that, a pod of A reaches the
 *   destination at B's LoadBalancer address but not at its ClusterIP.
 *
 * The first three run at once; the outage runs after them, alone, since it takes down B for
 * everyone. The clusters are this file's own, not the e2e project's shared system.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, type TestContext } from 'vitest';
import type { KubeConfig, KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import type { JournalEntry } from '../../src/api/common.js';
import type { LocalCluster, LocalClusters } from '../../src/local/clusters.js';
import { listeningAddress } from '../../src/local/objects.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../src/kube/resources.js';
import { waitFor } from '../../src/local/processes.js';
import { MOVER_POD_LABEL } from '../../src/movers/job.js';
import { connectFromPod, copySecretAcross, firstBytes, startTestClusters } from '../support/clusters.js';
import { crossClusterConfig } from '../../scripts/demo-clusters.js';
import {
  create,
  createPvc,
  e2eNamespace,
  get,
  patch,
  pvcDirectory,
  waitForObject,
  PRIVILEGED_MOVERS,
} from '../support/e2e.js';
import { createRcloneSecret, createResticSecret, newBucket } from '../support/object-store.js';
import {
  databaseVolume,
  rcloneThroughBucket,
  resticBackupAndRestore,
  treeBelowRoot,
} from '../support/object-storage-walkthrough.js';
import { buildPluginBundle, runPlugin, type PluginRun } from '../support/plugin.js';
import { expectRcloneCopy } from '../support/rclone-tree.js';

const API = 'scribe.backube/v1alpha1';

let clusters: LocalClusters;
let a: LocalCluster;
let b: LocalCluster;
let bundle: string;

beforeAll(async () => {
  [clusters, bundle] = await Promise.all([startTestClusters(2), buildPluginBundle()]);
  a = clusters.cluster('scribe-a');
  b = clusters.cluster('scribe-b');
});

afterAll(async () => {
  await clusters?.stop();
});

async function writeSample(dir: string, generation: number) {
  await mkdir(join(dir, 'db', 'tables'), { recursive: true });
  await writeFile(join(dir, 'db', 'tables', 'users'), `users generation ${generation}\n`.repeat(2000));
  await writeFile(join(dir, 'db', 'VERSION'), `${generation}\n`);
}

/** A namespace of this test in one cluster. */
function namespaceIn(cluster: LocalCluster, prefix: string, test: TestContext, privileged = false) {
  return e2eNamespace(cluster.kc, prefix, { test, ...(privileged ? { annotations: PRIVILEGED_MOVERS } : {}) });
}

/**
 * An rsync walkthrough's namespaces, the source in scribe-a and the destination in scribe-b
 * (privileged: the copy keeps owners), and the source's PVC mysql-pv-claim with the first sample.
 */
async function rsyncSides(test: TestContext, sourcePrefix: string, destPrefix: string) {
  const source = await namespaceIn(a, sourcePrefix, test, true);
  const dest = await namespaceIn(b, destPrefix, test, true);
  await createPvc(a.kc, source, 'mysql-pv-claim');
  const sourceDir = await pvcDirectory(a.kc, source, 'mysql-pv-claim');
  await writeSample(sourceDir, 1);
  return { source, dest, sourceDir };
}

/** Runs the plugin in `cwd` with the clusters' kubeconfig; fails with its output on another exit code. */
async function plugin(cwd: string, args: string[]): Promise<PluginRun> {
  const env = { KUBECONFIG: clusters.kubeconfigPath, HOME: join(cwd, 'home') };
  const run = await runPlugin(bundle, args, { cwd, env });
  if (run.code !== 0)
    throw new Error(`kubectl-scribe ${args.join(' ')} exited ${run.code}\n${run.stdout}\n${run.stderr}`);
  return run;
}

const inRange = (ip: string | undefined, prefix: string) => Boolean(ip?.startsWith(`${prefix}.`));

describe.concurrent('two clusters side by side', () => {
  it('runs the seed cross-cluster plugin walkthrough from scribe-a to scribe-b over a LoadBalancer', async (test) => {
    const { source, dest, sourceDir } = await rsyncSides(test, 'source', 'dest');
    // The seed's cross-cluster config.yaml, with the local clusters' contexts and this test's namespaces.
    const cwd = await mkdtemp(join(tmpdir(), 'scribe-two-clusters-'));
    await mkdir(join(cwd, 'home'));
    const config = crossClusterConfig(
      { context: 'scribe-a', clusterName: 'scribe-a', namespace: source },
      { context: 'scribe-b', clusterName: 'scribe-b', namespace: dest },
    );
    await writeFile(join(cwd, 'config.yaml'), config);
    const rsName = `${source}-source`;
    const rdName = `${dest}-destination`;
    const keys = `scribe-rsync-dest-src-${rdName}`;

    const started = await plugin(cwd, ['start-replication']);
    expect(started.stdout).toContain('(context scribe-b)');
    expect(started.stdout).toMatch(/to \S+ \(context scribe-a\)/);
    // Each CR lives in its own cluster only.
    const rd = await get<ReplicationDestination>(b.kc, 'ReplicationDestination', dest, rdName);
    expect(await get(a.kc, 'ReplicationDestination', dest, rdName)).toBeUndefined();
    expect(await get(b.kc, 'ReplicationSource', source, rsName)).toBeUndefined();
    expect(rd?.spec.rsync?.serviceType).toBe('LoadBalancer');
    // The address is the LoadBalancer address B's node gave the Service, not its ClusterIP.
    const address = rd?.status?.rsync?.address;
    expect(inRange(address, b.addressRanges.loadBalancers), `${address}`).toBe(true);
    const service = await get<KubernetesObject & { spec?: { clusterIP?: string } }>(
      b.kc,
      'Service',
      dest,
      `scribe-rsync-dest-${rdName}`,
    );
    expect(service?.spec?.clusterIP).not.toBe(address);
    const rs = await get<ReplicationSource>(a.kc, 'ReplicationSource', source, rsName);
    expect(rs?.spec.rsync).toMatchObject({ address, sshKeys: keys });
    const copied = await get<KubernetesObject & { data?: object }>(a.kc, 'Secret', source, keys);
    const original = await get<KubernetesObject & { data?: object }>(b.kc, 'Secret', dest, keys);
    expect(copied?.data).toEqual(original?.data);

    // "Set and Pause": the final sync, then a PVC from latestImage in B equal to the source.
    await writeSample(sourceDir, 2);
    const set = await plugin(cwd, ['set-replication']);
    const pvcName = /created PVC \S+\/(mysql-pv-claim-\d{14}) /.exec(set.stdout)?.[1];
    expect(pvcName, set.stdout).toBeDefined();
    expect(set.stdout).toContain('(context scribe-b) from VolumeSnapshot scribe-dest-');
    expect(snapshotTree(await pvcDirectory(b.kc, dest, pvcName as string))).toEqual(snapshotTree(sourceDir));
    const afterSet = await get<ReplicationSource>(a.kc, 'ReplicationSource', source, rsName);
    expect(afterSet?.status?.lastManualSync).toBe(afterSet?.spec.trigger?.manual);

    await plugin(cwd, ['continue-replication']);
    const continued = await get<ReplicationSource>(a.kc, 'ReplicationSource', source, rsName);
    expect(continued?.spec.trigger).toEqual({ schedule: '*/3 * * * *' });

    const removed = await plugin(cwd, ['remove-replication']);
    expect(removed.stdout).toContain('PersistentVolumeClaims are never removed');
    await waitForObject(
      'both CRs gone',
      async () => ({
        rs: await get(a.kc, 'ReplicationSource', source, rsName),
        rd: await get(b.kc, 'ReplicationDestination', dest, rdName),
      }),
      (o) => !o.rs && !o.rd,
      60_000,
    );
    expect(await get(a.kc, 'Secret', source, keys)).toBeUndefined();
    expect(await get(a.kc, 'PersistentVolumeClaim', source, 'mysql-pv-claim')).toBeDefined();
    expect(await get(b.kc, 'PersistentVolumeClaim', dest, pvcName as string)).toBeDefined();
  });

  it('restic: backs up in scribe-a and restores in scribe-b from the same bucket', async (test) => {
    const s3 = inject('e2eS3');
    const bucket = await newBucket(s3, 'two-restic');
    const password = 'my-secure-restic-password';
    const source = { kc: a.kc, namespace: await namespaceIn(a, 'restic-a', test) };
    const dest = { kc: b.kc, namespace: await namespaceIn(b, 'restic-b', test) };
    await createResticSecret(a.kc, source.namespace, s3, bucket, password);
    await createResticSecret(b.kc, dest.namespace, s3, bucket, password);
    const sourceDir = await databaseVolume(source);
    const { backedUp, restored, restoredDir } = await resticBackupAndRestore(source, dest, {
      copyMethod: 'Clone',
      retain: { last: 3 },
    });
    expect(backedUp.status?.latestMoverStatus?.result).toBe('Successful');
    expect(restored.status?.latestImage).toMatchObject({ kind: 'PersistentVolumeClaim', name: 'restored' });
    expect(treeBelowRoot(restoredDir)).toEqual(treeBelowRoot(sourceDir));
  });

  it('rclone: carries a volume of scribe-a through a bucket into a snapshot in scribe-b', async (test) => {
    const s3 = inject('e2eS3');
    const bucket = await newBucket(s3, 'two-rclone');
    const source = { kc: a.kc, namespace: await namespaceIn(a, 'rclone-a', test) };
    const dest = { kc: b.kc, namespace: await namespaceIn(b, 'rclone-b', test) };
    await createRcloneSecret(a.kc, source.namespace, s3);
    await createRcloneSecret(b.kc, dest.namespace, s3);
    const sourceDir = await databaseVolume(source);
    const { restoredDir } = await rcloneThroughBucket(source, dest, {
      rcloneConfigSection: 'store',
      rcloneDestPath: `${bucket}/database`,
    });
    expectRcloneCopy(treeBelowRoot(restoredDir), treeBelowRoot(sourceDir));
  });
});

/** Collects the failed attempts a CR's journal records, while it runs (the journal is bounded). */
function watchFailures(kc: KubeConfig, namespace: string, name: string) {
  const failures = new Map<string, JournalEntry>();
  let stopped = false;
  const poll = (async () => {
    while (!stopped) {
      const rs = await get<ReplicationSource>(kc, 'ReplicationSource', namespace, name);
      for (const entry of rs?.status?.journal ?? []) {
        if (entry.to === 'failed') failures.set(`${entry.time} ${entry.event}`, entry);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    failures,
    async stop() {
      stopped = true;
      await poll;
      return [...failures.values()];
    },
  };
}

/** True when a running mover pod of `namespace` has logged a failed connection it retries. */
async function moverRetrying(cluster: LocalCluster, namespace: string): Promise<boolean> {
  const pods = await kubeRequest<{ items: V1Pod[] }>(cluster.kc, {
    method: 'GET',
    path: collectionPath(RESOURCES.Pod, namespace),
    query: { labelSelector: MOVER_POD_LABEL },
  });
  for (const pod of pods.items) {
    if (pod.status?.phase !== 'Running') continue;
    for (const container of pod.spec?.containers ?? []) {
      const files = cluster.runtime.agent.containerLogFiles(namespace, pod.metadata?.name ?? '', container.name);
      const text = (await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')))).join('');
      if (/attempt \d+ failed .*retrying in/.test(text)) return true;
    }
  }
  return false;
}

describe('two clusters, the destination cluster down for a while', () => {
  it("costs the source at most one failed attempt while scribe-b's API server is stopped; the next sync completes once it is back", async (test) => {
    const { source, dest, sourceDir } = await rsyncSides(test, 'outage-a', 'outage-b');
    await create(b.kc, 'ReplicationDestination', dest, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'database-destination' },
      spec: {
        rsync: { serviceType: 'LoadBalancer', copyMethod: 'None', capacity: '1Gi', accessModes: ['ReadWriteOnce'] },
      },
    });
    const { address, keys } = await listeningAddress(b.kc, dest, 'database-destination');
    expect(inRange(address, b.addressRanges.loadBalancers), address).toBe(true);
    // Before any source connects, from a pod of scribe-a: B's LoadBalancer address answers with
    // the destination's SSH banner, B's ClusterIP of the same Service is closed at once, as on
    // real clusters (a ClusterIP is out of another cluster's reach).
    const service = await get<KubernetesObject & { spec?: { clusterIP?: string } }>(
      b.kc,
      'Service',
      dest,
      'scribe-rsync-dest-database-destination',
    );
    const clusterIP = service?.spec?.clusterIP ?? '';
    expect(inRange(clusterIP, b.runtime.controlPlane.serviceRange.split('.').slice(0, 2).join('.'))).toBe(true);
    await waitFor('the destination listening at its LoadBalancer address', async () =>
      (await firstBytes(address, 22)).startsWith('SSH-2.0'),
    );
    const reached = await connectFromPod(a, source, {
      loadBalancer: { host: address, port: 22 },
      clusterIP: { host: clusterIP, port: 22 },
    });
    expect(reached).toEqual({ loadBalancer: 'SSH-2.0', clusterIP: '' });
    // The host (kubectl, tests) still reaches the ClusterIP: only other clusters' pods are kept out.
    expect(await firstBytes(clusterIP, 22)).toMatch(/^SSH-2.0/);

    await copySecretAcross({ kc: b.kc, namespace: dest }, { kc: a.kc, namespace: source }, keys);
    await create(a.kc, 'ReplicationSource', source, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'database-source' },
      spec: {
        sourcePVC: 'mysql-pv-claim',
        trigger: { manual: 'sync-1' },
        rsync: { address, sshKeys: keys, copyMethod: 'Snapshot' },
      },
    });
    const readSource = () => get<ReplicationSource>(a.kc, 'ReplicationSource', source, 'database-source');
    await waitForObject('the first sync', readSource, (rs) => rs.status?.lastManualSync === 'sync-1');

    const watch = watchFailures(a.kc, source, 'database-source');
    let done: ReplicationSource | undefined;
    try {
      // B's API server goes away while the source's mover is at work: once B listens again
      // (its destination starts a new mover after each sync), sync-2 starts and B goes down.
      await waitFor('the destination listening again', async () =>
        (await firstBytes(address, 22)).startsWith('SSH-2.0'),
      );
      await writeSample(sourceDir, 2);
      await patch(a.kc, 'ReplicationSource', source, 'database-source', { spec: { trigger: { manual: 'sync-2' } } });
      await waitForObject('sync-2 moving', readSource, (rs) => rs.status?.state === 'moving');
      const apiDown = Date.now();
      await b.runtime.controlPlane.stopApiServer();
      // The sync under way completes: its data path (B's LoadBalancer address, node and running
      // mover) needs no API server.
      await waitForObject(
        'sync-2 done with B down',
        readSource,
        (rs) => rs.status?.lastManualSync === 'sync-2',
        120_000,
      );
      // ...and the next one starts while B's control plane is still away: its destination cannot
      // start a new mover meanwhile, so the source must wait for it.
      await writeSample(sourceDir, 3);
      await patch(a.kc, 'ReplicationSource', source, 'database-source', { spec: { trigger: { manual: 'sync-3' } } });
      await waitForObject('sync-3 moving', readSource, (rs) => rs.status?.state === 'moving');
      // B stays down until the source's mover has found the destination gone and is retrying
      // (the retries within its attempt, up to 5 minutes: docs/rsync.md).
      await waitFor("sync-3's mover retrying the connection", () => moverRetrying(a, source), {
        timeoutMs: 120_000,
        intervalMs: 500,
      });
      const downFor = Date.now() - apiDown;
      await b.runtime.controlPlane.startApiServer();
      console.log(`[two-clusters] scribe-b's API server was down for ${downFor} ms`);
      done = await waitForObject(
        'sync-3 once B is back',
        readSource,
        (rs) => rs.status?.lastManualSync === 'sync-3',
        180_000,
      );
      expect(done?.status?.latestMoverStatus?.result).toBe('Successful');
    } finally {
      const failures = await watch.stop();
      expect(failures.length, JSON.stringify(failures)).toBeLessThanOrEqual(1);
    }
    // The destination keeps its PVC as the result (copyMethod None): once sync-3 is done it
    // holds generation 3, and nothing writes to it until the source's next sync.
    const rd = await get<ReplicationDestination>(b.kc, 'ReplicationDestination', dest, 'database-destination');
    const received = rd?.status?.latestImage?.name ?? 'scribe-dest-database-destination';
    expect(snapshotTree(await pvcDirectory(b.kc, dest, received))).toEqual(snapshotTree(sourceDir));
  });
});
