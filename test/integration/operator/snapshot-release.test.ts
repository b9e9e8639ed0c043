/**
 * Decision 20 in the effects adapter, against the real API server and garbage collector: a
 * releaseObject action removes the CR's ownerReference from a snapshot with a JSON patch, so
 * deleting the CR does not take the snapshot; a deleteObject of a VolumeSnapshot re-reads the object and never deletes one labelled scribe.backube/do-not-delete.
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Action } from '../../../machines/actions.js';
import type { ScribeCr } from '../../../machines/api.js';
import { CREATED_BY_LABEL } from '../../../machines/naming.js';
import { DO_NOT_DELETE_LABEL } from '../../../machines/observation.js';
import { EffectsAdapter, RELEASE_RECHECK_MS } from '../../../src/effects/adapter.js';
import { deleteUnless, ensureObject, ownedBy, releaseObject } from '../../../src/effects/objects.js';
import { EventRecorder } from '../../../src/kube/events.js';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../../src/kube/resources.js';
import { rootLogger } from '../../../src/log.js';
import type { ScribeMetrics } from '../../../src/metrics/registry.js';
import { waitFor } from '../../../src/local/processes.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

type Event = KubernetesObject & { reason?: string; note?: string };

const kc = testKubeConfig();

async function destination(namespace: string): Promise<ScribeCr> {
  return kubeRequest<ScribeCr>(kc, {
    method: 'POST',
    path: collectionPath(RESOURCES.ReplicationDestination, namespace),
    body: {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'dest' },
      spec: { rsync: { copyMethod: 'Snapshot', capacity: '1Gi' } },
    },
  });
}

/** A VolumeSnapshot owned by `cr` as the adapter makes them (of a PVC that need not exist). */
async function ownedSnapshot(cr: ScribeCr, name: string, options: { labels?: object } = {}) {
  const owner = {
    apiVersion: cr.apiVersion,
    kind: cr.kind,
    metadata: { name: cr.metadata.name ?? '', namespace: cr.metadata.namespace ?? '', uid: cr.metadata.uid ?? '' },
  };
  const snapshot = {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: { name, labels: { ...options.labels } },
    spec: { source: { persistentVolumeClaimName: 'data' } },
  } as KubernetesObject;
  await ensureObject(kc, 'VolumeSnapshot', ownedBy(owner, snapshot));
}

const read = (namespace: string, name: string) =>
  kubeRequest<KubernetesObject>(kc, {
    method: 'GET',
    path: objectPath(RESOURCES.VolumeSnapshot, namespace, name),
  }).catch(() => undefined);

