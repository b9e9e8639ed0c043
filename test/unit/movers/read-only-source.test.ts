/**
 * Decision 16, the builders' half: a ReplicationSource only ever reads its volume, so every
 * source-side mover Job mounts its data volume read-only (in the container and on the claim),
 * and a destination's is writable. The table covers mover × kind × address, including the
 * mismatched rsync addresses that validation refuses: even if one slipped through, the kind
 * still decides which side reads.
 */
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject } from '../../../machines/mover.js';
import { rcloneMover } from '../../../src/movers/rclone/mover.js';
import { resticMover } from '../../../src/movers/restic/mover.js';
import { rsyncMover } from '../../../src/movers/rsync/mover.js';

const cycle = { cycleId: '1-20260101000000', attempt: 0, volume: 'the-volume' };
const MOVERS = {
  rsync: { mover: rsyncMover, options: { sshKeys: 'keys' } },
  rclone: {
    mover: rcloneMover,
    options: { rcloneConfig: 'rclone-secret', rcloneConfigSection: 'remote', rcloneDestPath: 'bucket/path' },
  },
  restic: { mover: resticMover, options: { repository: 'restic-config' } },
} as const;
const KINDS = ['ReplicationSource', 'ReplicationDestination'] as const;
const ADDRESSES = [undefined, 'peer.example.com'] as const;

type PodSpec = {
  containers: Array<{ command: string[]; volumeMounts: Array<{ name: string; mountPath: string; readOnly: boolean }> }>;
  volumes: Array<{ name: string; persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }>;
};

function cr(kind: (typeof KINDS)[number], mover: keyof typeof MOVERS, address: string | undefined): ScribeCr {
  const options = { copyMethod: 'None', capacity: '1Gi', ...MOVERS[mover].options, ...(address ? { address } : {}) };
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind,
    metadata: { name: 'cr', namespace: 'ns', uid: 'uid-1' },
    spec: { ...(kind === 'ReplicationSource' ? { sourcePVC: 'the-volume' } : {}), [mover]: options },
  } as ScribeCr;
}

const cases = (Object.keys(MOVERS) as Array<keyof typeof MOVERS>).flatMap((mover) =>
  KINDS.flatMap((kind) => ADDRESSES.map((address) => ({ mover, kind, address: address ?? '(none)' }))),
);

describe('decision 16: the data volume of a mover Job', () => {
  it.each(cases)('$mover $kind with address $address', ({ mover, kind, address }) => {
    const plan = MOVERS[mover].mover.build(cr(kind, mover, address === '(none)' ? undefined : address), cycle, {});
    const job = plan.objects.find((o): o is KubeObject & { spec: { template: { spec: PodSpec } } } => o.kind === 'Job');
    const pod = job?.spec.template.spec;
    const dataVolumes = pod?.volumes.filter((v) => v.persistentVolumeClaim?.claimName === 'the-volume') ?? [];
    expect(dataVolumes).toHaveLength(1);
    const mounts = pod?.containers.flatMap((c) => c.volumeMounts.filter((m) => m.name === dataVolumes[0]?.name));
    expect(mounts).toHaveLength(1);
    const reads = kind === 'ReplicationSource';
    expect(mounts?.[0]?.readOnly).toBe(reads);
    expect(Boolean(dataVolumes[0]?.persistentVolumeClaim?.readOnly)).toBe(reads);
    // The entrypoint follows the kind too: a source's Job runs the sending side.
    expect(pod?.containers[0]?.command.at(-1)).toBe(`${mover}-${reads ? 'source' : 'destination'}`);
  });
});
