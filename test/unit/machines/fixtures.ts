/** Builders of CRs and observations for the machine tests. */
import type { ReplicationDestination, ReplicationSource, ScribeStatus } from '../../../machines/api.js';
import type { ObservedMover, ObservedPvc, ObservedSnapshot, OwnedObjects } from '../../../machines/observation.js';

export const T0 = Date.parse('2024-01-01T00:00:30Z');

/** A ReplicationSource with the rsync mover; overrides merge into spec. */
export function source(spec: Partial<ReplicationSource['spec']> = {}, status?: ScribeStatus): ReplicationSource {
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationSource',
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-src-1', generation: 1 },
    spec: { sourcePVC: 'data', rsync: { copyMethod: 'Clone', address: 'dest.example.com', sshKeys: 'keys' }, ...spec },
    ...(status ? { status } : {}),
  };
}

/** A ReplicationDestination with the rsync mover and copyMethod Snapshot. */
export function destination(
  spec: Partial<ReplicationDestination['spec']> = {},
  status?: ScribeStatus,
): ReplicationDestination {
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationDestination',
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-dst-1', generation: 1 },
    spec: { rsync: { copyMethod: 'Snapshot', capacity: '10Gi' }, ...spec },
    ...(status ? { status } : {}),
  };
}

export function pvc(name: string, extra: Partial<ObservedPvc> = {}): ObservedPvc {
  return {
    name,
    phase: 'Bound',
    capacity: '5Gi',
    accessModes: ['ReadWriteOnce'],
    storageClassName: 'fast',
    volumeMode: 'Filesystem',
    ...extra,
  };
}

export function snapshot(name: string, extra: Partial<ObservedSnapshot> = {}): ObservedSnapshot {
  return { name, readyToUse: true, ...extra };
}

/** An observation of objects; the source PVC `data` exists unless pvcs says otherwise. */
export function owned(
  parts: {
    pvcs?: ObservedPvc[];
    snapshots?: ObservedSnapshot[];
    mover?: ObservedMover;
    strayMovers?: OwnedObjects['strayMovers'];
  } = {},
): OwnedObjects {
  const pvcs = parts.pvcs ?? [pvc('data')];
  return {
    pvcs: Object.fromEntries(pvcs.map((p) => [p.name, p])),
    snapshots: Object.fromEntries((parts.snapshots ?? []).map((s) => [s.name, s])),
    mover: parts.mover ?? { phase: 'absent' },
    ...(parts.strayMovers ? { strayMovers: parts.strayMovers } : {}),
  };
}
