/**
 * The operator as users run it (design decision 19): `helm install` of helm/scribe into the local
 * cluster, the operator a pod of the `scribe` image the node loaded, under the chart's
 * ServiceAccount, reaching the API server in-cluster through the `kubernetes` Service. SIGKILL of
 * its process in the middle of a slow rsync transfer makes the node restart the container (one
 * restart, after the node's back-off) and the sync still completes with one mover Job for the
 * cycle. This file runs its own local system, because it kills the operator other files rely on.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { objectPath, RESOURCES } from '../../src/kube/resources.js';
import { CONTAINER_RUN_LOG } from '../../src/local/agent/index.js';
import type { ContainerRunRecord } from '../../src/local/agent/pod-worker.js';
import { OPERATOR_CONTAINER, OPERATOR_LABEL } from '../../src/local/chart-operator.js';
import { helm } from '../../src/local/helm.js';
import {
  copySecret,
  create,
  createPvc,
  get,
  listeningAddress,
  pvcDirectory,
  waitForObject,
} from '../../src/local/objects.js';
import { CHART_RELEASE } from '../../src/local/operator-identity.js';
import { waitFor } from '../../src/local/processes.js';
import { startLocalRuntime, type LocalRuntime } from '../../src/local/runtime.js';
import { CreatedObjects } from '../support/recorder.js';
import { startSlowLink, type SlowLink } from '../support/slow-link.js';

const API = 'scribe.backube/v1alpha1';
const NS = CHART_RELEASE.namespace;

let runtime: LocalRuntime;
beforeAll(async () => {
  runtime = await startLocalRuntime({ operatorMode: 'chart' });
  for (const name of ['src', 'dst']) {
    await create(runtime.kc, 'Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
});
afterAll(async () => {
  await runtime?.stop();
});

async function operatorPods(): Promise<V1Pod[]> {
  const list = await kubeRequest<{ items: V1Pod[] }>(runtime.kc, {
    method: 'GET',
    path: objectPath(RESOURCES.Pod, NS, ''),
    query: { labelSelector: OPERATOR_LABEL },
  });
  return list.items;
}

/** The operator's JSON log records with message `msg`. */
async function records(msg: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(runtime.operatorLog, 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.msg === msg);
}

