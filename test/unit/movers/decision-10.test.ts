/**
 * Decision 10, the other half: only the rsync mover runs as root (rsync-builder.test.ts); every
 * other mover runs unprivileged, as UID 65534 with no capabilities at all.
 */
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject } from '../../../machines/mover.js';
import { rcloneMover } from '../../../src/movers/rclone/mover.js';
import { resticMover } from '../../../src/movers/restic/mover.js';

const cycle = { cycleId: '1-20260101000000', attempt: 0, volume: 'vol' };

function cr(kind: ScribeCr['kind'], mover: 'restic' | 'rclone'): ScribeCr {
  const options =
    mover === 'restic'
      ? {
          repository: 'restic-config',
          copyMethod: kind === 'ReplicationSource' ? 'Clone' : 'Snapshot',
          capacity: '1Gi',
        }
      : {
          rcloneConfig: 'rclone-secret',
          rcloneConfigSection: 'remote',
          rcloneDestPath: 'bucket/path',
          copyMethod: kind === 'ReplicationSource' ? 'Clone' : 'Snapshot',
          capacity: '1Gi',
        };
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind,
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-1' },
    spec: { ...(kind === 'ReplicationSource' ? { sourcePVC: 'data' } : {}), [mover]: options },
  } as unknown as ScribeCr;
}

type PodSpec = { securityContext?: Record<string, unknown>; containers: Array<{ securityContext: unknown }> };

describe('decision 10: every mover but rsync runs unprivileged', () => {
  it.each([
    ['restic', 'ReplicationSource'],
    ['restic', 'ReplicationDestination'],
    ['rclone', 'ReplicationSource'],
    ['rclone', 'ReplicationDestination'],
  ] as const)('decision 10: the %s mover of a %s runs as UID 65534 with no capabilities', (mover, kind) => {
    const runtime = mover === 'restic' ? resticMover : rcloneMover;
    const plan = runtime.build(cr(kind, mover), cycle, {});
    const job = plan.objects.find((o) => o.kind === 'Job') as KubeObject & { spec: { template: { spec: PodSpec } } };
    const pod = job.spec.template.spec;
    // The volume is writable through its group; the user is nobody.
    expect(pod.securityContext).toEqual({ runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, fsGroup: 65534 });
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it.each([
    ['restic', 'ReplicationSource'],
    ['restic', 'ReplicationDestination'],
    ['rclone', 'ReplicationSource'],
    ['rclone', 'ReplicationDestination'],
  ] as const)('issue 20: the %s mover of a %s runs as its moverSecurityContext, as given', (mover, kind) => {
    const runtime = mover === 'restic' ? resticMover : rcloneMover;
    const given = cr(kind, mover);
    const context = { runAsUser: 999, runAsGroup: 999, fsGroup: 999, supplementalGroups: [5] };
    (given.spec as unknown as Record<string, Record<string, unknown>>)[mover]!.moverSecurityContext = context;
    const job = runtime.build(given, cycle, {}).objects.find((o) => o.kind === 'Job') as KubeObject & {
      spec: { template: { spec: PodSpec } };
    };
    expect(job.spec.template.spec.securityContext).toEqual(context);
    // Nothing in the container overrides the pod's user.
    expect(job.spec.template.spec.containers[0]?.securityContext).not.toHaveProperty('runAsUser');
  });
});
