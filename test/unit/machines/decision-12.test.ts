/**
 * Decision 12, the machines' half: the point-in-time copy's defaults fall back to the source PVC,
 * and a copyMethod None mover is placed on the node of the pod that uses a single-node volume
 * (machines/placement.ts). The builders' half is test/unit/movers/decision-12.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Action } from '../../../machines/actions.js';
import type { ScribeCr } from '../../../machines/api.js';
import { attachesToOneNode, moverPlacement, type ObservedPod } from '../../../machines/placement.js';
import { step } from '../../../machines/step.js';
import { destination, owned, pvc, source, T0 } from './fixtures.js';

const rsyncSource = (copyMethod: string) =>
  source({ rsync: { copyMethod, address: 'dest.example.com', sshKeys: 'keys' } } as never);

/** The node a mover is pinned to, if any. */
const nodeOf = (...args: Parameters<typeof moverPlacement>) => moverPlacement(...args)?.node;

/** A pod of the user's that mounts `claims` on `nodeName`, running. */
const userPod = (name: string, nodeName: string | undefined, extra: Partial<ObservedPod> = {}): ObservedPod => ({
  name,
  nodeName,
  phase: 'Running',
  claims: ['data'],
  ...extra,
});

describe('decision 12: the point-in-time copy falls back to the source PVC', () => {
  const ensurePvc = (cr: ScribeCr, source = pvc('data')) =>
    step(cr, { now: T0, owned: owned({ pvcs: [source] }) }).actions.find(
      (a): a is Extract<Action, { type: 'ensurePvc' }> => a.type === 'ensurePvc',
    );

  it("decision 12: capacity, access modes, storage class and volume mode are the source PVC's when unset", () => {
    const data = pvc('data', {
      capacity: '7Gi',
      accessModes: ['ReadWriteMany'],
      storageClassName: 'slow',
      volumeMode: 'Filesystem',
    });
    expect(ensurePvc(rsyncSource('Clone'), data)?.spec).toEqual({
      capacity: '7Gi',
      accessModes: ['ReadWriteMany'],
      storageClassName: 'slow',
      volumeMode: 'Filesystem',
      dataSource: { kind: 'PersistentVolumeClaim', name: 'data' },
    });
  });

  it("decision 12: the CR's capacity, access modes and storage class win over the source PVC's", () => {
    const cr = source({
      rsync: {
        copyMethod: 'Clone',
        address: 'dest.example.com',
        sshKeys: 'keys',
        capacity: '9Gi',
        accessModes: ['ReadWriteOnce'],
        storageClassName: 'fast',
      },
    } as never);
    const data = pvc('data', { capacity: '7Gi', accessModes: ['ReadWriteMany'], storageClassName: 'slow' });
    expect(ensurePvc(cr, data)?.spec).toMatchObject({
      capacity: '9Gi',
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'fast',
      volumeMode: 'Filesystem',
    });
  });
});

