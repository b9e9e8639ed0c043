/**
 * A pod's volumes as host directories. persistentVolumeClaim → the bound PV's directory
 * (hostPath.path or local.path); emptyDir → a per-pod directory; secret, configMap,
 * downwardAPI and projected (including service-account tokens from the TokenRequest API) →
 * a per-pod directory the agent fills with one file per key, honouring items and modes, laid
 * out as the kubelet's AtomicWriter lays it out (atomic-writer.ts); hostPath → the host path
 * itself. Modes and the pod's fsGroup are applied as the kubelet's volume plugins apply them
 * (ownership.ts). Contents are written once when the pod starts (a kubelet refreshes them;
 * nothing here needs that). Anything missing throws ConfigError.
 */
import type {
  KubeConfig,
  V1Container,
  V1DownwardAPIVolumeFile,
  V1KeyToPath,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1ProjectedVolumeSource,
  V1Volume,
} from '@kubernetes/client-node';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isStatus, kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';
import { writeAtomically, type FileProjection } from './atomic-writer.js';
import { checkHostPath } from './host-paths.js';
import { ConfigError, fieldValue, type ConfigSource, type PodFacts } from './env.js';
import { setUpEmptyDir, setVolumeOwnership } from './ownership.js';

/** A volume resolved to a host directory (or file, for subPath). */
export interface HostVolume {
  path: string;
  /** Always read-only, whatever the volumeMount says (secret, configMap, projected, downwardAPI). */
  forceReadOnly: boolean;
}

/** Everything volume preparation needs to know about the pod. */
export interface VolumeContext {
  kc: KubeConfig;
  pod: V1Pod;
  podDir: string;
  source: ConfigSource;
  facts: PodFacts;
  /** hostPath volumes and claims' PV paths must lie in these directories (host-paths.ts). */
  allowedHostPaths: readonly string[];
}

/** The apiserver's default for secret, configMap, downwardAPI and projected defaultMode. */
const DEFAULT_MODE = 0o644;

/** What the kubelet's MounterArgs carry about owners: FsGroup, FSGroupChangePolicy, FsUser. */
interface PodOwners {
  fsGroup?: number;
  changePolicy?: string;
  fsUser?: number;
}

/** Resolves every volume of the pod, writing the materialised ones; throws ConfigError. */
export async function prepareVolumes(context: VolumeContext): Promise<Map<string, HostVolume>> {
  const volumes = new Map<string, HostVolume>();
  for (const volume of context.pod.spec?.volumes ?? []) volumes.set(volume.name, await prepareVolume(context, volume));
  return volumes;
}

async function prepareVolume(context: VolumeContext, volume: V1Volume): Promise<HostVolume> {
  const owners = podOwners(context.pod);
  if (volume.persistentVolumeClaim) return prepareClaim(context, volume, volume.persistentVolumeClaim, owners);
  if (volume.emptyDir) return prepareEmptyDir(context, volume, owners);
  if (volume.hostPath) {
    await checkHostPath(volume.hostPath.path, context.allowedHostPaths, volume.name);
    return prepareHostPath(volume.hostPath);
  }
  const files = await projectedFiles(context, volume, owners);
  const dir = join(context.podDir, 'volumes', volume.name);
  // Rewritten from scratch at each start: a restarted pod sees the current data.
  await rm(dir, { recursive: true, force: true });
  // These plugins wrap a memory emptyDir, set up (with the fsGroup, writable) before writing.
  await setUpEmptyDir(dir, { medium: 'Memory', fsGroup: owners.fsGroup });
  // Their setPerms: the whole volume, with GetAttributes().ReadOnly true (roMask), no policy.
  await writeAtomically(dir, files, () => setVolumeOwnership(dir, { fsGroup: owners.fsGroup, readOnly: true }));
  return { path: dir, forceReadOnly: true };
}

/**
 * fsGroup, its change policy, and FsUserFrom (pkg/volume/util/util.go): the one runAsUser
 * every container (init, regular, ephemeral) runs as, pod-level or overridden; none when a
 * container has no runAsUser or two differ.
 */
export function podOwners(pod: V1Pod): PodOwners {
  const context = pod.spec?.securityContext;
  const containers: Pick<V1Container, 'securityContext'>[] = [
    ...(pod.spec?.initContainers ?? []),
    ...(pod.spec?.containers ?? []),
    ...(pod.spec?.ephemeralContainers ?? []),
  ];
  const users = containers.map((container) => container.securityContext?.runAsUser ?? context?.runAsUser);
  const first = users[0];
  const fsUser = first !== undefined && users.every((user) => user === first) ? first : undefined;
  return { fsGroup: context?.fsGroup, changePolicy: context?.fsGroupChangePolicy, fsUser };
}

