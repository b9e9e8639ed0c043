/**
 * A pod's volumes as host directories. persistentVolumeClaim → the bound PV's directory
 * (hostPath.path or local.path); emptyDir → a per-pod directory; secret, configMap,
 * downwardAPI and projected (including service-account tokens from the TokenRequest API) →
 * a per-pod directory the agent fills with one file per key, honouring items and modes;
 * hostPath → the host path itself. Contents are written once when the pod starts (a kubelet
 * refreshes them; nothing here needs that). Anything missing throws ConfigError.
 */
import type {
  KubeConfig,
  V1DownwardAPIVolumeFile,
  V1KeyToPath,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Volume,
} from '@kubernetes/client-node';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { isStatus, kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';
import { ConfigError, fieldValue, type ConfigSource, type PodFacts } from './env.js';

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
}

/** Resolves every volume of the pod, writing the materialised ones; throws ConfigError. */
export async function prepareVolumes(context: VolumeContext): Promise<Map<string, HostVolume>> {
  const volumes = new Map<string, HostVolume>();
  for (const volume of context.pod.spec?.volumes ?? []) volumes.set(volume.name, await prepareVolume(context, volume));
  return volumes;
}

async function prepareVolume(context: VolumeContext, volume: V1Volume): Promise<HostVolume> {
  const dir = join(context.podDir, 'volumes', volume.name);
  const namespace = context.pod.metadata?.namespace ?? 'default';
  if (volume.persistentVolumeClaim) {
    return {
      path: await claimDirectory(context.kc, namespace, volume.persistentVolumeClaim.claimName),
      forceReadOnly: Boolean(volume.persistentVolumeClaim.readOnly),
    };
  }
  if (volume.emptyDir) {
    await mkdir(dir, { recursive: true });
    return { path: dir, forceReadOnly: false };
  }
  if (volume.hostPath) {
    if (volume.hostPath.type === 'DirectoryOrCreate') await mkdir(volume.hostPath.path, { recursive: true });
    return { path: volume.hostPath.path, forceReadOnly: false };
  }
  const files: FileToWrite[] = [];
  if (volume.secret) {
    const data = await context.source.secret(volume.secret.secretName ?? '');
    if (!data && !volume.secret.optional) throw new ConfigError(`secret "${volume.secret.secretName}" not found`);
    files.push(
      ...keyFiles(data ?? {}, volume.secret.items, volume.secret.defaultMode, 'Secret', volume.secret.optional),
    );
  } else if (volume.configMap) {
    const data = await context.source.configMap(volume.configMap.name ?? '');
    if (!data && !volume.configMap.optional) throw new ConfigError(`configmap "${volume.configMap.name}" not found`);
    files.push(
      ...keyFiles(
        data ?? {},
        volume.configMap.items,
        volume.configMap.defaultMode,
        'ConfigMap',
        volume.configMap.optional,
      ),
    );
  } else if (volume.downwardAPI) {
    files.push(...downwardFiles(context, volume.downwardAPI.items ?? [], volume.downwardAPI.defaultMode));
  } else if (volume.projected) {
    const defaultMode = volume.projected.defaultMode;
    for (const projection of volume.projected.sources ?? []) {
      if (projection.secret) {
        const ref = projection.secret;
        const data = await context.source.secret(ref.name ?? '');
        if (!data && !ref.optional) throw new ConfigError(`secret "${ref.name}" not found`);
        files.push(...keyFiles(data ?? {}, ref.items, defaultMode, 'Secret', ref.optional));
      } else if (projection.configMap) {
        const ref = projection.configMap;
        const data = await context.source.configMap(ref.name ?? '');
        if (!data && !ref.optional) throw new ConfigError(`configmap "${ref.name}" not found`);
        files.push(...keyFiles(data ?? {}, ref.items, defaultMode, 'ConfigMap', ref.optional));
      } else if (projection.downwardAPI) {
        files.push(...downwardFiles(context, projection.downwardAPI.items ?? [], defaultMode));
      } else if (projection.serviceAccountToken) {
        const token = await serviceAccountToken(context, projection.serviceAccountToken);
        files.push({ path: projection.serviceAccountToken.path, content: token, mode: defaultMode ?? 0o644 });
      } else {
        throw new ConfigError(`volume "${volume.name}": unsupported projected source`);
      }
    }
  } else {
    throw new ConfigError(`volume "${volume.name}": this volume type is not supported by the local node agent`);
  }
  // Rewritten from scratch at each start: a restarted pod sees the current data.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const file of files) {
    const target = normalize(join(dir, file.path));
    if (!target.startsWith(`${dir}/`))
      throw new ConfigError(`volume "${volume.name}": path ${file.path} escapes the volume`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, Buffer.from(file.content, 'binary'));
    await chmod(target, file.mode & 0o7777);
  }
  return { path: dir, forceReadOnly: true };
}