describe('the operator installed with its Helm chart', () => {
  it('runs as a pod of the loaded scribe image under the chart’s ServiceAccount, in-cluster', async () => {
    const releases = JSON.parse(await helm(['list', '-n', NS, '-o', 'json', '--kubeconfig', runtime.kubeconfigPath]));
    expect(releases).toMatchObject([{ name: CHART_RELEASE.name, namespace: NS, status: 'deployed' }]);

    const [pod, ...others] = await operatorPods();
    expect(others).toEqual([]);
    expect(pod?.spec?.serviceAccountName).toBe(runtime.chartIdentity?.serviceAccount);
    const container = pod?.spec?.containers.find((c) => c.name === OPERATOR_CONTAINER);
    expect(container?.image).toBe(runtime.agent.images.scribe);
    expect(container?.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');

    // The node ran it from the image's root filesystem.
    const runs = (await readFile(join(runtime.dir, 'node', CONTAINER_RUN_LOG), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ContainerRunRecord)
      .filter((run) => run.pod === `${NS}/${pod?.metadata?.name}`);
    expect(runs.map((run) => run.rootfs)).toEqual([runtime.agent.imageRoots[runtime.agent.images.scribe]]);

    // In-cluster config: the `kubernetes` Service's address, not the kubeconfig's server.
    const kubernetes = await get<{ spec: { clusterIP: string } } & V1Pod>(
      runtime.kc,
      'Service',
      'default',
      'kubernetes',
    );
    await waitFor('the operator started', async () => (await records('operator started')).length > 0);
    expect((await records('operator started'))[0]?.server).toBe(`https://${kubernetes?.spec.clusterIP}:443`);
    expect(runtime.controlPlane.server).not.toContain(kubernetes?.spec.clusterIP);
  });

  it('is restarted by the node when its process is killed mid-sync, and the sync completes with one Job', async () => {
    const kc = runtime.kc;
    const id = 'killed-operator';
    await createPvc(kc, 'src', id);
    const dir = await pvcDirectory(kc, 'src', id);
    await mkdir(join(dir, 'd'), { recursive: true });
    // Incompressible (rsync -z), sent at 200 KiB/s until the new operator runs: about 30 s of transfer.
    for (let i = 0; i < 400; i++) await writeFile(join(dir, 'd', `f${i}`), randomBytes(16 * 1024));
    await create(kc, 'ReplicationDestination', 'dst', {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: id },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
    });
    const { rd, address, keys } = await listeningAddress(kc, 'dst', id);
    await copySecret(kc, keys, 'dst', 'src');
    const link: SlowLink = await startSlowLink(
      `${address}:${(rd as ReplicationDestination).status?.rsync?.port ?? 22}`,
    );
    const recorder = new CreatedObjects(kc, ['src']);
    await recorder.start();
    try {
      link.setRate(200 * 1024);
      const [linkHost, linkPort] = link.address.split(':');
      await create(kc, 'ReplicationSource', 'src', {
        apiVersion: API,
        kind: 'ReplicationSource',
        metadata: { name: id },
        spec: {
          sourcePVC: id,
          trigger: { manual: 'once' },
          rsync: { copyMethod: 'Clone', address: linkHost, port: Number(linkPort), sshKeys: keys },
        },
      });
      const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', 'src', id);
      const moving = await waitForObject('the sync moving', readSource, (rs) => rs.status?.state === 'moving');
      const cycle = moving.status?.cycle?.id;
      const [before] = await operatorPods();
      const startsBefore = (await records('operator started')).length;

      await runtime.stopOperator({ kill: true });
      expect((await readSource())?.status?.lastManualSync, 'the kill landed before the sync completed').not.toBe(
        'once',
      );
      // The node restarts the container in the same pod, after its back-off.
      const restarted = await waitForObject(
        'the operator container restarted and Ready',
        async () => (await operatorPods())[0],
        (pod) =>
          pod.metadata?.uid === before?.metadata?.uid &&
          pod.status?.containerStatuses?.[0]?.restartCount === 1 &&
          pod.status.containerStatuses[0].ready === true,
        120_000,
      );
      const status = restarted.status?.containerStatuses?.[0];
      expect(status?.lastState?.terminated?.exitCode).toBe(137);
      expect(
        Date.parse(status?.state?.running?.startedAt as unknown as string) -
          Date.parse(status?.lastState?.terminated?.finishedAt as unknown as string),
        "the node's back-off before the restart",
      ).toBeGreaterThanOrEqual(1000);
      await waitFor('the new operator started', async () => (await records('operator started')).length > startsBefore);

      link.setRate(Number.POSITIVE_INFINITY);
      const synced = await waitForObject(
        'the sync completed',
        readSource,
        (rs) => rs.status?.lastManualSync === 'once',
        240_000,
      );
      expect(synced.status?.latestMoverStatus?.result).toBe('Successful');
      expect(synced.status?.cycle?.id ?? cycle).toBeDefined();
      const jobs = recorder.ofKind('Job').filter((job) => job.metadata?.name === `scribe-rsync-src-${id}`);
      expect(jobs.map((job) => job.metadata?.labels?.['scribe.backube/cycle'])).toEqual([cycle]);
      const landed = await waitForObject(
        'the destination image',
        () => get<ReplicationDestination>(kc, 'ReplicationDestination', 'dst', id),
        (d) => Boolean(d.status?.latestImage?.name),
      );
      const copy = await pvcDirectory(kc, 'dst', landed.status?.latestImage?.name as string);
      expect((await readdir(join(copy, 'd'))).length).toBe(400);
    } finally {
      await link.close();
      await recorder.stop();
    }
  });
});