/**
 * A claim's directory. The local provisioner's PVs are plain directories; they are treated
 * as a CSI driver with fsGroupPolicy File would be (csi_mounter.go supportsFSGroup): the
 * fsGroup, with the pod's fsGroupChangePolicy, unless the volume is mounted read-only.
 */
async function prepareClaim(
  context: VolumeContext,
  volume: V1Volume,
  claim: { claimName: string; readOnly?: boolean },
  owners: PodOwners,
): Promise<HostVolume> {
  const namespace = context.pod.metadata?.namespace ?? 'default';
  const path = await claimDirectory(context.kc, namespace, claim.claimName);
  // A PV made by hand can name any host path: the same allowed list applies.
  await checkHostPath(path, context.allowedHostPaths, volume.name);
  const readOnly = Boolean(claim.readOnly);
  if (!readOnly) {
    await setVolumeOwnership(path, { fsGroup: owners.fsGroup, readOnly: false, changePolicy: owners.changePolicy });
  }
  return { path, forceReadOnly: readOnly };
}

async function prepareEmptyDir(context: VolumeContext, volume: V1Volume, owners: PodOwners): Promise<HostVolume> {
  const medium = volume.emptyDir?.medium ?? '';
  // HugePages media need hugetlbfs mounts, which this node does not make.
  if (medium !== '' && medium !== 'Memory') {
    throw new ConfigError(
      `volume "${volume.name}": emptyDir medium ${medium} is not supported by the local node agent`,
    );
  }
  const dir = join(context.podDir, 'volumes', volume.name);
  // Where the kubelet keeps the plugin's ready file: pods/<uid>/plugins/kubernetes.io~empty-dir/<name>/ready.
  const readyFile = join(context.podDir, 'plugins', 'kubernetes.io~empty-dir', volume.name, 'ready');
  await setUpEmptyDir(dir, { medium, fsGroup: owners.fsGroup, readyFile });
  return { path: dir, forceReadOnly: false };
}

/** hostPath: never any ownership change (its plugin does not manage ownership). */
async function prepareHostPath(source: { path: string; type?: string }): Promise<HostVolume> {
  // host_path.go makeDir / makeFile: 0755 directories, 0644 files (the umask applies).
  if (source.type === 'DirectoryOrCreate') await mkdir(source.path, { recursive: true, mode: 0o755 });
  if (source.type === 'FileOrCreate') await (await open(source.path, 'a', 0o644)).close();
  return { path: source.path, forceReadOnly: false };
}

/** The payload of a secret, configMap, downwardAPI or projected volume (path → file). */
async function projectedFiles(
  context: VolumeContext,
  volume: V1Volume,
  owners: PodOwners,
): Promise<Map<string, FileProjection>> {
  if (volume.secret) {
    const ref = volume.secret;
    return objectFiles(context, 'Secret', ref.secretName ?? '', ref.items, ref.defaultMode, ref.optional);
  }
  if (volume.configMap) {
    const ref = volume.configMap;
    return objectFiles(context, 'ConfigMap', ref.name ?? '', ref.items, ref.defaultMode, ref.optional);
  }
  if (volume.downwardAPI) return downwardFiles(context, volume.downwardAPI.items ?? [], volume.downwardAPI.defaultMode);
  if (volume.projected) return projectionFiles(context, volume.name, volume.projected, owners);
  throw new ConfigError(`volume "${volume.name}": this volume type is not supported by the local node agent`);
}

/** The files of a Secret's or a ConfigMap's keys (missing and not optional: ConfigError, the kubelet's words). */
async function objectFiles(
  context: VolumeContext,
  kind: 'Secret' | 'ConfigMap',
  name: string,
  items: V1KeyToPath[] | undefined,
  defaultMode: number | undefined,
  optional: boolean | undefined,
): Promise<Map<string, FileProjection>> {
  const data = await context.source.referenced(kind, name, optional);
  return keyFiles(data ?? {}, items, defaultMode, kind, optional);
}

/** projected.go collectData: every source with the volume's defaultMode, later paths winning. */
async function projectionFiles(
  context: VolumeContext,
  volumeName: string,
  projected: V1ProjectedVolumeSource,
  owners: PodOwners,
): Promise<Map<string, FileProjection>> {
  const defaultMode = projected.defaultMode;
  const files = new Map<string, FileProjection>();
  for (const projection of projected.sources ?? []) {
    let part: Map<string, FileProjection>;
    if (projection.secret) {
      const ref = projection.secret;
      part = await objectFiles(context, 'Secret', ref.name ?? '', ref.items, defaultMode, ref.optional);
    } else if (projection.configMap) {
      const ref = projection.configMap;
      part = await objectFiles(context, 'ConfigMap', ref.name ?? '', ref.items, defaultMode, ref.optional);
    } else if (projection.downwardAPI) {
      part = downwardFiles(context, projection.downwardAPI.items ?? [], defaultMode);
    } else if (projection.serviceAccountToken) {
      const token = await serviceAccountToken(context, projection.serviceAccountToken);
      part = new Map([[projection.serviceAccountToken.path, tokenFile(token, defaultMode, owners)]]);
    } else {
      throw new ConfigError(`volume "${volumeName}": unsupported projected source`);
    }
    for (const [path, file] of part) files.set(path, file);
  }
  return files;
}