describe('decision 20 in the effects adapter', () => {
  it('releaseObject removes only the CR’s ownerReference; GC then spares the snapshot', async () => {
    const namespace = await testNamespace(kc, 'release');
    const cr = await destination(namespace);
    const uid = cr.metadata.uid ?? '';
    await ownedSnapshot(cr, 'kept', { labels: { [DO_NOT_DELETE_LABEL]: '' } });
    await ownedSnapshot(cr, 'plain');
    // Another (existing) owner first in the list: the patch must find ours by uid, not by position.
    const configMap = await kubeRequest<KubernetesObject>(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.ConfigMap, namespace),
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other' } },
    });
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'other', uid: configMap.metadata?.uid ?? '' };
    const before = await read(namespace, 'kept');
    await kubeRequest(kc, {
      method: 'PATCH',
      path: objectPath(RESOURCES.VolumeSnapshot, namespace, 'kept'),
      patchType: 'merge',
      body: { metadata: { ownerReferences: [other, ...(before?.metadata?.ownerReferences ?? [])] } },
    });

    expect(await releaseObject(kc, 'VolumeSnapshot', namespace, 'kept', uid)).toBe(true);
    const released = await read(namespace, 'kept');
    expect(released?.metadata?.ownerReferences?.map((ref) => ref.uid)).toEqual([other.uid]);
    expect(released?.metadata?.labels?.[CREATED_BY_LABEL]).toBe('scribe');
    expect(released?.metadata?.labels?.[DO_NOT_DELETE_LABEL]).toBe('');
    // Idempotent: nothing left to remove.
    expect(await releaseObject(kc, 'VolumeSnapshot', namespace, 'kept', uid)).toBe(false);
    expect(await releaseObject(kc, 'VolumeSnapshot', namespace, 'absent', uid)).toBe(false);
    // Drop the other owner too: from now on only the release keeps the snapshot from the GC.
    await kubeRequest(kc, {
      method: 'PATCH',
      path: objectPath(RESOURCES.VolumeSnapshot, namespace, 'kept'),
      patchType: 'json',
      body: [{ op: 'remove', path: '/metadata/ownerReferences' }],
    });

    // The CR is deleted: the garbage collector takes what still names it, not the released one.
    await kubeRequest(kc, {
      method: 'DELETE',
      path: objectPath(RESOURCES.ReplicationDestination, namespace, 'dest'),
    });
    await waitFor('the unlabelled snapshot garbage-collected', async () => !(await read(namespace, 'plain')), {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    expect(await read(namespace, 'kept')).toBeDefined();
  });

  it('deleteObject of a labelled snapshot is refused on the object itself, whatever the cache said', async () => {
    const namespace = await testNamespace(kc, 'keep');
    const cr = await destination(namespace);
    await ownedSnapshot(cr, 'labelled', { labels: { [DO_NOT_DELETE_LABEL]: 'true' } });
    await ownedSnapshot(cr, 'plain');
    const keep = (o: KubernetesObject) => DO_NOT_DELETE_LABEL in (o.metadata?.labels ?? {});
    expect(await deleteUnless(kc, 'VolumeSnapshot', namespace, 'labelled', keep)).toBe('kept');
    expect(await deleteUnless(kc, 'VolumeSnapshot', namespace, 'plain', keep)).toBe('deleted');
    expect(await deleteUnless(kc, 'VolumeSnapshot', namespace, 'never-made', keep)).toBe('gone');
    expect(await read(namespace, 'labelled')).toBeDefined();

    // Through the adapter: the machine asked to delete both (a stale cache), and to release one.
    await ownedSnapshot(cr, 'plain-2');
    const events = new EventRecorder(kc);
    const adapter = new EffectsAdapter({
      kc,
      events,
      metrics: {} as ScribeMetrics,
      movers: [],
      log: rootLogger,
    });
    const actions: Action[] = [
      { type: 'releaseObject', kind: 'VolumeSnapshot', name: 'labelled', reason: 'labelled' },
      { type: 'deleteObject', kind: 'VolumeSnapshot', name: 'labelled', reason: 'replaced' },
      { type: 'deleteObject', kind: 'VolumeSnapshot', name: 'plain-2', reason: 'replaced' },
    ];
    const started = Date.now();
    const result = await adapter.execute(cr, actions, {});
    expect(result.outcome).toBe('done');
    expect((await read(namespace, 'labelled'))?.metadata?.ownerReferences ?? []).toEqual([]);
    expect(await read(namespace, 'plain-2')).toBeUndefined();
    // The released snapshot's watch event wakes no CR: the adapter asks for it to be observed again soon.
    const wake = result.outcome === 'done' ? (result.requeueAt ?? 0) : 0;
    expect(wake).toBeGreaterThanOrEqual(started + RELEASE_RECHECK_MS);
    expect(wake).toBeLessThanOrEqual(Date.now() + RELEASE_RECHECK_MS);
    await events.whenSent();
    const list = await kubeRequest<{ items: Event[] }>(kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.Event, namespace),
    });
    expect(list.items.filter((e) => e.reason === 'VolumeSnapshotReleased').map((e) => e.note)).toEqual([
      `VolumeSnapshot labelled is labelled ${DO_NOT_DELETE_LABEL}: Scribe removed its ownerReference and never deletes it; delete it yourself when it is no longer needed`,
    ]);
  });
});
