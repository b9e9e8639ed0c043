/** Builders of CRs and observations for the machine tests. */
import type { Action } from '../../../machines/actions.js';
import type { ReplicationDestination, ReplicationSource, ScribeCr, ScribeStatus } from '../../../machines/api.js';
import { CYCLE_LABEL } from '../../../machines/naming.js';
import { step, type StepInput, type StepResult } from '../../../machines/step.js';
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

/**
 * The objects a step's actions create, added to `world` as the caches would soon show them: a
 * new Job pending, a new PVC Pending, a new snapshot not ready yet, each with its cycle label.
 */
export function withCreated(world: OwnedObjects, actions: readonly Action[]): OwnedObjects {
  let next = world;
  for (const action of actions) {
    if (action.type === 'ensureMover' && world.mover.phase === 'absent')
      next = { ...next, mover: { phase: 'pending', cycleId: action.cycleId, attempt: action.attempt } };
    if (action.type === 'ensurePvc' && !next.pvcs[action.name])
      next = {
        ...next,
        pvcs: {
          ...next.pvcs,
          [action.name]: pvc(action.name, { phase: 'Pending', cycleId: action.labels[CYCLE_LABEL] }),
        },
      };
    if (action.type === 'ensureSnapshot' && !next.snapshots[action.name])
      next = {
        ...next,
        snapshots: {
          ...next.snapshots,
          [action.name]: snapshot(action.name, { readyToUse: false, cycleId: action.labels[CYCLE_LABEL] }),
        },
      };
  }
  return next;
}

/**
 * step() as the operator runs it: a step that started a cycle by creating its first objects only
 * (the Job first, machines/write-ahead.ts) is followed by the step their watch events bring, which
 * writes status; that second step is returned, with the first one's actions that it does not
 * repeat before its own.
 */
export function stepAsOperator(cr: ScribeCr, input: StepInput): StepResult {
  const first = step(cr, input);
  if (!first.statusDeferred) return first;
  const second = step(cr, { ...input, owned: withCreated(input.owned, first.actions) });
  const repeated = (a: Action) => second.actions.some((b) => JSON.stringify(a) === JSON.stringify(b));
  const onlyFirst = first.actions.filter((a) => a.type !== 'recordMetrics' && !repeated(a));
  return { ...second, actions: [...onlyFirst, ...second.actions] };
}