/**
 * projected.go, serviceAccountToken: 0600 (not defaultMode) when the pod has an fsUser or an
 * fsGroup ("we depend on SetVolumeOwnership to change from 0600 to 0640"), and the file is
 * chowned to the fsUser.
 */
export function tokenFile(token: string, defaultMode: number | undefined, owners: PodOwners): FileProjection {
  const restricted = owners.fsUser !== undefined || owners.fsGroup !== undefined;
  return {
    data: Buffer.from(token, 'utf8'),
    mode: restricted ? 0o600 : (defaultMode ?? DEFAULT_MODE),
    fsUser: owners.fsUser,
  };
}

/**
 * secret.go / configmap.go MakePayload: one file per key, or per listed item with the item's
 * mode (a missing listed key is an error unless optional).
 */
function keyFiles(
  data: Record<string, string>,
  items: V1KeyToPath[] | undefined,
  defaultMode: number | undefined,
  kind: string,
  optional: boolean | undefined,
): Map<string, FileProjection> {
  const mode = defaultMode ?? DEFAULT_MODE;
  const bytes = (content: string) => Buffer.from(content, 'binary');
  if (!items?.length)
    return new Map(Object.entries(data).map(([key, content]) => [key, { data: bytes(content), mode }]));
  const files = new Map<string, FileProjection>();
  for (const item of items) {
    const content = data[item.key];
    if (content === undefined) {
      if (optional) continue;
      throw new ConfigError(`couldn't find key ${item.key} in ${kind}`);
    }
    files.set(item.path, { data: bytes(content), mode: item.mode ?? mode });
  }
  return files;
}

/** downwardapi.go CollectData: the item's mode, else defaultMode. */
function downwardFiles(
  context: VolumeContext,
  items: V1DownwardAPIVolumeFile[],
  defaultMode: number | undefined,
): Map<string, FileProjection> {
  const files = new Map<string, FileProjection>();
  for (const item of items) {
    const value = item.fieldRef ? fieldValue(context.pod, item.fieldRef.fieldPath, context.facts) : '';
    if (value === undefined) throw new ConfigError(`unsupported downwardAPI field ${item.fieldRef?.fieldPath}`);
    files.set(item.path, { data: Buffer.from(value, 'utf8'), mode: item.mode ?? defaultMode ?? DEFAULT_MODE });
  }
  return files;
}

async function serviceAccountToken(
  context: VolumeContext,
  projection: { audience?: string; expirationSeconds?: number },
): Promise<string> {
  const pod = context.pod;
  const namespace = pod.metadata?.namespace ?? 'default';
  const account = pod.spec?.serviceAccountName ?? 'default';
  const answer = await orNotFound(
    `serviceaccount "${account}"`,
    kubeRequest<{ status?: { token?: string } }>(context.kc, {
      method: 'POST',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(account)}/token`,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          ...(projection.audience ? { audiences: [projection.audience] } : {}),
          expirationSeconds: projection.expirationSeconds ?? 3607,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
        },
      },
    }),
  );
  return answer.status?.token ?? '';
}

/** The directory behind a PVC: its bound PV's hostPath (or local) path. */
export async function claimDirectory(kc: KubeConfig, namespace: string, claimName: string): Promise<string> {
  const claim = await orNotFound(
    `persistentvolumeclaim "${claimName}"`,
    kubeRequest<V1PersistentVolumeClaim>(kc, {
      method: 'GET',
      path: objectPath(RESOURCES.PersistentVolumeClaim, namespace, claimName),
    }),
  );
  const volumeName = claim.spec?.volumeName;
  if (!volumeName || claim.status?.phase !== 'Bound') {
    throw new ConfigError(`persistentvolumeclaim "${claimName}" is not bound yet`);
  }
  const volume = await orNotFound(
    `persistentvolume "${volumeName}"`,
    kubeRequest<V1PersistentVolume>(kc, {
      method: 'GET',
      path: objectPath(RESOURCES.PersistentVolume, undefined, volumeName),
    }),
  );
  const path = volume.spec?.hostPath?.path ?? volume.spec?.local?.path;
  if (!path) throw new ConfigError(`persistentvolume "${volumeName}" has no hostPath or local path`);
  return path;
}

/** The answer to `request`; a 404 is a ConfigError saying `what` is not found (the kubelet's words). */
async function orNotFound<T>(what: string, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    if (isStatus(error, 404)) throw new ConfigError(`${what} not found`);
    throw error;
  }
}