describe('decision 12: a copyMethod None mover runs on the node of the pod using a single-node volume', () => {
  const data = pvc('data', { accessModes: ['ReadWriteOnce'] });

  it('decision 12: None on a ReadWriteOnce volume with a user pod on node X: the mover goes to X', () => {
    expect(nodeOf(rsyncSource('None'), data, [userPod('app', 'node-x')])).toBe('node-x');
    // A pending pod bound to a node holds the volume there as much as a running one.
    expect(nodeOf(rsyncSource('None'), data, [userPod('app', 'node-x', { phase: 'Pending' })])).toBe('node-x');
    // Several pods on the one node the volume is attached to.
    expect(nodeOf(rsyncSource('None'), data, [userPod('a', 'node-x'), userPod('b', 'node-x')])).toBe('node-x');
  });

  it('decision 12: ReadWriteOncePod counts as single-node; ReadWriteMany or ReadOnlyMany beside ReadWriteOnce does not', () => {
    const pods = [userPod('app', 'node-x')];
    expect(nodeOf(rsyncSource('None'), pvc('data', { accessModes: ['ReadWriteOncePod'] }), pods)).toBe('node-x');
    for (const accessModes of [['ReadWriteMany'], ['ReadOnlyMany'], ['ReadWriteOnce', 'ReadWriteMany'], []]) {
      expect(attachesToOneNode(pvc('data', { accessModes }))).toBe(false);
      expect(nodeOf(rsyncSource('None'), pvc('data', { accessModes }), pods), accessModes.join()).toBeUndefined();
    }
  });

  it('decision 12: no placement for Clone or Snapshot, which mount a fresh copy', () => {
    for (const method of ['Clone', 'Snapshot']) {
      expect(nodeOf(rsyncSource(method), data, [userPod('app', 'node-x')]), method).toBeUndefined();
    }
  });

  it('decision 12: no placement for a ReadWriteMany volume', () => {
    const shared = pvc('data', { accessModes: ['ReadWriteMany'] });
    expect(nodeOf(rsyncSource('None'), shared, [userPod('app', 'node-x')])).toBeUndefined();
  });

  it('decision 12: no placement when no pod uses the volume', () => {
    const cr = rsyncSource('None');
    expect(nodeOf(cr, data, [])).toBeUndefined();
    expect(nodeOf(cr, data, [userPod('other', 'node-x', { claims: ['logs'] })])).toBeUndefined();
    expect(nodeOf(cr, data, [userPod('unscheduled', undefined, { phase: 'Pending' })])).toBeUndefined();
    expect(nodeOf(cr, data, [userPod('done', 'node-x', { phase: 'Succeeded' })])).toBeUndefined();
    expect(nodeOf(cr, data, [userPod('lost', 'node-x', { phase: 'Unknown' })])).toBeUndefined();
    expect(nodeOf(cr, data, [userPod('leaving', 'node-x', { deleting: true })])).toBeUndefined();
    expect(nodeOf(cr, undefined, [userPod('app', 'node-x')])).toBeUndefined();
  });

  it("decision 12: Scribe's own mover pods are ignored", () => {
    const mover = userPod('scribe-rsync-src-db-abcde', 'node-y', { createdByScribe: true });
    expect(nodeOf(rsyncSource('None'), data, [mover])).toBeUndefined();
    expect(nodeOf(rsyncSource('None'), data, [mover, userPod('app', 'node-x')])).toBe('node-x');
  });

  it('decision 12: pods using the volume on different nodes: no placement', () => {
    expect(nodeOf(rsyncSource('None'), data, [userPod('a', 'node-x'), userPod('b', 'node-y')])).toBeUndefined();
  });

  it('decision 12: a destination with copyMethod None is placed by the pods using its volume', () => {
    const rd = destination({ rsync: { copyMethod: 'None', destinationPVC: 'data' } } as never);
    expect(nodeOf(rd, data, [userPod('app', 'node-x')])).toBe('node-x');
    const snapshotting = destination({ rsync: { copyMethod: 'Snapshot', destinationPVC: 'data' } } as never);
    expect(nodeOf(snapshotting, data, [userPod('app', 'node-x')])).toBeUndefined();
  });

  it('decision 12: the pinned mover tolerates what the pods holding the volume tolerate, each toleration once', () => {
    const dedicated = { key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' };
    const gpu = { key: 'gpu', operator: 'Exists', effect: 'NoSchedule' };
    const slowEviction = {
      key: 'node.kubernetes.io/unreachable',
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds: 600,
    };
    const pods = [
      userPod('a', 'node-x', { tolerations: [dedicated, slowEviction] }),
      userPod('b', 'node-x', { tolerations: [{ ...dedicated }, gpu] }),
      // Neither the pods of other volumes nor Scribe's own movers say what this node needs.
      userPod('other', 'node-x', { claims: ['logs'], tolerations: [{ key: 'other', operator: 'Exists' }] }),
      userPod('mover', 'node-x', { createdByScribe: true, tolerations: [{ key: 'mover', operator: 'Exists' }] }),
    ];
    expect(moverPlacement(rsyncSource('None'), data, pods)).toEqual({
      node: 'node-x',
      tolerations: [dedicated, slowEviction, gpu],
    });
    expect(moverPlacement(rsyncSource('None'), data, [userPod('app', 'node-x')])).toEqual({
      node: 'node-x',
      tolerations: [],
    });
  });

  it('decision 12: the answer does not depend on the order of the pods', () => {
    const toleration = fc.record({
      key: fc.constantFrom('dedicated', 'gpu'),
      operator: fc.constantFrom('Exists', 'Equal'),
      effect: fc.constantFrom('NoSchedule', 'NoExecute'),
    });
    const pod = fc.record({
      name: fc.constantFrom('a', 'b', 'c', 'd'),
      nodeName: fc.option(fc.constantFrom('node-x', 'node-y'), { nil: undefined }),
      phase: fc.constantFrom('Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'),
      deleting: fc.boolean(),
      claims: fc.subarray(['data', 'logs']),
      createdByScribe: fc.boolean(),
      tolerations: fc.array(toleration, { maxLength: 3 }),
    });
    const asSet = (placement: ReturnType<typeof moverPlacement>) =>
      placement && { node: placement.node, tolerations: placement.tolerations.map((t) => JSON.stringify(t)).sort() };
    fc.assert(
      fc.property(fc.array(pod, { maxLength: 6 }), (pods) => {
        const forward = moverPlacement(rsyncSource('None'), data, pods);
        expect(asSet(moverPlacement(rsyncSource('None'), data, [...pods].reverse()))).toEqual(asSet(forward));
        // Each toleration is there once.
        expect(new Set(asSet(forward)?.tolerations).size).toBe(forward?.tolerations.length ?? 0);
      }),
    );
  });
});
