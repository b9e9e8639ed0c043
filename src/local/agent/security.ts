/**
 * What a container's process is allowed to be, resolved from the pod's and the container's
 * securityContext and the image's USER as the kubelet and containerd resolve them. The node's
 * container runner (runc.ts) writes it into the OCI runtime spec; runc applies it.
 */
import type { V1Capabilities, V1Container, V1Pod, V1SecurityContext } from '@kubernetes/client-node';
import { ConfigError, CreateContainerError } from './env.js';

/** The process's real user and groups (no user namespace: the kernel checks these ids). */
export interface ProcessIdentity {
  uid: number;
  gid: number;
  /**
   * Supplementary groups: the primary gid, the image's /etc/group memberships, supplementalGroups,
   * fsGroup, ascending without duplicates (containerd's mergeGids).
   */
  additionalGids: number[];
}

/** Capability sets by name ("CAP_CHOWN"), as the OCI runtime spec's process.capabilities. */
export interface CapabilitySets {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

/** Everything the runtime spec needs from the securityContext. */
export interface ContainerSecurity {
  identity: ProcessIdentity;
  capabilities: CapabilitySets;
  /** allowPrivilegeEscalation: false (and not privileged) sets no_new_privs. */
  noNewPrivileges: boolean;
  readOnlyRootFilesystem: boolean;
  privileged: boolean;
  /** Paths hidden from the container (the kubelet's defaults, which containerd applies; none when privileged). */
  maskedPaths: string[];
  /** Paths mounted read-only in the container (the kubelet's defaults; none when privileged). */
  readonlyPaths: string[];
}

/** What resolveContainerSecurity reads. passwd/group undefined = the file is absent from the image. */
export interface SecurityInput {
  pod: V1Pod;
  container: V1Container;
  /** The image config's User ("", "uid", "uid:gid", "name", "name:group"). */
  imageUser: string;
  /** Contents of the image's /etc/passwd, undefined when the image has none. */
  passwd: string | undefined;
  /** Contents of the image's /etc/group, undefined when the image has none. */
  group: string | undefined;
}

/**
 * Resolves a container's securityContext as the kubelet (kuberuntime) turns it into a CRI
 * LinuxContainerSecurityContext and containerd's CRI plugin turns that into the OCI process.
 * Throws ConfigError with the kubelet's message where the kubelet refuses the container
 * (CreateContainerConfigError), CreateContainerError where containerd does.
 */
export function resolveContainerSecurity(input: SecurityInput): ContainerSecurity {
  const { pod, container } = input;
  const sc = effectiveSecurityContext(pod, container);
  const image = userFromImage(input.imageUser);
  verifyRunAsNonRoot(pod, container, sc, image);
  const cri = criSecurityContext(pod, sc, image);
  const files = { passwd: input.passwd, group: input.group };
  const privileged = sc.privileged === true;
  return {
    identity: resolveIdentity(cri, files),
    capabilities: privileged ? privilegedCapabilities() : capabilitiesFor(sc.capabilities),
    noNewPrivileges: addNoNewPrivileges(sc),
    readOnlyRootFilesystem: sc.readOnlyRootFilesystem === true,
    privileged,
    // containerd's WithPrivileged clears both lists whatever the kubelet sent.
    maskedPaths: privileged ? [] : maskedPathsFor(sc.procMount),
    readonlyPaths: privileged ? [] : readonlyPathsFor(sc.procMount),
  };
}

// ---------------------------------------------------------------------------------------------
// Kubelet: the effective securityContext (k8s.io/kubernetes pkg/securitycontext/util.go).

/**
 * DetermineEffectiveSecurityContext: the pod's runAsUser/runAsGroup/runAsNonRoot, each
 * overridden by the container's; every other field exists only on the container.
 */
export function effectiveSecurityContext(pod: V1Pod, container: V1Container): V1SecurityContext {
  const podSc = pod.spec?.securityContext;
  const fromPod: V1SecurityContext = {};
  if (podSc?.runAsUser !== undefined) fromPod.runAsUser = podSc.runAsUser;
  if (podSc?.runAsGroup !== undefined) fromPod.runAsGroup = podSc.runAsGroup;
  if (podSc?.runAsNonRoot !== undefined) fromPod.runAsNonRoot = podSc.runAsNonRoot;
  const own = container.securityContext ?? {};
  // Only fields the container sets override (Go copies field by field when non-nil).
  const set = Object.fromEntries(Object.entries(own).filter(([, value]) => value !== undefined && value !== null));
  return { ...fromPod, ...set };
}

/** AddNoNewPrivileges: no_new_privs only when allowPrivilegeEscalation is explicitly false. */
function addNoNewPrivileges(sc: V1SecurityContext): boolean {
  return sc.allowPrivilegeEscalation === false;
}

/**
 * The kubelet's defaultMaskedPaths (kept in sync with moby's). The kubelet sends them in the CRI
 * request and containerd applies them instead of its own. The kubelet also masks
 * /sys/devices/system/cpu/cpuN/thermal_throttle for each of the host's CPUs where that path
 * exists; that needs a look at the host, so it is left out here.
 */
const DEFAULT_MASKED_PATHS: readonly string[] = [
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

/** The kubelet's defaultReadonlyPaths. */
const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** ConvertToRuntimeMaskedPaths: procMount Unmasked masks nothing. */
function maskedPathsFor(procMount: string | undefined): string[] {
  return procMount === 'Unmasked' ? [] : [...DEFAULT_MASKED_PATHS];
}

/** ConvertToRuntimeReadonlyPaths: procMount Unmasked makes nothing read-only. */
function readonlyPathsFor(procMount: string | undefined): string[] {
  return procMount === 'Unmasked' ? [] : [...DEFAULT_READONLY_PATHS];
}

// ---------------------------------------------------------------------------------------------
// Kubelet: the image's user and runAsNonRoot.

/** The image user as the kubelet learns it from the runtime's ImageStatus (uid or name). */
interface ImageUser {
  uid: bigint | undefined;
  username: string;
}

/**
 * containerd's getUserFromImage (the group part is dropped), then the kubelet's getImageUser:
 * no user at all means uid 0.
 */
function userFromImage(user: string): ImageUser {
  const first = user.split(':')[0] ?? '';
  const uid = parseGoInt(first);
  if (uid !== undefined) return { uid, username: '' };
  // Neither a uid nor a name (no USER, or ":gid"): the kubelet assumes root.
  return first === '' ? { uid: 0n, username: '' } : { uid: undefined, username: first };
}

const MAX_INT32 = 2_147_483_647n;

/** verifyRunAsNonRoot (security_context_others.go), with the kubelet's messages. */
function verifyRunAsNonRoot(pod: V1Pod, container: V1Container, sc: V1SecurityContext, image: ImageUser): void {
  if (sc.runAsNonRoot !== true) return;
  const where = `(pod: ${goQuote(formatPod(pod))}, container: ${container.name})`;
  if (sc.runAsUser !== undefined) {
    if (sc.runAsUser === 0) throw new ConfigError(`container's runAsUser breaks non-root policy ${where}`);
    return;
  }
  if (image.uid === undefined) {
    if (image.username === '') return;
    throw new ConfigError(
      `container has runAsNonRoot and image has non-numeric user (${image.username}), cannot verify user is non-root ${where}`,
    );
  }
  if (image.uid === 0n) throw new ConfigError(`container has runAsNonRoot and image will run as root ${where}`);
  if (image.uid < 0n || image.uid > MAX_INT32) {
    throw new ConfigError(
      `container has runAsNonRoot and image has an invalid user id (${image.uid}). (Must be 1-(${MAX_INT32})): ` +
        `must be between 0 and ${MAX_INT32}, inclusive ${where}`,
    );
  }
}

/** format.Pod: name_namespace(uid). */
function formatPod(pod: V1Pod): string {
  return `${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})`;
}

/** Go's %q; object names and UIDs are printable ASCII, where it agrees with JSON strings. */
function goQuote(value: string): string {
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// Kubelet: what it sends to the runtime (determineEffectiveSecurityContext, security_context.go).

/** The user/group part of the CRI LinuxContainerSecurityContext. */
interface CriUser {
  runAsUser: bigint | undefined;
  runAsUsername: string;
  runAsGroup: bigint | undefined;
  supplementalGroups: number[];
  /** SupplementalGroupsPolicy: Merge (CRI default) adds the image's /etc/group memberships. */
  mergeImageGroups: boolean;
}

/**
 * runAsUser, else the image's uid or name; runAsGroup as set (the image's group never reaches
 * the runtime: kubernetes/kubernetes#61967, containerd/containerd#11607); fsGroup then
 * supplementalGroups, as the kubelet appends them.
 */
function criSecurityContext(pod: V1Pod, sc: V1SecurityContext, image: ImageUser): CriUser {
  const podSc = pod.spec?.securityContext;
  const runAsUser = sc.runAsUser;
  return {
    runAsUser: runAsUser === undefined ? image.uid : BigInt(runAsUser),
    runAsUsername: runAsUser === undefined ? image.username : '',
    runAsGroup: sc.runAsGroup === undefined ? undefined : BigInt(sc.runAsGroup),
    supplementalGroups: [
      ...(podSc?.fsGroup === undefined ? [] : [podSc.fsGroup]),
      ...(podSc?.supplementalGroups ?? []),
    ],
    mergeImageGroups: supplementalGroupsPolicy(podSc?.supplementalGroupsPolicy) === 'Merge',
  };
}

/** The kubelet maps the policy onto the CRI enum and refuses a value it does not know. */
function supplementalGroupsPolicy(policy: string | undefined): 'Merge' | 'Strict' {
  if (policy === undefined || policy === 'Merge' || policy === 'Strict') return policy ?? 'Merge';
  throw new ConfigError(`unsupported supplementalGroupsPolicy: ${policy}`);
}

// ---------------------------------------------------------------------------------------------
// containerd: user and groups (internal/cri/server/container_create*.go, pkg/oci/spec_opts.go).

interface ImageFiles {
  passwd: string | undefined;
  group: string | undefined;
}

/**
 * platformSpecOpts: WithUser(generateUserString(...)), then containerSpecOpts: with the Merge
 * policy WithAdditionalGIDs(user) and WithSupplementalGroups, with Strict only the latter.
 * containerd's mergeGids returns a sorted set, so that is the order runc receives.
 */
function resolveIdentity(cri: CriUser, files: ImageFiles): ProcessIdentity {
  const { uid, gid } = withUser(generateUserString(cri), files);
  // WithUser's ensureAdditionalGids: the primary group is always among the additional ones.
  const imageGroups = cri.mergeImageGroups ? imageGroupMemberships(userPart(cri), files) : [];
  const additionalGids = sortedSet([gid, ...imageGroups, ...cri.supplementalGroups]);
  return { uid, gid, additionalGids };
}

/** generateUserString: name or uid, ":gid" when runAsGroup is set. */
function generateUserString(cri: CriUser): string {
  const user = userPart(cri);
  return cri.runAsGroup === undefined ? user : `${user}:${cri.runAsGroup}`;
}

/** containerSpecOpts' userstr: the username, else the uid ("0" is the runtime's default). */
function userPart(cri: CriUser): string {
  if (cri.runAsUsername !== '') return cri.runAsUsername;
  return cri.runAsUser === undefined ? '0' : cri.runAsUser.toString();
}

/** oci.WithUser: "uid", "name", "uid:gid", "name:gid" (the kubelet sends no group names). */
function withUser(userstr: string, files: ImageFiles): { uid: number; gid: number } {
  const parts = userstr.split(':');
  if (parts.length === 1) {
    const uid = parseId(parts[0] ?? '');
    return uid === undefined ? withUsername(userstr, files) : withUserID(uid, files);
  }
  if (parts.length !== 2) throw runtimeError(`invalid USER value ${userstr}`);
  return withUserAndGroup(parts[0] ?? '', parts[1] ?? '', files);
}

/** WithUserID: the passwd entry's gid, or gid 0 when the uid is not in /etc/passwd. */
function withUserID(uid: number, files: ImageFiles): { uid: number; gid: number } {
  const entry = parsePasswd(files.passwd ?? '').find((user) => user.uid === uid);
  return { uid, gid: entry?.gid ?? 0 };
}

/** WithUsername: a name must be in /etc/passwd, or containerd fails the container. */
function withUsername(name: string, files: ImageFiles): { uid: number; gid: number } {
  const entry = userByName(name, files);
  return { uid: entry.uid, gid: entry.gid };
}

/** WithUser's two-part case: numeric parts as they are, names looked up. */
function withUserAndGroup(user: string, group: string, files: ImageFiles): { uid: number; gid: number } {
  const numericUid = parseId(user);
  const numericGid = parseId(group);
  const uid = numericUid ?? userByName(user, files).uid;
  const gid = numericGid ?? groupByName(group, files);
  return { uid, gid };
}

/** UserFromFS by name, with containerd's errors. */
function userByName(name: string, files: ImageFiles): PasswdEntry {
  if (files.passwd === undefined) throw runtimeError('open etc/passwd: no such file or directory');
  const entry = parsePasswd(files.passwd).find((user) => user.name === name);
  if (!entry) throw runtimeError('no users found');
  return entry;
}

/** GIDFromFS by name, with containerd's errors. */
function groupByName(name: string, files: ImageFiles): number {
  if (files.group === undefined) throw runtimeError('open etc/group: no such file or directory');
  const entry = parseGroup(files.group).find((group) => group.name === name);
  if (entry === undefined) throw runtimeError('no groups found');
  return entry.gid;
}

/**
 * oci.WithAdditionalGIDs: the groups of /etc/group that list the user as a member (a uid is
 * first turned into its name through /etc/passwd; an unknown uid has none), except a group
 * named like the user.
 */
function imageGroupMemberships(user: string, files: ImageFiles): number[] {
  const name = /^[+-]?\d+$/.test(user) ? uidName(user, files) : user;
  if (name === undefined || files.group === undefined) return [];
  return parseGroup(files.group)
    .filter((group) => group.name !== name && group.members.includes(name))
    .map((group) => group.gid);
}

/** The name of a numeric user in /etc/passwd (strconv.Atoi: no range check here). */
function uidName(user: string, files: ImageFiles): string | undefined {
  const uid = Number(BigInt(user));
  return parsePasswd(files.passwd ?? '').find((entry) => entry.uid === uid)?.name;
}

/** The kubelet reports CreateContainer's failure with containerd's wrapping. */
function runtimeError(cause: string): CreateContainerError {
  return new CreateContainerError(`failed to create containerd container: ${cause}`);
}

/** Ascending, without duplicates: containerd's mergeGids. */
function sortedSet(gids: number[]): number[] {
  return [...new Set(gids)].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// /etc/passwd and /etc/group as github.com/moby/sys/user parses them.

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** ParsePasswdFilter: trimmed non-empty lines (no comment syntax), fields split on ':'. */
function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map((line) => {
    const fields = line.split(':');
    return { name: fields[0] ?? '', uid: atoiOrZero(fields[2]), gid: atoiOrZero(fields[3]) };
  });
}

/** ParseGroupFilter: as passwd, and lines starting with '#' are comments. */
function parseGroup(text: string): GroupEntry[] {
  return lines(text)
    .filter((line) => !line.startsWith('#'))
    .map((line) => {
      const fields = line.split(':');
      const list = fields[3] ?? '';
      return { name: fields[0] ?? '', gid: atoiOrZero(fields[2]), members: list === '' ? [] : list.split(',') };
    });
}

/** bufio.ScanLines + bytes.TrimSpace, blank lines skipped. */
function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** moby/sys/user ignores conversion errors: a malformed number is 0. */
function atoiOrZero(field: string | undefined): number {
  const value = parseGoInt(field ?? '');
  return value === undefined ? 0 : Number(value);
}

/** strconv.ParseInt(s, 10, 64): optional sign, decimal digits, within int64. */
function parseGoInt(text: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < -(2n ** 63n) || value >= 2n ** 63n ? undefined : value;
}

/** WithUser's test for a numeric id: strconv.Atoi within 0..MaxInt32 (runc's limit). */
function parseId(text: string): number | undefined {
  const value = parseGoInt(text);
  return value === undefined || value < 0n || value > MAX_INT32 ? undefined : Number(value);
}

// ---------------------------------------------------------------------------------------------
// containerd: capabilities (pkg/oci/spec.go, pkg/oci/spec_opts.go, internal/cri/opts/spec_opts.go).

/** defaultUnixCaps: what an unprivileged container gets before add/drop. */
const DEFAULT_UNIX_CAPS: readonly string[] = [
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

/**
 * Every capability up to CAP_CHECKPOINT_RESTORE (41, kernel 5.9), in number order as
 * pkg/cap lists them. containerd's "ALL" and privileged use cap.Current(), its own effective set:
 * on a node where containerd runs as full root on a kernel >= 5.9, this list.
 */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/**
 * These are the sets containerd writes into the spec. Inheritable is empty (containerd's default
 * spec has none since the CVE-2022-24769 fix) and ambient is cleared (WithoutAmbientCaps), so for
 * a non-root uid the kernel clears effective and permitted at execve (runc keeps them across its
 * setuid): such a process ends up with no capabilities unless its file carries some. Root keeps
 * the permitted set (bounded) as effective.
 */
function capabilitySets(bounding: string[], effective: string[], permitted: string[]): CapabilitySets {
  return { bounding, effective, permitted, inheritable: [], ambient: [] };
}

/** WithPrivileged → WithAllCurrentCapabilities: add/drop are ignored. */
function privilegedCapabilities(): CapabilitySets {
  return capabilitySets([...ALL_CAPABILITIES], [...ALL_CAPABILITIES], [...ALL_CAPABILITIES]);
}

/**
 * customopts.WithCapabilities: "ALL" in add sets every capability, "ALL" in drop clears them
 * (both first, case-insensitive), then each other add is appended where missing and each other
 * drop removed. Names get "CAP_" prepended as written (upper-cased), even when they already
 * carry it: Kubernetes names have no prefix.
 */
function capabilitiesFor(capabilities: V1Capabilities | undefined): CapabilitySets {
  // Every step applies alike to bounding, effective and permitted, which start equal.
  const set = capabilityList(capabilities);
  return capabilitySets([...set], [...set], [...set]);
}

/** The one list bounding, effective and permitted share. */
function capabilityList(capabilities: V1Capabilities | undefined): string[] {
  if (!capabilities) return [...DEFAULT_UNIX_CAPS];
  const add = capabilities.add ?? [];
  const drop = capabilities.drop ?? [];
  let set = add.some(isAll) ? [...ALL_CAPABILITIES] : [...DEFAULT_UNIX_CAPS];
  if (drop.some(isAll)) set = [];
  const dropped = criNames(drop);
  return addCaps(set, criNames(add)).filter((name) => !dropped.includes(name));
}

/** util.InStringSlice(..., "ALL") and strings.ToUpper(c) == "ALL". */
function isAll(name: string): boolean {
  return name.toUpperCase() === 'ALL';
}

/** The CRI names as OCI names: "CAP_" + upper case, "ALL" left out. */
function criNames(names: string[]): string[] {
  return names.filter((name) => !isAll(name)).map((name) => `CAP_${name.toUpperCase()}`);
}

/** WithAddedCapabilities: appended in order when not already present. */
function addCaps(set: string[], names: string[]): string[] {
  const out = [...set];
  for (const name of names) if (!out.includes(name)) out.push(name);
  return out;
}
