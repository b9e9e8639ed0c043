/**
 * Issue 26: what the observation learns of a destination's images: every image status.images
 * lists is observed by name (owned or released), and each knows the PVCs of the namespace that
 * still restore from it (dataSource or dataSourceRef, not Bound, not being deleted), read from
 * the PVC cache. A PVC restoring from an image concerns that destination (its change wakes it).
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ScribeCr } from '../../../machines/api.js';
import { ownedObjects, restoresFrom, restoresFromImageOf, type ObjectSource } from '../../../src/controller/observe.js';

const UID = 'uid-rd';

function snapshot(name: string, owned: boolean): KubernetesObject {
  return {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: {
      name,
      namespace: 'ns',
      labels: owned ? {} : { 'scribe.backube/do-not-delete': 'true' },
      ownerReferences: owned
        ? [{ apiVersion: 'x/v1', kind: 'ReplicationDestination', name: 'dest', uid: UID, controller: true }]
        : [],
    },
    status: { readyToUse: true },
  } as KubernetesObject;
}

function pvc(
  name: string,
  from: string,
  phase: string,
  options: { ref?: boolean; deleting?: boolean; namespace?: string } = {},
) {
  const source = { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: from };
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name,
      namespace: 'ns',
      ...(options.deleting ? { deletionTimestamp: new Date(0) } : {}),
    },
    spec: options.ref
      ? { dataSourceRef: { ...source, ...(options.namespace ? { namespace: options.namespace } : {}) } }
      : { dataSource: source },
    status: { phase },
  } as KubernetesObject;
}

const image = (name: string) => ({
  apiGroup: 'snapshot.storage.k8s.io' as const,
  kind: 'VolumeSnapshot' as const,
  name,
  time: '2024-01-01T00:00:00Z',
});
const cr = {
  apiVersion: 'scribe.backube/v1alpha1',
  kind: 'ReplicationDestination',
  metadata: { name: 'dest', namespace: 'ns', uid: UID },
  spec: { rsync: { copyMethod: 'Snapshot', capacity: '1Gi', imagesToKeep: 3 } },
  status: {
    images: [image('i1'), image('i2'), image('i3')],
    latestImage: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'i3' },
  },
} as ScribeCr;

describe('observing a destination’s images (issue 26)', () => {
  const snapshots: Record<string, KubernetesObject> = {
    i1: snapshot('i1', false),
    i2: snapshot('i2', true),
    i3: snapshot('i3', true),
  };
  const pvcs = [
    pvc('pending-1', 'i1', 'Pending'),
    pvc('pending-ref', 'i2', 'Pending', { ref: true }),
    pvc('bound', 'i3', 'Bound'),
    pvc('going', 'i3', 'Pending', { deleting: true }),
    pvc('elsewhere', 'i3', 'Pending', { ref: true, namespace: 'other' }),
  ];
  const source: ObjectSource = {
    pvc: () => undefined,
    snapshot: (_namespace, name) => snapshots[name],
    ownedBy: (uid, kind) =>
      uid === UID && kind === 'VolumeSnapshot' ? [snapshots.i2, snapshots.i3].map((s) => s as KubernetesObject) : [],
    pvcsIn: (namespace) => (namespace === 'ns' ? pvcs : []),
  };

  it('observes every listed image, a released one by name, with the PVCs that still restore from it', () => {
    const seen = ownedObjects(cr, source, undefined).snapshots;
    expect(Object.keys(seen).sort()).toEqual(['i1', 'i2', 'i3']);
    expect(seen.i1).toMatchObject({ released: true, restoringPvcs: ['pending-1'] });
    expect(seen.i2).toMatchObject({ released: false, restoringPvcs: ['pending-ref'] });
    // Bound, being deleted, or naming another namespace's snapshot: not restoring from i3.
    expect(seen.i3?.restoringPvcs).toBeUndefined();
  });

  it('without the PVC cache, no snapshot counts as restoring', () => {
    const { pvcsIn: _none, ...withoutPvcs } = source;
    const seen = ownedObjects(cr, withoutPvcs, undefined).snapshots;
    expect(Object.values(seen).map((s) => s.restoringPvcs)).toEqual([undefined, undefined, undefined]);
  });

  it('a PVC restoring from an image concerns the destination; one from another snapshot does not', () => {
    expect(restoresFrom(pvc('p', 'i2', 'Pending', { ref: true }))).toBe('i2');
    expect(restoresFromImageOf(pvc('p', 'i1', 'Bound'), cr)).toBe(true);
    expect(restoresFromImageOf(pvc('p', 'unrelated', 'Pending'), cr)).toBe(false);
    const other = { ...pvc('p', 'i1', 'Pending'), spec: { dataSource: { kind: 'PersistentVolumeClaim', name: 'i1' } } };
    expect(restoresFromImageOf(other as KubernetesObject, cr)).toBe(false);
  });
});
