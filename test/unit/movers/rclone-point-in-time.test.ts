/**
 * The rclone source reads its metadata record while rclone syncs only when the volume is a
 * point-in-time copy (copyMethod Clone or Snapshot); a live volume's record is read first.
 */
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject } from '../../../machines/mover.js';
import { rcloneMover } from '../../../src/movers/rclone/mover.js';

function cr(kind: ScribeCr['kind'], copyMethod: string): ScribeCr {
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind,
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-1' },
    spec: {
      ...(kind === 'ReplicationSource' ? { sourcePVC: 'data' } : {}),
      rclone: { rcloneConfig: 'secret', rcloneConfigSection: 'remote', rcloneDestPath: 'bucket/path', copyMethod },
    },
  } as unknown as ScribeCr;
}

function env(resource: ScribeCr): Record<string, string> {
  const plan = rcloneMover.build(resource, { cycleId: '1-20260101000000', attempt: 0, volume: 'vol' }, {});
  const job = plan.objects.find((o) => o.kind === 'Job') as KubeObject & {
    spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value: string }> }> } } };
  };
  return Object.fromEntries(job.spec.template.spec.containers[0]?.env.map((e) => [e.name, e.value]) ?? []);
}

describe('rclone source: point-in-time volumes', () => {
  it.each([
    ['ReplicationSource', 'Clone', 'true'],
    ['ReplicationSource', 'Snapshot', 'true'],
    ['ReplicationSource', 'None', undefined],
    ['ReplicationDestination', 'Snapshot', undefined],
  ] as const)('a %s with copyMethod %s: SCRIBE_VOLUME_POINT_IN_TIME=%s', (kind, copyMethod, expected) => {
    expect(env(cr(kind, copyMethod)).SCRIBE_VOLUME_POINT_IN_TIME).toBe(expected);
  });
});
