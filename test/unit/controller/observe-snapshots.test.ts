/**
 * What the observation learns of a CR's VolumeSnapshots for decision 20: the
 * scribe.backube/do-not-delete label (any value) and whether the snapshot still carries the
 * CR's ownerReference; a released latestImage is still observed, by name.
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ScribeCr } from '../../../machines/api.js';
import { ownedObjects, observeSnapshot, type ObjectSource } from '../../../src/controller/observe.js';

const UID = 'uid-rd';

function snapshot(name: string, labels: Record<string, string>, owners: string[]): KubernetesObject {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: {
      name,
      namespace: 'ns',
      labels,
      ownerReferences: owners.map((uid) => ({ apiVersion: 'x/v1', kind: 'X', name: 'x', uid, controller: true })),
    },
    status: { readyToUse: true },
  } as KubernetesObject;
}

describe('observing snapshots for decision 20', () => {
  it('learns the label, whatever its value, and whether the CR still owns the snapshot', () => {
    expect(observeSnapshot(snapshot('a', { 'scribe.backube/do-not-delete': '' }, [UID]), UID)).toMatchObject({
      doNotDelete: true,
      released: false,
    });
    expect(observeSnapshot(snapshot('b', { 'scribe.backube/do-not-delete': 'no' }, []), UID)).toMatchObject({
      doNotDelete: true,
      released: true,
    });
    expect(observeSnapshot(snapshot('c', { 'volsync.backube/do-not-delete': 'true' }, [UID]), UID)).toMatchObject({
      doNotDelete: false,
      released: false,
    });
  });

  it('holds the owned snapshots and a released latestImage, not other released snapshots', () => {
    const cr = {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'dest', namespace: 'ns', uid: UID },
      spec: { rsync: { copyMethod: 'Snapshot', capacity: '1Gi' } },
      status: { latestImage: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'latest' } },
    } as ScribeCr;
    const objects: Record<string, KubernetesObject> = {
      owned: snapshot('owned', { 'scribe.backube/do-not-delete': 'true' }, [UID]),
      latest: snapshot('latest', { 'scribe.backube/do-not-delete': 'true' }, []),
      'kept-earlier': snapshot('kept-earlier', { 'scribe.backube/do-not-delete': 'true' }, []),
    };
    const source: ObjectSource = {
      pvc: () => undefined,
      snapshot: (_namespace, name) => objects[name],
      ownedBy: (uid, kind) => (uid === UID && kind === 'VolumeSnapshot' ? [objects.owned as KubernetesObject] : []),
    };
    const seen = ownedObjects(cr, source, undefined).snapshots;
    expect(Object.keys(seen).sort()).toEqual(['latest', 'owned']);
    expect(seen.owned).toMatchObject({ doNotDelete: true, released: false });
    expect(seen.latest).toMatchObject({ doNotDelete: true, released: true });
  });

  it('holds a released, labelled snapshot the running cycle awaits, until its completion is recorded', () => {
    const status = {
      lastSyncStartTime: '2024-01-01T00:00:10Z',
      lastSyncTime: '2024-01-01T00:00:00Z',
      cycle: { id: '2-x', objects: { volume: 'scribe-src-db', pitPvc: 'scribe-src-db', pitSnapshot: 'scribe-src-db' } },
    };
    const cr = {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'db', namespace: 'ns', uid: UID },
      spec: { sourcePVC: 'data', rsync: { copyMethod: 'Snapshot', address: 'x' } },
      status,
    } as ScribeCr;
    const objects: Record<string, KubernetesObject> = {
      'scribe-src-db': snapshot('scribe-src-db', { 'scribe.backube/do-not-delete': 'true' }, []),
    };
    const source: ObjectSource = {
      pvc: () => undefined,
      snapshot: (_namespace, name) => objects[name],
      ownedBy: () => [],
    };
    expect(ownedObjects(cr, source, undefined).snapshots['scribe-src-db']).toMatchObject({
      doNotDelete: true,
      released: true,
    });
    // Completion recorded: still seen, as the user's (released), because it holds the name the
    // next cycle would give its point-in-time snapshot; that cycle takes another (planCycle).
    const done = { ...cr, status: { ...status, lastSyncTime: '2024-01-01T00:00:20Z' } } as ScribeCr;
    expect(ownedObjects(done, source, undefined).snapshots['scribe-src-db']).toMatchObject({ released: true });
    // Not labelled, or owned by another CR: seen as not this CR's, never as the cycle's own.
    objects['scribe-src-db'] = snapshot('scribe-src-db', {}, []);
    expect(ownedObjects(cr, source, undefined).snapshots['scribe-src-db']).toMatchObject({
      released: true,
      doNotDelete: false,
    });
    objects['scribe-src-db'] = snapshot('scribe-src-db', { 'scribe.backube/do-not-delete': 'true' }, ['other']);
    expect(ownedObjects(cr, source, undefined).snapshots['scribe-src-db']).toMatchObject({ released: true });
  });
});
