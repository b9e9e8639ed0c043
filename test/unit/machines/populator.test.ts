import { describe, expect, it } from 'vitest';
import {
  decidePopulation,
  namesDestination,
  primeName,
  primeOwner,
  PopulatorReasons,
  type ClaimData,
  type PopulatorFacts,
} from '../../../machines/populator.js';

const UID = '0f0e0d0c-0b0a-0908-0706-050403020100';
const PRIME = primeName(UID);
const SNAPSHOT = 'scribe-dest-db-20261207091500';

function userPvc(
  spec: Partial<NonNullable<ClaimData['spec']>> = {},
  extra: Partial<ClaimData['metadata']> = {},
): ClaimData {
  return {
    metadata: { name: 'restored', namespace: 'apps', uid: UID, resourceVersion: '42', ...extra },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '2Gi' } },
      storageClassName: 'fast',
      dataSourceRef: { apiGroup: 'scribe.backube', kind: 'ReplicationDestination', name: 'db' },
      ...spec,
    },
    status: { phase: 'Pending' },
  };
}

const destination = (latestImage?: { apiGroup?: string; kind: string; name: string }) => ({
  metadata: { name: 'db', namespace: 'apps' },
  status: latestImage ? { latestImage } : {},
});

const SNAPSHOT_IMAGE = { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: SNAPSHOT };

function prime(volumeName?: string, phase = volumeName ? 'Bound' : 'Pending'): ClaimData {
  return {
    metadata: {
      name: PRIME,
      namespace: 'apps',
      uid: 'prime-uid',
      ownerReferences: [
        { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'restored', uid: UID, controller: true },
      ],
    },
    spec: {
      volumeName,
      dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: SNAPSHOT },
    },
    status: { phase },
  };
}

const facts = (over: Partial<PopulatorFacts>): PopulatorFacts => ({
  pvc: userPvc(),
  destination: destination(SNAPSHOT_IMAGE),
  prime: undefined,
  primeVolume: undefined,
  ...over,
});

describe('the volume populator', () => {
  it('serves only PVCs whose dataSourceRef names a ReplicationDestination of scribe.backube', () => {
    expect(namesDestination(userPvc())).toBe(true);
    expect(
      namesDestination(
        userPvc({ dataSourceRef: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'x' } }),
      ),
    ).toBe(false);
    expect(
      namesDestination(
        userPvc({ dataSourceRef: { apiGroup: 'volsync.backube', kind: 'ReplicationDestination', name: 'db' } }),
      ),
    ).toBe(false);
    expect(decidePopulation(facts({ pvc: userPvc({ dataSourceRef: undefined }) }))).toEqual([]);
  });

  it('says the destination is missing, by name, with a Warning', () => {
    const [only, ...rest] = decidePopulation(facts({ destination: undefined }));
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ type: 'event', eventType: 'Warning', reason: PopulatorReasons.DestinationNotFound });
    expect(only).toHaveProperty(
      'message',
      expect.stringContaining('ReplicationDestination db not found in namespace apps'),
    );
  });

  it('waits, with a Normal Event, while the destination has no image', () => {
    expect(decidePopulation(facts({ destination: destination() }))).toEqual([
      expect.objectContaining({ type: 'event', eventType: 'Normal', reason: PopulatorReasons.Waiting }),
    ]);
  });

  it('refuses a copyMethod None destination, whose image is a PVC, naming both ways out', () => {
    const actions = decidePopulation(
      facts({ destination: destination({ kind: 'PersistentVolumeClaim', name: 'db-volume' }) }),
    );
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ eventType: 'Warning', reason: PopulatorReasons.Unusable });
    expect(actions[0]).toHaveProperty(
      'message',
      expect.stringMatching(/copyMethod None.*PersistentVolumeClaim db-volume.*copyMethod Snapshot/),
    );
  });

  it('refuses a destination of another namespace', () => {
    const pvc = userPvc({
      dataSourceRef: { apiGroup: 'scribe.backube', kind: 'ReplicationDestination', name: 'db', namespace: 'other' },
    });
    expect(decidePopulation(facts({ pvc }))[0]).toMatchObject({
      eventType: 'Warning',
      reason: PopulatorReasons.Unusable,
    });
  });

  it("creates a prime PVC of the PVC's class, size, modes and node, restoring the latest image, owned by the PVC", () => {
    const pvc = userPvc(
      { volumeMode: 'Filesystem' },
      { annotations: { 'volume.kubernetes.io/selected-node': 'node-1' } },
    );
    const [create, said] = decidePopulation(facts({ pvc }));
    expect(create).toEqual({
      type: 'createPrime',
      prime: {
        metadata: {
          name: PRIME,
          namespace: 'apps',
          labels: { 'app.kubernetes.io/created-by': 'scribe' },
          annotations: { 'volume.kubernetes.io/selected-node': 'node-1' },
          ownerReferences: [
            { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'restored', uid: UID, controller: true },
          ],
        },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '2Gi' } },
          storageClassName: 'fast',
          volumeMode: 'Filesystem',
          dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: SNAPSHOT },
        },
      },
    });
    expect(said).toMatchObject({ eventType: 'Normal', reason: PopulatorReasons.Populating });
    expect(primeOwner((create as { prime: ClaimData }).prime)).toBe('restored');
  });

  it('waits while the prime restores, and for its PV', () => {
    expect(decidePopulation(facts({ prime: prime() }))).toEqual([]);
    expect(decidePopulation(facts({ prime: prime('pv-1'), primeVolume: undefined }))).toEqual([]);
  });

  it("points the prime's PV at the user's PVC, with its uid, once the prime is Bound", () => {
    const primeVolume = {
      metadata: { name: 'pv-1' },
      spec: { claimRef: { namespace: 'apps', name: PRIME, uid: 'prime-uid' } },
    };
    expect(decidePopulation(facts({ prime: prime('pv-1'), primeVolume }))).toEqual([
      {
        type: 'rebindVolume',
        volume: 'pv-1',
        fromUid: 'prime-uid',
        claimRef: { namespace: 'apps', name: 'restored', uid: UID, resourceVersion: '42' },
        populatedFrom: `apps/${SNAPSHOT}`,
      },
    ]);
    // Already handed over: the PV controller's turn.
    const handed = { ...primeVolume, spec: { claimRef: { namespace: 'apps', name: 'restored', uid: UID } } };
    expect(decidePopulation(facts({ prime: prime('pv-1', 'Lost'), primeVolume: handed }))).toEqual([]);
  });

  it('deletes the prime only once the PVC is bound to its volume, and says the PVC is populated', () => {
    const bound = userPvc({ volumeName: 'pv-1' });
    expect(decidePopulation(facts({ pvc: bound, prime: prime('pv-1', 'Lost') }))).toEqual([
      expect.objectContaining({ type: 'event', eventType: 'Normal', reason: PopulatorReasons.Populated }),
      { type: 'deletePrime', namespace: 'apps', name: PRIME },
    ]);
    expect(decidePopulation(facts({ pvc: bound, prime: undefined }))).toEqual([]);
    const deleting = prime('pv-1', 'Lost');
    deleting.metadata = { ...deleting.metadata, deletionTimestamp: '2026-12-07T09:00:00Z' };
    expect(decidePopulation(facts({ pvc: bound, prime: deleting }))).toEqual([]);
  });

  it('does nothing for a PVC being deleted (its prime goes with it)', () => {
    expect(decidePopulation(facts({ pvc: userPvc({}, { deletionTimestamp: '2026-12-07T09:00:00Z' }) }))).toEqual([]);
  });
});
