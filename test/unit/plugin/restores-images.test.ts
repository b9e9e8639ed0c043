/**
 * Issue 26: a destination keeping several images owns each of them, so remove-replication
 * refuses while a PVC restores from any of them, the oldest kept included, not only latestImage;
 * an image the user labelled do-not-delete (released) stays and blocks nothing.
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { pendingRestores, type PvcObject } from '../../../src/plugin/restores.js';

const RD_UID = 'uid-rd';
const owned = (name: string, owners: string[] = [RD_UID]): KubernetesObject => ({
  metadata: {
    name,
    namespace: 'dest',
    ownerReferences: owners.map((uid) => ({ apiVersion: 'scribe.backube/v1alpha1', kind: 'X', name: 'x', uid })),
  },
});
const restoring = (name: string, from: string, phase = 'Pending'): PvcObject => ({
  metadata: { name, namespace: 'dest' },
  spec: { dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: from } },
  status: { phase },
});

describe('remove-replication and a destination’s several images', () => {
  it('refuses for a PVC restoring from any image, not only latestImage', () => {
    const snapshots = [owned('image-1'), owned('image-2'), owned('image-3'), owned('labelled', [])];
    const pvcs = [
      restoring('from-oldest', 'image-1'),
      restoring('from-middle', 'image-2', 'Bound'),
      restoring('from-labelled', 'labelled'),
    ];
    expect(pendingRestores(pvcs, snapshots, new Set([RD_UID]))).toEqual([
      { namespace: 'dest', pvc: 'from-oldest', phase: 'Pending', snapshot: 'image-1' },
    ]);
  });
});
