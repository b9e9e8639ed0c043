/**
 * Decision 12, the builders' half: the mover Job of a copyMethod None CR carries required node
 * affinity for the node of the pod that uses its ReadWriteOnce volume; the restic cache's storage
 * class and access modes fall back to the source PVC's; rsync's serviceType defaults to ClusterIP.
 * The pure placement decision itself is tested in test/unit/machines/decision-12.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject, MoverFacts } from '../../../machines/mover.js';
import type { ObservedPvc } from '../../../machines/observation.js';
import type { ObservedPod } from '../../../machines/placement.js';
import { nodeAffinity } from '../../../src/movers/job.js';
import { rcloneMover } from '../../../src/movers/rclone/mover.js';
import { resticMover } from '../../../src/movers/restic/mover.js';
import { rsyncMover } from '../../../src/movers/rsync/mover.js';

const cycle = { cycleId: '1-20260101000000', attempt: 0, volume: 'data' };

const MOVER_OPTIONS = {
  rsync: { address: 'dest.example.com', sshKeys: 'keys' },
  rclone: { rcloneConfig: 'rclone-secret', rcloneConfigSection: 'remote', rcloneDestPath: 'bucket/path' },
  restic: { repository: 'restic-config' },
} as const;
const MOVERS = { rsync: rsyncMover, rclone: rcloneMover, restic: resticMover } as const;
type MoverName = keyof typeof MOVERS;

function sourceCr(mover: MoverName, copyMethod: string, extra: object = {}): ScribeCr {
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationSource',
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-1' },
    spec: { sourcePVC: 'data', [mover]: { copyMethod, ...MOVER_OPTIONS[mover], ...extra } },
  } as unknown as ScribeCr;
}

const volume = (accessModes: string[], extra: Partial<ObservedPvc> = {}): ObservedPvc => ({
  name: 'data',
  phase: 'Bound',
  accessModes,
  ...extra,
});
const pod = (name: string, nodeName: string, extra: Partial<ObservedPod> = {}): ObservedPod => ({
  name,
  nodeName,
  phase: 'Running',
  claims: ['data'],
  ...extra,
});

type PodSpec = { affinity?: unknown; nodeName?: string; tolerations?: unknown[] };
function podSpecOf(mover: MoverName, cr: ScribeCr, facts: MoverFacts, volumeName = cycle.volume): PodSpec {
  const job = MOVERS[mover].build(cr, { ...cycle, volume: volumeName }, facts).objects.find((o) => o.kind === 'Job') as
    (KubeObject & { spec: { template: { spec: PodSpec } } }) | undefined;
  if (!job) throw new Error('no Job');
  return job.spec.template.spec;
}

const PINNED = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-x'] }] }],
    },
  },
};

describe('decision 12: mover placement in the Job', () => {
  it.each(['rsync', 'rclone', 'restic'] as const)(
    'decision 12: the %s Job of a None source on a ReadWriteOnce volume used on node X requires node X',
    (mover) => {
      const facts = { mounted: volume(['ReadWriteOnce']), volumeUsers: [pod('app', 'node-x')] };
      const spec = podSpecOf(mover, sourceCr(mover, 'None'), facts);
      expect(spec.affinity).toEqual(PINNED);
      expect(nodeAffinity('node-x')).toEqual(PINNED);
      // Affinity, not nodeName: the scheduler still checks the node's resources and taints.
      expect(spec.nodeName).toBeUndefined();
      expect(spec.tolerations).toBeUndefined();
    },
  );

  it.each(['rsync', 'rclone', 'restic'] as const)(
    "decision 12: the pinned %s mover carries the tolerations of the pod using the volume (a tainted node's workload)",
    (mover) => {
      const dedicated = { key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' };
      const facts = {
        mounted: volume(['ReadWriteOnce']),
        volumeUsers: [pod('app', 'node-x', { tolerations: [dedicated] })],
      };
      const spec = podSpecOf(mover, sourceCr(mover, 'None'), facts);
      expect(spec.affinity).toEqual(PINNED);
      expect(spec.tolerations).toEqual([dedicated]);
      // Not pinned (Clone mounts a copy nobody else uses): no tolerations either.
      expect(podSpecOf(mover, sourceCr(mover, 'Clone'), facts, 'scribe-src-db').tolerations).toBeUndefined();
    },
  );

  it.each(['Clone', 'Snapshot'])('decision 12: no affinity for a %s source', (copyMethod) => {
    // Clone and Snapshot mount the point-in-time copy; even given the users of the live volume, no pin.
    const facts = { mounted: volume(['ReadWriteOnce']), volumeUsers: [pod('app', 'node-x')] };
    expect(podSpecOf('rsync', sourceCr('rsync', copyMethod), facts, 'scribe-src-db').affinity).toBeUndefined();
    expect(podSpecOf('restic', sourceCr('restic', copyMethod), facts, 'scribe-src-db').affinity).toBeUndefined();
  });

  it('decision 12: no affinity for a ReadWriteMany volume', () => {
    const facts = { mounted: volume(['ReadWriteMany']), volumeUsers: [pod('app', 'node-x')] };
    expect(podSpecOf('rsync', sourceCr('rsync', 'None'), facts).affinity).toBeUndefined();
  });

  it('decision 12: no affinity when no pod uses the volume', () => {
    expect(
      podSpecOf('rsync', sourceCr('rsync', 'None'), { mounted: volume(['ReadWriteOnce']) }).affinity,
    ).toBeUndefined();
    expect(
      podSpecOf('rsync', sourceCr('rsync', 'None'), { mounted: volume(['ReadWriteOnce']), volumeUsers: [] }).affinity,
    ).toBeUndefined();
    // Facts as a builder test passes them: nothing known, nothing pinned.
    expect(podSpecOf('rclone', sourceCr('rclone', 'None'), {}).affinity).toBeUndefined();
  });

  it("decision 12: Scribe's own mover pods are ignored", () => {
    const previousAttempt = pod('scribe-rsync-src-db-x1y2z', 'node-y', { createdByScribe: true });
    const alone = { mounted: volume(['ReadWriteOnce']), volumeUsers: [previousAttempt] };
    expect(podSpecOf('rsync', sourceCr('rsync', 'None'), alone).affinity).toBeUndefined();
    const withUser = { mounted: volume(['ReadWriteOnce']), volumeUsers: [previousAttempt, pod('app', 'node-x')] };
    expect(podSpecOf('rsync', sourceCr('rsync', 'None'), withUser).affinity).toEqual(PINNED);
  });

  it('decision 12: a None destination writing a destinationPVC in use is placed on its node', () => {
    const rd = {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'db', namespace: 'ns', uid: 'uid-2' },
      spec: { rsync: { copyMethod: 'None', destinationPVC: 'data' } },
    } as unknown as ScribeCr;
    const facts = { mounted: volume(['ReadWriteOnce']), volumeUsers: [pod('app', 'node-x')] };
    expect(podSpecOf('rsync', rd, facts).affinity).toEqual(PINNED);
  });
});

describe('decision 12: the restic cache falls back to the source PVC', () => {
  const cacheSpec = (cr: ScribeCr, facts: MoverFacts) =>
    (
      resticMover.build(cr, cycle, facts).objects.find((o) => o.kind === 'PersistentVolumeClaim') as KubeObject & {
        spec: { accessModes: string[]; storageClassName?: string; resources: unknown };
      }
    ).spec;

  it("decision 12: the cache's storage class and access modes are the source PVC's when the CR sets none", () => {
    const facts = { volume: volume(['ReadWriteMany'], { storageClassName: 'slow' }) };
    expect(cacheSpec(sourceCr('restic', 'Clone'), facts)).toEqual({
      accessModes: ['ReadWriteMany'],
      storageClassName: 'slow',
      resources: { requests: { storage: '1Gi' } },
    });
  });

  it('decision 12: cache settings win over the mover settings, which win over the source PVC', () => {
    const facts = { volume: volume(['ReadWriteMany'], { storageClassName: 'slow' }) };
    const general = sourceCr('restic', 'Clone', { accessModes: ['ReadWriteOncePod'], storageClassName: 'fast' });
    expect(cacheSpec(general, facts)).toMatchObject({ accessModes: ['ReadWriteOncePod'], storageClassName: 'fast' });
    const cache = sourceCr('restic', 'Clone', {
      accessModes: ['ReadWriteOncePod'],
      storageClassName: 'fast',
      cacheAccessModes: ['ReadWriteOnce'],
      cacheStorageClassName: 'cache',
      cacheCapacity: '2Gi',
    });
    expect(cacheSpec(cache, facts)).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'cache',
      resources: { requests: { storage: '2Gi' } },
    });
  });

  it('decision 12: without a source PVC to go by, the cache is ReadWriteOnce in the default class', () => {
    const spec = cacheSpec(sourceCr('restic', 'Clone'), {});
    expect(spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(spec.storageClassName).toBeUndefined();
  });
});

describe('decision 12: rsync serviceType', () => {
  const destinationCr = (rsync: object) =>
    ({
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'db', namespace: 'ns', uid: 'uid-2' },
      spec: { rsync: { copyMethod: 'Snapshot', ...rsync } },
    }) as unknown as ScribeCr;
  const serviceType = (cr: ScribeCr) =>
    (
      rsyncMover.build(cr, cycle, {}).objects.find((o) => o.kind === 'Service') as
        (KubeObject & { spec: { type: string } }) | undefined
    )?.spec.type;

  it("decision 12: a listening destination's Service defaults to ClusterIP; a given serviceType is used", () => {
    expect(serviceType(destinationCr({}))).toBe('ClusterIP');
    expect(serviceType(destinationCr({ serviceType: 'LoadBalancer' }))).toBe('LoadBalancer');
  });
});
