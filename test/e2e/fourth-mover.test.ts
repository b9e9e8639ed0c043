/**
 * Issue 22's must-show, end to end: a fourth mover defined only in a test folder
 * (test/movers/copy, `cp -a` through a store PVC) joins by adding its one module to the catalog,
 * and runs on the local runtime as the shipped movers do. An operator started with
 * catalogWith(copy) (its CRDs applied from the same catalog) makes the copy Jobs; their pods run
 * from an image derived from the stock scribe-mover image with the copy bundles added
 * (test/movers/copy/image.ts), loaded into the node's image store as `kind load` would, and
 * named to the operator as the chart names a mover's image (SCRIBE_<MOVER>_IMAGE). A source
 * copies a Snapshot of its volume into the store; a destination copies the store into its
 * volume and keeps a Snapshot of it. Refusals of bad input (a store that is the volume itself)
 * are test/integration/api/fourth-mover.test.ts's.
 */
import { chown, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { buildCrd, kindDefinitions } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../src/kube/resources.js';
import { CONTAINER_RUN_LOG } from '../../src/local/agent/index.js';
import type { ContainerRunRecord } from '../../src/local/agent/pod-worker.js';
import { applyCrds, type Crd } from '../../src/local/crds.js';
import { create, createPvc, get, pvcDirectory, waitForObject } from '../../src/local/objects.js';
import { waitFor } from '../../src/local/processes.js';
import { startOperator, type RunningOperator } from '../../src/main.js';
import { catalogWith } from '../../src/movers/index.js';
import { copyMoverImage, type DerivedImage } from '../movers/copy/image.js';
import { copy } from '../movers/copy/index.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import { localSystemOfThisFile } from '../support/local-system.js';

const API = 'scribe.backube/v1alpha1';
const NS = 'copy';
const catalog = catalogWith(copy);

// A system of this file's own: its CRDs and its operator are the copy catalog's. The namespace
// runs its movers privileged, so `cp -a` keeps owners both ways (docs/permissions.md).
const system = localSystemOfThisFile({ operatorMode: 'process', operator: false }, { names: [NS], privileged: true });

let image: DerivedImage;
/** The derived image's name on the node. */
let imageName: string;
/** Its unpacked root filesystem on the node. */
let imageRoot: string;
let operator: RunningOperator | undefined;

beforeAll(async () => {
  const started = Date.now();
  image = await copyMoverImage();
  const derived = Date.now();
  imageName = `localhost/${image.name}:${image.ref}`;
  imageRoot = await system.runtime.agent.loadImage(image.layout, image.ref, imageName);
  console.log(
    `[fourth-mover] ${imageName} ${image.state} (derivation ${image.buildSeconds} s when built; this call ` +
      `${((derived - started) / 1000).toFixed(1)} s; loaded into the node in ${((Date.now() - derived) / 1000).toFixed(1)} s)`,
  );

  const kc = system.runtime.kc;
  await applyCrds(
    kc,
    kindDefinitions(catalog.map((m) => m.schemas)).map((d) => buildCrd(d) as unknown as Crd),
  );
  // Established comes before every API server serves the new schema: wait until it takes spec.copy.
  await waitFor('the CRD with spec.copy served', async () => {
    const answer = await kubeRequest<KubernetesObject & { spec?: { copy?: unknown } }>(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.ReplicationSource, NS),
      query: { dryRun: 'All' },
      body: {
        apiVersion: API,
        kind: 'ReplicationSource',
        metadata: { name: 'probe' },
        spec: { sourcePVC: 'data', copy: { copyMethod: 'None', store: 'store' } },
      },
    }).catch(() => undefined);
    return answer?.spec?.copy !== undefined;
  });

  // The copy mover's image, as the chart sets a mover's (read when a Job is built).
  process.env.SCRIBE_COPY_IMAGE = imageName;
  operator = await startOperator({ kubeconfig: system.runtime.kubeconfigPath, movers: catalog });
});

afterAll(async () => {
  await operator?.shutdown();
  delete process.env.SCRIBE_COPY_IMAGE;
});