interface FileToWrite {
  path: string;
  /** Bytes as a "binary" string. */
  content: string;
  mode: number;
}

/** One file per key, or per listed item (a missing listed key is an error unless optional). */
function keyFiles(
  data: Record<string, string>,
  items: V1KeyToPath[] | undefined,
  defaultMode: number | undefined,
  kind: string,
  optional: boolean | undefined,
): FileToWrite[] {
  const mode = defaultMode ?? 0o644;
  if (!items?.length) return Object.entries(data).map(([key, content]) => ({ path: key, content, mode }));
  const files: FileToWrite[] = [];
  for (const item of items) {
    const content = data[item.key];
    if (content === undefined) {
      if (optional) continue;
      throw new ConfigError(`couldn't find key ${item.key} in ${kind}`);
    }
    files.push({ path: item.path, content, mode: item.mode ?? mode });
  }
  return files;
}

function downwardFiles(context: VolumeContext, items: V1DownwardAPIVolumeFile[], defaultMode: number | undefined) {
  return items.map((item) => {
    const value = item.fieldRef ? fieldValue(context.pod, item.fieldRef.fieldPath, context.facts) : '';
    if (value === undefined) throw new ConfigError(`unsupported downwardAPI field ${item.fieldRef?.fieldPath}`);
    return {
      path: item.path,
      content: Buffer.from(value, 'utf8').toString('binary'),
      mode: item.mode ?? defaultMode ?? 0o644,
    };
  });
}

async function serviceAccountToken(
  context: VolumeContext,
  projection: { audience?: string; expirationSeconds?: number },
): Promise<string> {
  const pod = context.pod;
  const namespace = pod.metadata?.namespace ?? 'default';
  const account = pod.spec?.serviceAccountName ?? 'default';
  try {
    const answer = await kubeRequest<{ status?: { token?: string } }>(context.kc, {
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
    });
    return answer.status?.token ?? '';
  } catch (error) {
    if (isStatus(error, 404)) throw new ConfigError(`serviceaccount "${account}" not found`);
    throw error;
  }
}

/** The directory behind a PVC: its bound PV's hostPath (or local) path. */
export async function claimDirectory(kc: KubeConfig, namespace: string, claimName: string): Promise<string> {
  let claim: V1PersistentVolumeClaim;
  try {
    claim = await kubeRequest<V1PersistentVolumeClaim>(kc, {
      method: 'GET',
      path: objectPath(RESOURCES.PersistentVolumeClaim, namespace, claimName),
    });
  } catch (error) {
    if (isStatus(error, 404)) throw new ConfigError(`persistentvolumeclaim "${claimName}" not found`);
    throw error;
  }
  const volumeName = claim.spec?.volumeName;
  if (!volumeName || claim.status?.phase !== 'Bound') {
    throw new ConfigError(`persistentvolumeclaim "${claimName}" is not bound yet`);
  }
  let volume: V1PersistentVolume;
  try {
    volume = await kubeRequest<V1PersistentVolume>(kc, {
      method: 'GET',
      path: objectPath(RESOURCES.PersistentVolume, undefined, volumeName),
    });
  } catch (error) {
    if (isStatus(error, 404)) throw new ConfigError(`persistentvolume "${volumeName}" not found`);
    throw error;
  }
  const path = volume.spec?.hostPath?.path ?? volume.spec?.local?.path;
  if (!path) throw new ConfigError(`persistentvolume "${volumeName}" has no hostPath or local path`);
  return path;
}
