/**
 * The mover pod settings every mover section takes (VolSync's names, decision 21):
 * moverServiceAccount, moverResources, moverPodLabels and moverAffinity in the Job each mover
 * builds; automountServiceAccountToken and enableServiceLinks; the rsync destination's
 * serviceAnnotations; and a mover pod the API server refused (a ResourceQuota demanding limits),
 * read from the Job controller's FailedCreate Event (src/movers/job.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject, MoverFacts } from '../../../machines/mover.js';
import type { ObservedPvc } from '../../../machines/observation.js';
import { ATTEMPT_LABEL } from '../../../machines/naming.js';
import type { MoverAffinity } from '../../../src/api/common.js';
import { explainRefusedPod, mergedAffinity, MOVER_POD_LABEL, readMoverJob } from '../../../src/movers/job.js';
import { rcloneMover } from '../../../src/movers/rclone/mover.js';
import { resticMover } from '../../../src/movers/restic/mover.js';
import { rsyncMover } from '../../../src/movers/rsync/mover.js';

const cycle = { cycleId: '1-20260101000000', attempt: 0, volume: 'data' };
const MOVER_OPTIONS = {
  rsync: { sshKeys: 'keys' },
  rclone: { rcloneConfig: 'rclone-secret', rcloneConfigSection: 'remote', rcloneDestPath: 'bucket/path' },
  restic: { repository: 'restic-config' },
} as const;
const MOVERS = { rsync: rsyncMover, rclone: rcloneMover, restic: resticMover } as const;
type MoverName = keyof typeof MOVERS;
const KINDS = ['ReplicationSource', 'ReplicationDestination'] as const;
const EVERY = (['rsync', 'rclone', 'restic'] as const).flatMap((mover) => KINDS.map((kind) => [mover, kind] as const));

function crOf(mover: MoverName, kind: (typeof KINDS)[number], extra: object = {}, copyMethod = 'Snapshot'): ScribeCr {
  const side =
    kind === 'ReplicationSource'
      ? { copyMethod, ...(mover === 'rsync' ? { address: 'dest.example.com' } : {}) }
      : { copyMethod, capacity: '1Gi' };
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind,
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-1' },
    spec: {
      ...(kind === 'ReplicationSource' ? { sourcePVC: 'data' } : {}),
      [mover]: { ...side, ...MOVER_OPTIONS[mover], ...extra },
    },
  } as unknown as ScribeCr;
}

interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    enableServiceLinks?: boolean;
    affinity?: unknown;
    containers: Array<{ resources?: unknown }>;
  };
}
function jobOf(
  mover: MoverName,
  cr: ScribeCr,
  facts: MoverFacts = {},
): KubeObject & { spec: { template: PodTemplate } } {
  const job = MOVERS[mover].build(cr, cycle, facts).objects.find((o) => o.kind === 'Job');
  if (!job) throw new Error('no Job');
  return job as KubeObject & { spec: { template: PodTemplate } };
}

const RESOURCES = {
  requests: { cpu: '100m', memory: '64Mi', 'ephemeral-storage': '1Gi' },
  limits: { cpu: '1', memory: '512Mi', 'ephemeral-storage': '2Gi' },
};
const AFFINITY = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] },
        { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
      ],
    },
    preferredDuringSchedulingIgnoredDuringExecution: [
      { weight: 10, preference: { matchExpressions: [{ key: 'fast', operator: 'Exists' }] } },
    ],
  },
  podAntiAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: [
      { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' },
    ],
  },
} satisfies MoverAffinity;
const PIN = { key: 'metadata.name', operator: 'In' as const, values: ['node-x'] };

describe('mover pod settings in every mover Job', () => {
  it.each(EVERY)(
    '%s %s: no ServiceAccount token and no Service links unless a ServiceAccount is named',
    (mover, kind) => {
      const plain = jobOf(mover, crOf(mover, kind)).spec.template.spec;
      expect(plain.automountServiceAccountToken).toBe(false);
      expect(plain.enableServiceLinks).toBe(false);
      expect(plain.serviceAccountName).toBeUndefined();
      expect(plain.containers[0]?.resources).toBeUndefined();
      expect(plain.affinity).toBeUndefined();

      const named = jobOf(mover, crOf(mover, kind, { moverServiceAccount: 'mover-sa' })).spec.template.spec;
      expect(named.serviceAccountName).toBe('mover-sa');
      // The ServiceAccount's own automountServiceAccountToken decides.
      expect(named.automountServiceAccountToken).toBeUndefined();
      expect(named.enableServiceLinks).toBe(false);
    },
  );

  it.each(EVERY)('%s %s: moverResources, moverPodLabels and moverAffinity reach the pod', (mover, kind) => {
    const labels = {
      team: 'storage',
      [MOVER_POD_LABEL]: 'mine',
      [ATTEMPT_LABEL]: '99',
      'app.kubernetes.io/created-by': 'me',
    };
    const job = jobOf(
      mover,
      crOf(mover, kind, { moverResources: RESOURCES, moverPodLabels: labels, moverAffinity: AFFINITY }),
    );
    const template = job.spec.template;
    expect(template.spec.containers[0]?.resources).toEqual(RESOURCES);
    expect(template.spec.affinity).toEqual(AFFINITY);
    expect(template.metadata.labels.team).toBe('storage');
    // Scribe's own labels win: the Service selects by one, the operator finds its pods by others.
    expect(template.metadata.labels[MOVER_POD_LABEL]).toBe(job.metadata.name);
    expect(template.metadata.labels[ATTEMPT_LABEL]).toBe('0');
    expect(template.metadata.labels['app.kubernetes.io/created-by']).toBe('scribe');
    // The Job's own labels are Scribe's only.
    expect(job.metadata.labels?.team).toBeUndefined();
  });

  it.each(['rsync', 'rclone', 'restic'] as const)(
    "%s: a None source pinned to the volume user's node keeps that node in every required term of moverAffinity",
    (mover) => {
      const mounted: ObservedPvc = { name: 'data', phase: 'Bound', accessModes: ['ReadWriteOnce'] };
      const facts = { mounted, volumeUsers: [{ name: 'app', nodeName: 'node-x', phase: 'Running', claims: ['data'] }] };
      const cr = crOf(mover, 'ReplicationSource', { moverAffinity: AFFINITY }, 'None');
      const affinity = jobOf(mover, cr, facts).spec.template.spec.affinity as typeof AFFINITY;
      const terms = affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
      expect(terms).toEqual([
        { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }], matchFields: [PIN] },
        { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }], matchFields: [PIN] },
      ]);
      expect(affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual(
        AFFINITY.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution,
      );
      expect(affinity.podAntiAffinity).toEqual(AFFINITY.podAntiAffinity);
    },
  );
});

describe('merging moverAffinity with the placement of decision 12', () => {
  const placement = { node: 'node-x', tolerations: [] };
  it("is the pin alone without moverAffinity, and the user's alone without a placement", () => {
    expect(mergedAffinity(undefined, placement)).toEqual({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [PIN] }] } },
    });
    expect(mergedAffinity(AFFINITY, undefined)).toEqual(AFFINITY);
    expect(mergedAffinity(undefined, undefined)).toBeUndefined();
    expect(mergedAffinity({}, undefined)).toBeUndefined();
  });

  it('adds the pin as its own term when the user asks only for pod anti-affinity or preferences', () => {
    const user = { podAntiAffinity: AFFINITY.podAntiAffinity };
    expect(mergedAffinity(user, placement)).toEqual({
      podAntiAffinity: AFFINITY.podAntiAffinity,
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [PIN] }] } },
    });
  });

  it("keeps the user's own matchFields beside the pin (both must hold)", () => {
    const own = { key: 'metadata.name', operator: 'NotIn' as const, values: ['node-y'] };
    const user = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [own] }] } },
    };
    expect(mergedAffinity(user, placement)).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [own, PIN] }] },
      },
    });
    // The user's object is not changed.
    expect(user.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]?.matchFields).toEqual([
      own,
    ]);
  });
});

describe("the rsync destination's Service", () => {
  const serviceOf = (cr: ScribeCr) =>
    rsyncMover.build(cr, cycle, {}).objects.find((o) => o.kind === 'Service') as KubeObject | undefined;
  it('carries serviceAnnotations, and none without them', () => {
    const annotations = { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' };
    const cr = crOf('rsync', 'ReplicationDestination', {
      serviceType: 'LoadBalancer',
      serviceAnnotations: annotations,
    });
    expect(serviceOf(cr)?.metadata.annotations).toEqual(annotations);
    expect(serviceOf(crOf('rsync', 'ReplicationDestination'))?.metadata.annotations).toBeUndefined();
  });
});

const QUOTA_MESSAGE =
  'Error creating: pods "scribe-restic-src-db-7x2kq" is forbidden: failed quota: compute: must specify limits.cpu for: mover; limits.memory for: mover';

function refusedJob(mover: MoverName, kind: (typeof KINDS)[number], message: string, withPod = false): KubeObject[] {
  const job = jobOf(mover, crOf(mover, kind));
  const placed = { ...job, metadata: { ...job.metadata, uid: 'job-1' }, status: { active: 0 } } as KubeObject;
  const event = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${job.metadata.name}.1`, namespace: 'ns' },
    involvedObject: { kind: 'Job', name: job.metadata.name, uid: 'job-1' },
    reason: 'FailedCreate',
    type: 'Warning',
    message,
  } as unknown as KubeObject;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', ownerReferences: [{ uid: 'job-1' }] },
    status: { phase: 'Pending' },
  } as unknown as KubeObject;
  return [placed, event, ...(withPod ? [pod] : [])];
}

describe('a mover pod the API server refused', () => {
  it.each(EVERY)('%s %s: a ResourceQuota demanding limits fails the attempt naming moverResources', (mover, kind) => {
    const observed = MOVERS[mover].read(crOf(mover, kind), refusedJob(mover, kind, QUOTA_MESSAGE));
    expect(observed.phase).toBe('failed');
    expect(observed.message).toMatch(
      new RegExp(`^spec\\.${mover}\\.moverResources: the namespace's ResourceQuota refused the mover pod`),
    );
    expect(observed.message).toContain('must specify limits.cpu for: mover; limits.memory for: mover');
    expect(observed.message).toContain(`set spec.${mover}.moverResources`);
  });

  it('names moverServiceAccount when the ServiceAccount does not exist', () => {
    const message =
      'Error creating: pods "scribe-rclone-dst-db-1" is forbidden: error looking up service account ns/mover-sa: serviceaccount "mover-sa" not found';
    const observed = rcloneMover.read(
      crOf('rclone', 'ReplicationDestination'),
      refusedJob('rclone', 'ReplicationDestination', message),
    );
    expect(observed.phase).toBe('failed');
    expect(observed.message).toMatch(/^spec\.rclone\.moverServiceAccount: /);
  });

  it('says any other refusal as the API server gave it', () => {
    expect(
      explainRefusedPod(
        'rsync',
        'Error creating: pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true',
      ),
    ).toBe('the API server refused the mover pod: violates PodSecurity "restricted:latest": runAsNonRoot != true');
  });

  it('is not a failure once a pod exists, nor for a passing conflict, nor for another Job', () => {
    expect(
      resticMover.read(
        crOf('restic', 'ReplicationSource'),
        refusedJob('restic', 'ReplicationSource', QUOTA_MESSAGE, true),
      ).phase,
    ).toBe('pending');
    const conflict =
      'Error creating: Operation cannot be fulfilled on resourcequotas "compute": the object has been modified; please apply your changes to the latest version and try again';
    expect(
      resticMover.read(crOf('restic', 'ReplicationSource'), refusedJob('restic', 'ReplicationSource', conflict)).phase,
    ).toBe('pending');
    const [job, event] = refusedJob('restic', 'ReplicationSource', QUOTA_MESSAGE) as [KubeObject, KubeObject];
    const other = {
      ...event,
      involvedObject: { kind: 'Job', name: job.metadata.name, uid: 'an-earlier-job' },
    } as KubeObject;
    expect(readMoverJob(job.metadata.name ?? '', [job, other], () => '').phase).toBe('pending');
  });
});