/** A tree with what `cp -a` must keep: contents, modes, an owner that is not root, times, a link. */
async function writeSample(dir: string): Promise<void> {
  await mkdir(join(dir, 'db', 'tables'), { recursive: true });
  await writeFile(join(dir, 'db', 'tables', 'users'), 'users written before the trigger\n'.repeat(1000));
  await writeFile(join(dir, 'db', 'VERSION'), '1\n');
  await writeFile(join(dir, 'secret'), 'only its owner reads this\n', { mode: 0o600 });
  await chown(join(dir, 'secret'), 1000, 1000);
  await writeFile(join(dir, 'empty'), '');
  await symlink('db/VERSION', join(dir, 'current'));
  await utimes(join(dir, 'db', 'VERSION'), 1_600_000_000.5, 1_600_000_000.5);
}

/** The node's container runs of the copy Jobs' pods in NS (its run log: one JSON line per run, `namespace/pod`). */
async function copyRuns(): Promise<ContainerRunRecord[]> {
  const text = await readFile(join(system.runtime.dir, 'node', CONTAINER_RUN_LOG), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ContainerRunRecord)
    .filter((run) => run.pod.startsWith(`${NS}/scribe-copy-`));
}

describe('a fourth mover defined in a test folder, end to end', () => {
  it('copies a Snapshot of the source into the store, then the store into a destination, in its own image', async () => {
    const kc = system.runtime.kc;
    await createPvc(kc, NS, 'data');
    await createPvc(kc, NS, 'store');
    const sourceDir = await pvcDirectory(kc, NS, 'data');
    const storeDir = await pvcDirectory(kc, NS, 'store');
    await writeSample(sourceDir);
    // Nothing but the mover fills the store.
    expect(Object.keys(snapshotTree(storeDir))).toEqual(['.']);

    await create(kc, 'ReplicationSource', NS, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'db' },
      spec: { sourcePVC: 'data', trigger: { manual: 'first' }, copy: { copyMethod: 'Snapshot', store: 'store' } },
    });
    const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', NS, 'db');
    const synced = await waitForObject('the source synced', readSource, (rs) => rs.status?.lastManualSync === 'first');
    expect(synced.status?.latestMoverStatus?.result).toBe('Successful');
    expect(synced.status?.latestMoverStatus?.logs).toMatch(/scribe copy source: copied \/data to \/store/);
    expect(snapshotTree(storeDir)).toEqual(snapshotTree(sourceDir));

    await create(kc, 'ReplicationDestination', NS, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'db' },
      spec: {
        trigger: { manual: 'first' },
        copy: { copyMethod: 'Snapshot', capacity: '1Gi', accessModes: ['ReadWriteOnce'], store: 'store' },
      },
    });
    const readDestination = () => get<ReplicationDestination>(kc, 'ReplicationDestination', NS, 'db');
    const restored = await waitForObject(
      'the destination synced, with an image',
      readDestination,
      (rd) => rd.status?.lastManualSync === 'first' && Boolean(rd.status.latestImage?.name),
    );
    expect(restored.status?.latestMoverStatus?.result).toBe('Successful');
    expect(restored.status?.latestMoverStatus?.logs).toMatch(/scribe copy destination: copied \/store to \/data/);
    await createPvc(kc, NS, 'restored', {
      dataSource: {
        apiGroup: 'snapshot.storage.k8s.io',
        kind: 'VolumeSnapshot',
        name: restored.status?.latestImage?.name as string,
      },
    });
    expect(snapshotTree(await pvcDirectory(kc, NS, 'restored'))).toEqual(snapshotTree(sourceDir));

    // Both Jobs ran in the derived image, never the stock one (which holds no copy bundles); the
    // node writes its run log as containers start, through a stream.
    let runs: ContainerRunRecord[] = [];
    await waitFor('both copy pods in the run log', async () => (runs = await copyRuns()).length >= 2);
    expect(runs.map((run) => run.pod.replace(/-[a-z0-9]+$/, '')).sort()).toEqual([
      `${NS}/scribe-copy-dest-db`,
      `${NS}/scribe-copy-src-db`,
    ]);
    for (const run of runs) expect(run).toMatchObject({ image: imageName, digest: image.digest, rootfs: imageRoot });
  });
});
