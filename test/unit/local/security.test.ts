/**
 * resolveContainerSecurity against values written down from the kubelet's and containerd's code
 * (k8s.io/kubernetes v1.35 pkg/kubelet/kuberuntime, pkg/securitycontext; containerd v2
 * internal/cri, pkg/oci). Each case names the function its expectation comes from.
 */
import type { V1Container, V1Pod, V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ConfigError, CreateContainerError } from '../../../src/local/agent/env.js';
import {
  ALL_CAPABILITIES,
  resolveContainerSecurity,
  type ContainerSecurity,
  type SecurityInput,
} from '../../../src/local/agent/security.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  '',
].join('\n');

const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  // A comment line, which moby/sys/user ParseGroupFilter skips (app would otherwise gain 7).
  '#audio:x:7:app',
  'app:x:1000:app',
  'audio:x:29:app,daemon',
  'video:x:44:app',
  'staff:x:50:root',
  'nogroup:x:65534:',
  '',
].join('\n');

/** containerd pkg/oci/spec.go defaultUnixCaps, in its order. */
const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** kubernetes pkg/securitycontext/util.go defaultMaskedPaths (without the host's thermal_throttle paths). */
const MASKED = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** kubernetes pkg/securitycontext/util.go defaultReadonlyPaths. */
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The same list in bounding, effective and permitted; inheritable and ambient empty. */
function caps(list: string[]) {
  return { bounding: list, effective: list, permitted: list, inheritable: [], ambient: [] };
}

interface Case {
  name: string;
  podSc?: V1PodSecurityContext;
  sc?: V1SecurityContext;
  imageUser?: string;
  passwd?: string | undefined;
  group?: string | undefined;
  /** The fields of the result to compare exactly. */
  expected: Partial<ContainerSecurity>;
}

function input(c: Pick<Case, 'podSc' | 'sc' | 'imageUser' | 'passwd' | 'group'>): SecurityInput {
  const container: V1Container = { name: 'app', image: 'example/app:1', securityContext: c.sc };
  const pod: V1Pod = {
    metadata: { name: 'web', namespace: 'shop', uid: 'uid-1' },
    spec: { containers: [container], securityContext: c.podSc },
  };
  return {
    pod,
    container,
    imageUser: c.imageUser ?? '',
    passwd: 'passwd' in c ? c.passwd : PASSWD,
    group: 'group' in c ? c.group : GROUP,
  };
}

/** Only the fields a case names. */
function pick(result: ContainerSecurity, expected: Partial<ContainerSecurity>): Partial<ContainerSecurity> {
  return Object.fromEntries(Object.keys(expected).map((key) => [key, result[key as keyof ContainerSecurity]]));
}

/** The error resolveContainerSecurity throws (fails the test when it does not throw). */
function failure(c: Pick<Case, 'podSc' | 'sc' | 'imageUser' | 'passwd' | 'group'>): Error {
  try {
    resolveContainerSecurity(input(c));
  } catch (error) {
    return error as Error;
  }
  throw new Error('resolveContainerSecurity did not throw');
}

const cases: Case[] = [
  {
    // Kubelet helpers.go getImageUser: no image user = uid 0. containerd spec_opts.go WithUserID(0):
    // gid from root's passwd entry; WithAdditionalGIDs("0"): root's memberships (staff) + primary;
    // spec.go defaultUnixCaps; spec_opts.go WithoutAmbientCaps; util.go defaultMaskedPaths.
    name: 'defaults as root',
    expected: {
      identity: { uid: 0, gid: 0, additionalGids: [0, 50] },
      capabilities: caps(DEFAULT_CAPS),
      noNewPrivileges: false,
      readOnlyRootFilesystem: false,
      privileged: false,
      maskedPaths: MASKED,
      readonlyPaths: READONLY,
    },
  },
  {
    // containerd images/image_status.go getUserFromImage keeps only "65534"; WithUser("65534") →
    // WithUserID: the gid comes from /etc/passwd's nobody entry, not from the image's ":65534".
    name: 'image USER 65534:65534 with nobody in /etc/passwd',
    imageUser: '65534:65534',
    expected: { identity: { uid: 65534, gid: 65534, additionalGids: [65534] } },
  },
  {
    // Same path without /etc/passwd: WithUserID falls back to gid 0 (containerd#11607, k8s#61967).
    name: 'image USER 65534:65534 without /etc/passwd',
    imageUser: '65534:65534',
    passwd: undefined,
    group: undefined,
    expected: { identity: { uid: 65534, gid: 0, additionalGids: [0] } },
  },
  {
    // WithUsername("app"): uid/gid from passwd; oci.WithAdditionalGIDs: groups listing app except
    // the group named app; internal/cri/opts/spec_opts.go mergeGids sorts them.
    name: 'named user with /etc/group memberships',
    imageUser: 'app',
    expected: { identity: { uid: 1000, gid: 1000, additionalGids: [29, 44, 1000] } },
  },
  {
    // getUserFromImage drops the group part of "app:video"; only the name reaches WithUser.
    name: 'image USER name:group resolves the name only',
    imageUser: 'app:video',
    expected: { identity: { uid: 1000, gid: 1000, additionalGids: [29, 44, 1000] } },
  },
  {
    // Kubelet security_context.go determineEffectiveSecurityContext: runAsUser set, image user unused.
    name: 'runAsUser overrides the image user',
    imageUser: '65534:65534',
    sc: { runAsUser: 1000 },
    expected: { identity: { uid: 1000, gid: 1000, additionalGids: [29, 44, 1000] } },
  },
  {
    // generateUserString "1000:3000" → WithUser two numeric parts, no lookup; WithAdditionalGIDs("1000")
    // adds app's memberships, ensureAdditionalGids the primary 3000 (not passwd's 1000).
    name: 'runAsGroup',
    sc: { runAsUser: 1000, runAsGroup: 3000 },
    expected: { identity: { uid: 1000, gid: 3000, additionalGids: [29, 44, 3000] } },
  },
  {
    // WithUserID(4321): not in passwd → gid 0; no name, so no /etc/group memberships.
    name: 'runAsUser absent from /etc/passwd',
    sc: { runAsUser: 4321 },
    expected: { identity: { uid: 4321, gid: 0, additionalGids: [0] } },
  },
  {
    // Kubelet determineEffectiveSecurityContext appends fsGroup, then supplementalGroups;
    // containerd WithSupplementalGroups → mergeGids: sorted, duplicates (29) once.
    name: 'supplementalGroups and fsGroup',
    imageUser: 'app',
    podSc: { supplementalGroups: [5000, 29], fsGroup: 2000 },
    expected: { identity: { uid: 1000, gid: 1000, additionalGids: [29, 44, 1000, 2000, 5000] } },
  },
  {
    // container_create_linux.go containerSpecOpts: Strict skips WithAdditionalGIDs.
    name: 'supplementalGroupsPolicy Strict',
    imageUser: 'app',
    podSc: { supplementalGroups: [5000], fsGroup: 2000, supplementalGroupsPolicy: 'Strict' },
    expected: { identity: { uid: 1000, gid: 1000, additionalGids: [1000, 2000, 5000] } },
  },
  {
    // customopts.WithCapabilities → oci.WithAddedCapabilities appends CAP_NET_ADMIN.
    name: 'capabilities add NET_ADMIN',
    sc: { capabilities: { add: ['NET_ADMIN'] } },
    expected: { capabilities: caps([...DEFAULT_CAPS, 'CAP_NET_ADMIN']) },
  },
  {
    // WithCapabilities: drop ALL → oci.WithCapabilities(nil), then the add.
    name: 'capabilities drop ALL, add CHOWN',
    sc: { capabilities: { drop: ['ALL'], add: ['CHOWN'] } },
    expected: { capabilities: caps(['CAP_CHOWN']) },
  },
  {
    // oci.WithDroppedCapabilities removes one default.
    name: 'capabilities drop a default (NET_RAW)',
    sc: { capabilities: { drop: ['NET_RAW'] } },
    expected: { capabilities: caps(DEFAULT_CAPS.filter((name) => name !== 'CAP_NET_RAW')) },
  },
  {
    // WithCapabilities: add ALL → allCaps (cap.Current), then the individual drop.
    name: 'capabilities add ALL, drop CHOWN',
    sc: { capabilities: { add: ['all'], drop: ['CHOWN'] } },
    expected: { capabilities: caps(ALL_CAPABILITIES.filter((name) => name !== 'CAP_CHOWN')) },
  },
  {
    // container_create.go buildLinuxSpec: WithPrivileged after WithCapabilities → every capability,
    // masked/readonly paths nil; add/drop have no effect; no_new_privs untouched (false).
    name: 'privileged',
    sc: { privileged: true, capabilities: { drop: ['ALL'] } },
    expected: {
      capabilities: caps([...ALL_CAPABILITIES]),
      privileged: true,
      maskedPaths: [],
      readonlyPaths: [],
      noNewPrivileges: false,
    },
  },
  {
    // pkg/securitycontext/util.go AddNoNewPrivileges: explicit false → no_new_privs.
    name: 'allowPrivilegeEscalation false',
    sc: { allowPrivilegeEscalation: false },
    expected: { noNewPrivileges: true },
  },
  {
    // AddNoNewPrivileges: unset → false (buildLinuxSpec starts from oci.WithNewPrivileges).
    name: 'allowPrivilegeEscalation unset',
    sc: {},
    expected: { noNewPrivileges: false },
  },
  {
    // AddNoNewPrivileges: explicit true → false.
    name: 'allowPrivilegeEscalation true',
    sc: { allowPrivilegeEscalation: true },
    expected: { noNewPrivileges: false },
  },
  {
    // security_context.go convertToRuntimeSecurityContext: ReadonlyRootfs.
    name: 'readOnlyRootFilesystem',
    sc: { readOnlyRootFilesystem: true },
    expected: { readOnlyRootFilesystem: true },
  },
  {
    // util.go ConvertToRuntimeMaskedPaths/ConvertToRuntimeReadonlyPaths: Unmasked → none.
    name: 'procMount Unmasked',
    sc: { procMount: 'Unmasked' },
    expected: { maskedPaths: [], readonlyPaths: [] },
  },
  {
    // util.go DetermineEffectiveSecurityContext: the container's runAsUser wins, the pod's
    // runAsGroup stays; the pod's runAsNonRoot with the container's non-zero uid passes.
    name: 'container context overrides pod context',
    podSc: { runAsUser: 0, runAsGroup: 3000, runAsNonRoot: true },
    sc: { runAsUser: 65534 },
    expected: { identity: { uid: 65534, gid: 3000, additionalGids: [3000] } },
  },
  {
    // DetermineEffectiveSecurityContext: container runAsNonRoot false overrides the pod's true.
    name: 'container runAsNonRoot false overrides the pod',
    podSc: { runAsNonRoot: true },
    sc: { runAsNonRoot: false },
    expected: { identity: { uid: 0, gid: 0, additionalGids: [0, 50] } },
  },
];

describe('resolveContainerSecurity', () => {
  it.each(cases)('$name', (c) => {
    const result = resolveContainerSecurity(input(c));
    expect(pick(result, c.expected)).toEqual(c.expected);
  });

  it('lists every capability up to CAP_CHECKPOINT_RESTORE once (containerd pkg/cap caps59)', () => {
    expect(ALL_CAPABILITIES).toHaveLength(41);
    expect(new Set(ALL_CAPABILITIES).size).toBe(41);
    expect(ALL_CAPABILITIES[0]).toBe('CAP_CHOWN');
    expect(ALL_CAPABILITIES[21]).toBe('CAP_SYS_ADMIN');
    expect(ALL_CAPABILITIES[40]).toBe('CAP_CHECKPOINT_RESTORE');
  });
});

describe('refusals', () => {
  const where = '(pod: "web_shop(uid-1)", container: app)';

  it.each([
    {
      // security_context_others.go verifyRunAsNonRoot: effective runAsUser 0.
      name: 'runAsNonRoot with runAsUser 0',
      c: { sc: { runAsNonRoot: true, runAsUser: 0 } },
      message: `container's runAsUser breaks non-root policy ${where}`,
    },
    {
      // verifyRunAsNonRoot: the pod's runAsUser 0 applies when the container sets none.
      name: "runAsNonRoot with the pod's runAsUser 0",
      c: { podSc: { runAsUser: 0 }, sc: { runAsNonRoot: true } },
      message: `container's runAsUser breaks non-root policy ${where}`,
    },
    {
      // verifyRunAsNonRoot: image uid 0 (no USER: getImageUser returns 0).
      name: 'runAsNonRoot with an image running as root',
      c: { podSc: { runAsNonRoot: true } },
      message: `container has runAsNonRoot and image will run as root ${where}`,
    },
    {
      // verifyRunAsNonRoot: a name cannot be checked without the image's files.
      name: 'runAsNonRoot with a non-numeric image user',
      c: { imageUser: 'app:app', sc: { runAsNonRoot: true } },
      message: `container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root ${where}`,
    },
    {
      // security_context.go determineEffectiveSecurityContext: unknown SupplementalGroupsPolicy.
      name: 'an unknown supplementalGroupsPolicy',
      c: { podSc: { supplementalGroupsPolicy: 'Loose' } },
      message: 'unsupported supplementalGroupsPolicy: Loose',
    },
  ])('the kubelet refuses $name (CreateContainerConfigError)', ({ c, message }) => {
    const error = failure(c);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(message);
  });

  it('lets runAsNonRoot pass with a non-zero numeric image user', () => {
    const result = resolveContainerSecurity(input({ imageUser: '1000', sc: { runAsNonRoot: true } }));
    expect(result.identity.uid).toBe(1000);
  });

  it.each([
    // pkg/oci/spec_opts.go WithUsername → UserFromFS: no such entry (ErrNoUsersFound).
    { name: 'a name missing from /etc/passwd', c: { imageUser: 'ghost' }, cause: 'no users found' },
    // UserFromFS: the image has no /etc/passwd at all.
    {
      name: 'a name without /etc/passwd',
      c: { imageUser: 'app', passwd: undefined },
      cause: 'open etc/passwd: no such file or directory',
    },
  ])('containerd refuses $name (CreateContainerError)', ({ c, cause }) => {
    const error = failure(c);
    expect(error).toBeInstanceOf(CreateContainerError);
    expect(error).not.toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`failed to create containerd container: ${cause}`);
  });
});
