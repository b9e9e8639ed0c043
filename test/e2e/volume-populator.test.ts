/**
 * The volume populator on the local runtime (docs/populator.md): a PVC whose dataSourceRef names
 * a ReplicationDestination, created before the destination's first sync, stays Pending (with an
 * Event saying why), then binds after the sync with the source's data, through a prime PVC that
 * is gone afterwards; a PVC naming a missing destination gets a Warning naming it. Real rsync
 * movers, a real kube-controller-manager's PV controller doing the final bind.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../src/kube/resources.js';
import { primeName, PopulatorReasons } from '../../machines/populator.js';
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

type Pvc = KubernetesObject & {
  spec?: { volumeName?: string };
  status?: { phase?: string };
};
type Pv = KubernetesObject & { spec?: { claimRef?: { name?: string; uid?: string } } };
type Event = { type: string; reason: string; note: string; regarding: { name: string; kind: string } };

/** The Events about PVC `name` in `namespace`. */
async function eventsOf(kc: KubeConfig, namespace: string, name: string): Promise<Event[]> {
  const { items } = await kubeRequest<{ items: Event[] }>(kc, {
    method: 'GET',
    path: collectionPath(RESOURCES.Event, namespace),
  });
  return items.filter((e) => e.regarding.kind === 'PersistentVolumeClaim' && e.regarding.name === name);
}

const waitForEvent = (kc: KubeConfig, namespace: string, name: string, reason: string) =>
  waitForObject(
    `Event ${reason} on PVC ${namespace}/${name}`,
    async () => (await eventsOf(kc, namespace, name)).find((e) => e.reason === reason),
    () => true,
  );

const populatedFrom = (destination: string) => ({
  dataSourceRef: { apiGroup: 'scribe.backube', kind: 'ReplicationDestination', name: destination },
});

describe('the volume populator on the local runtime', () => {
  it("binds a PVC made before the destination's first sync once the image exists, with the source's data", async () => {
    const kc = e2eKubeConfig();
    const sourceNs = await e2eNamespace(kc, 'pop-source', { annotations: PRIVILEGED_MOVERS });
    const destNs = await e2eNamespace(kc, 'pop-dest', { annotations: PRIVILEGED_MOVERS });

    await createPvc(kc, sourceNs, 'data');
    const sourceDir = await pvcDirectory(kc, sourceNs, 'data');
    await mkdir(join(sourceDir, 'db'), { recursive: true });
    await writeFile(join(sourceDir, 'db', 'rows'), 'row of the source\n'.repeat(5000));
    await writeFile(join(sourceDir, 'VERSION'), '7\n');

    await create(kc, 'ReplicationDestination', destNs, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'db' },
      spec: {
        rsync: { serviceType: 'ClusterIP', copyMethod: 'Snapshot', capacity: '1Gi', accessModes: ['ReadWriteOnce'] },
      },
    });
    // Before any sync: the PVC waits, and says so.
    await createPvc(kc, destNs, 'restored', populatedFrom('db'));
    await createPvc(kc, destNs, 'orphan', populatedFrom('nowhere'));
    const waiting = await waitForEvent(kc, destNs, 'restored', PopulatorReasons.Waiting);
    expect(waiting).toMatchObject({ type: 'Normal' });
    expect(waiting.note).toContain('ReplicationDestination db');
    const missing = await waitForEvent(kc, destNs, 'orphan', PopulatorReasons.DestinationNotFound);
    expect(missing).toMatchObject({ type: 'Warning' });
    expect(missing.note).toContain(`ReplicationDestination nowhere not found in namespace ${destNs}`);

    const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', destNs, 'db');
    const listening = await waitForObject('destination address and keys', readDest, (rd) =>
      Boolean(rd.status?.rsync?.address && rd.status.rsync.sshKeys),
    );
    expect(listening.status?.latestImage).toBeUndefined();
    // Still no volume: neither the local provisioner nor anyone else filled it (empty) meanwhile.
    const pending = await get<Pvc>(kc, 'PersistentVolumeClaim', destNs, 'restored');
    expect(pending?.status?.phase).toBe('Pending');
    expect(pending?.spec?.volumeName).toBeFalsy();

    const keysName = listening.status?.rsync?.sshKeys as string;
    await copySecret(kc, keysName, destNs, sourceNs);
    await create(kc, 'ReplicationSource', sourceNs, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'db' },
      spec: {
        sourcePVC: 'data',
        trigger: { manual: 'first' },
        rsync: { sshKeys: keysName, address: listening.status?.rsync?.address, copyMethod: 'Clone' },
      },
    });
    const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'db');
    await waitForObject('first manual sync', readSource, (rs) => rs.status?.lastManualSync === 'first');

    // The first image appears; the PVC binds with the source's data.
    const restoredDir = await pvcDirectory(kc, destNs, 'restored');
    expect(snapshotTree(restoredDir)).toEqual(snapshotTree(sourceDir));
    const restored = (await get<Pvc>(kc, 'PersistentVolumeClaim', destNs, 'restored')) as Pvc;
    const volume = await get<Pv>(kc, 'PersistentVolume', undefined, restored.spec?.volumeName ?? '');
    expect(volume?.spec?.claimRef).toMatchObject({ name: 'restored', uid: restored.metadata?.uid });
    const image = (await readDest())?.status?.latestImage?.name as string;
    expect(volume?.metadata?.annotations?.['scribe.backube/populated-from']).toBe(`${destNs}/${image}`);

    // The prime PVC is gone, and the PVC's Events tell the story.
    const prime = primeName(restored.metadata?.uid ?? '');
    await waitForObject(
      `prime PVC ${prime} deleted`,
      async () => (await get(kc, 'PersistentVolumeClaim', destNs, prime)) ?? null,
      (pvc) => pvc === null,
    );
    const populating = await waitForEvent(kc, destNs, 'restored', PopulatorReasons.Populating);
    expect(populating.note).toContain(`restoring VolumeSnapshot ${image}`);
    await waitForEvent(kc, destNs, 'restored', PopulatorReasons.Populated);
    // The orphan still waits for its destination.
    expect((await get<Pvc>(kc, 'PersistentVolumeClaim', destNs, 'orphan'))?.status?.phase).toBe('Pending');

    // A later sync makes a new image; the populated PVC keeps its volume and data as restored.
    const before = snapshotTree(restoredDir);
    await writeFile(join(sourceDir, 'VERSION'), '8\n');
    await patch(kc, 'ReplicationSource', sourceNs, 'db', { spec: { trigger: { manual: 'second' } } });
    await waitForObject('second manual sync', readSource, (rs) => rs.status?.lastManualSync === 'second');
    await waitForObject('a new image', readDest, (rd) =>
      Boolean(rd.status?.latestImage?.name && rd.status.latestImage.name !== image),
    );
    const after = await get<Pvc>(kc, 'PersistentVolumeClaim', destNs, 'restored');
    expect(after?.spec?.volumeName).toBe(restored.spec?.volumeName);
    expect(snapshotTree(restoredDir)).toEqual(before);
  });
});
