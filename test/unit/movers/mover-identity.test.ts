/**
 * Whom every mover runs as (issue 20, docs/permissions.md): unprivileged by default, as UID
 * 65534 or the CR's moverSecurityContext, with no capabilities; as root with only its side's
 * capabilities in a namespace annotated scribe.backube/privileged-movers: "true".
 */
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject, MoverFacts } from '../../../machines/mover.js';
import {
  PRIVILEGED_DESTINATION_CAPABILITIES,
  PRIVILEGED_SOURCE_CAPABILITIES,
  privilegedMoversAllowed,
} from '../../../machines/privilege.js';
import { rcloneMover } from '../../../src/movers/rclone/mover.js';
import { resticMover } from '../../../src/movers/restic/mover.js';
import { rsyncMover } from '../../../src/movers/rsync/mover.js';

const cycle = { cycleId: '1-20260101000000', attempt: 0, volume: 'vol' };
type MoverName = 'rsync' | 'restic' | 'rclone';
const RUNTIMES = { rsync: rsyncMover, restic: resticMover, rclone: rcloneMover };

function cr(kind: ScribeCr['kind'], mover: MoverName, extra: object = {}): ScribeCr {
  const copyMethod = kind === 'ReplicationSource' ? 'Clone' : 'Snapshot';
  const options = {
    rsync: kind === 'ReplicationSource' ? { address: 'dest.example', copyMethod } : { copyMethod, capacity: '1Gi' },
    restic: { repository: 'restic-config', copyMethod, capacity: '1Gi' },
    rclone: {
      rcloneConfig: 'rclone-secret',
      rcloneConfigSection: 'remote',
      rcloneDestPath: 'bucket/path',
      copyMethod,
      capacity: '1Gi',
    },
  }[mover];
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind,
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-1' },
    spec: { ...(kind === 'ReplicationSource' ? { sourcePVC: 'data' } : {}), [mover]: { ...options, ...extra } },
  } as unknown as ScribeCr;
}

type PodSpec = {
  securityContext?: Record<string, unknown>;
  containers: Array<{ securityContext: { capabilities: { drop: string[]; add?: string[] } } & object }>;
};

function build(mover: MoverName, resource: ScribeCr, facts: MoverFacts = {}) {
  const plan = RUNTIMES[mover].build(resource, cycle, facts);
  const job = plan.objects.find((o) => o.kind === 'Job') as KubeObject & { spec: { template: { spec: PodSpec } } };
  return { pod: job.spec.template.spec, notice: plan.notice };
}

const EVERY_MOVER = (['rsync', 'restic', 'rclone'] as const).flatMap((mover) =>
  (['ReplicationSource', 'ReplicationDestination'] as const).map((kind) => [mover, kind] as const),
);

describe('whom a mover runs as (issue 20)', () => {
  it.each(EVERY_MOVER)(
    'the %s mover of a %s runs as UID 65534 with no capabilities by default, and says so',
    (mover, kind) => {
      const { pod, notice } = build(mover, cr(kind, mover));
      // The volume is writable through its group; the user is nobody.
      expect(pod.securityContext).toEqual({ runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, fsGroup: 65534 });
      expect(pod.containers).toHaveLength(1);
      // What PodSecurity `restricted` asks of every container.
      expect(pod.containers[0]?.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(notice).toMatch(/unprivileged as user 65534, the default: set moverSecurityContext .*privileged-movers/);
    },
  );

  it.each(EVERY_MOVER)('the %s mover of a %s runs as its moverSecurityContext, as given', (mover, kind) => {
    const context = { runAsUser: 999, runAsGroup: 999, fsGroup: 999, supplementalGroups: [5] };
    const { pod, notice } = build(mover, cr(kind, mover, { moverSecurityContext: context }));
    expect(pod.securityContext).toEqual(context);
    // Nothing in the container overrides the pod's user, and nothing is added.
    expect(pod.containers[0]?.securityContext).not.toHaveProperty('runAsUser');
    expect(pod.containers[0]?.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(notice).toBe('the mover runs unprivileged as user 999 (moverSecurityContext)');
  });

  it.each(EVERY_MOVER)(
    'the %s mover of a %s in a privileged namespace runs as root with only its side’s capabilities',
    (mover, kind) => {
      const { pod, notice } = build(mover, cr(kind, mover), { privilegedNamespace: true });
      expect(pod.securityContext).toBeUndefined();
      const side = kind === 'ReplicationSource' ? PRIVILEGED_SOURCE_CAPABILITIES : PRIVILEGED_DESTINATION_CAPABILITIES;
      // Only the rsync destination's sshd needs more: to switch to its login user.
      const sshd =
        mover === 'rsync' && kind === 'ReplicationDestination' ? ['KILL', 'SETGID', 'SETUID', 'SYS_CHROOT'] : [];
      expect(pod.containers[0]?.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: false,
        runAsUser: 0,
        capabilities: { drop: ['ALL'], add: [...side, ...sshd].sort() },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(notice).toMatch(/^the mover runs as root with .* \(namespace annotated scribe.backube\/privileged-movers/);
    },
  );

  it("a privileged mover keeps the moverSecurityContext's groups; its user is the container's root", () => {
    const context = { runAsUser: 999, fsGroup: 999, supplementalGroups: [5] };
    const { pod } = build('restic', cr('ReplicationDestination', 'restic', { moverSecurityContext: context }), {
      privilegedNamespace: true,
    });
    expect(pod.securityContext).toEqual(context);
    expect(pod.containers[0]?.securityContext).toMatchObject({ runAsUser: 0, runAsNonRoot: false });
  });

  it('every capability a privileged mover gets is one PodSecurity `baseline` allows', () => {
    // pod-security-admission's baseline "capabilities" check (Kubernetes 1.22+).
    const baseline = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD']);
    for (const cap of ['NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']) baseline.add(cap);
    for (const [mover, kind] of EVERY_MOVER) {
      const { pod } = build(mover, cr(kind, mover), { privilegedNamespace: true });
      for (const cap of pod.containers[0]?.securityContext.capabilities.add ?? [])
        expect(baseline.has(cap), `${mover} ${kind}: ${cap}`).toBe(true);
    }
  });

  it('a moverSecurityContext asking for root explicitly is not contradicted by runAsNonRoot', () => {
    const { pod } = build('rclone', cr('ReplicationSource', 'rclone', { moverSecurityContext: { runAsUser: 0 } }));
    expect(pod.containers[0]?.securityContext).not.toHaveProperty('runAsNonRoot');
    expect(pod.containers[0]?.securityContext.capabilities).toEqual({ drop: ['ALL'] });
  });

  it('only the annotation value "true" makes a namespace privileged', () => {
    expect(privilegedMoversAllowed({ 'scribe.backube/privileged-movers': 'true' })).toBe(true);
    for (const value of ['True', 'yes', '1', 'false', ''])
      expect(privilegedMoversAllowed({ 'scribe.backube/privileged-movers': value }), value).toBe(false);
    expect(privilegedMoversAllowed(undefined)).toBe(false);
  });
});
