/**
 * A container's environment as the kubelet builds it: envFrom (Secrets, ConfigMaps), then env
 * (literal values with $(VAR) expansion, secretKeyRef, configMapKeyRef, fieldRef), then the
 * Service variables (serviceEnvironment: KUBERNETES_SERVICE_HOST and friends) where the
 * container does not set the same name, with HOSTNAME as containerd adds it. POD_IP is always set (unless the pod sets it) because programs
 * must listen on the pod's own loopback address. Missing references throw ConfigError, which
 * keeps the pod Pending with CreateContainerConfigError until they appear.
 */
import type { KubeConfig, V1ConfigMap, V1Container, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { isStatus, kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';

/** A reference the container needs does not resolve (yet). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The container runtime (containerd) refuses to create the container: no command to run, or a
 * user or group the image's /etc/passwd or /etc/group does not name. The kubelet shows it as the
 * waiting reason CreateContainerError (not CreateContainerConfigError: it had nothing against the
 * pod itself).
 */
export class CreateContainerError extends Error {
  override name = 'CreateContainerError';
}

/** Reads Secrets and ConfigMaps once per pod start, so a pod sees one consistent version. */
export class ConfigSource {
  private readonly cache = new Map<string, Promise<Record<string, string> | undefined>>();

  constructor(
    private readonly kc: KubeConfig,
    private readonly namespace: string,
  ) {}

  /** The decoded data of a Secret, or undefined when it does not exist. */
  secret(name: string): Promise<Record<string, string> | undefined> {
    return this.read<V1Secret>('Secret', name, (secret) => ({
      ...binaryValues(secret.data, 'base64'),
      ...secret.stringData,
    }));
  }

  /** The data of a ConfigMap (binaryData decoded), or undefined when it does not exist. */
  configMap(name: string): Promise<Record<string, string> | undefined> {
    return this.read<V1ConfigMap>('ConfigMap', name, (configMap) => ({
      ...binaryValues(configMap.data, 'utf8'),
      ...binaryValues(configMap.binaryData, 'base64'),
    }));
  }

  /**
   * The data of a Secret or a ConfigMap a pod refers to; a missing one is a ConfigError (the
   * kubelet's words) unless the reference is optional.
   */
  async referenced(
    kind: 'Secret' | 'ConfigMap',
    name: string,
    optional: boolean | undefined,
  ): Promise<Record<string, string> | undefined> {
    const data = kind === 'Secret' ? await this.secret(name) : await this.configMap(name);
    if (!data && !optional) throw new ConfigError(`${kind.toLowerCase()} "${name}" not found`);
    return data;
  }

  private read<T>(kind: 'Secret' | 'ConfigMap', name: string, decode: (object: T) => Record<string, string>) {
    const key = `${kind}/${name}`;
    let entry = this.cache.get(key);
    if (!entry) {
      entry = kubeRequest<T>(this.kc, { method: 'GET', path: objectPath(RESOURCES[kind], this.namespace, name) }).then(
        decode,
        (error: unknown) => {
          if (isStatus(error, 404)) return undefined;
          throw error;
        },
      );
      this.cache.set(key, entry);
    }
    return entry;
  }
}

/** `values` decoded from `encoding` into "binary" strings (one char per byte). */
function binaryValues(values: Record<string, string> | undefined, encoding: 'base64' | 'utf8'): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values ?? {}).map(([key, value]) => [key, Buffer.from(value, encoding).toString('binary')]),
  );
}

/** Values data is kept in as "binary" strings (one char per byte); env wants UTF-8 text. */
const text = (binary: string) => Buffer.from(binary, 'binary').toString('utf8');

/** Facts about the running pod that fieldRef and defaults can name. */
export interface PodFacts {
  podIP: string;
  nodeName: string;
  hostIP: string;
}

/** The value of a downward-API field path, or undefined when it is not supported. */
export function fieldValue(pod: V1Pod, fieldPath: string, facts: PodFacts): string | undefined {
  const meta = pod.metadata ?? {};
  const subscript = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (subscript) return (subscript[1] === 'labels' ? meta.labels : meta.annotations)?.[subscript[2] ?? ''] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.annotations':
      return formatMap(meta.annotations);
    case 'spec.nodeName':
      return facts.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP':
      return facts.podIP;
    case 'status.podIPs':
      return facts.podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return facts.hostIP;
    default:
      return undefined;
  }
}

function formatMap(map: Record<string, string> | undefined): string {
  return Object.entries(map ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join('\n');
}

/** Expands $(NAME) from `vars`; $$ escapes; unknown references stay as written (kubelet rules). */
export function expandReferences(input: string, vars: Record<string, string>): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && name in vars ? (vars[name] as string) : match;
  });
}

/** A Service's variable-name prefix (envvars.go makeEnvVariableName). */
const envName = (name: string) => name.replace(/-/g, '_').toUpperCase();

/**
 * The Service variables of one Service (the kubelet's envvars.FromServices): NAME_SERVICE_HOST,
 * NAME_SERVICE_PORT (first port) and NAME_SERVICE_PORT_<PORTNAME> for named ports, and the
 * Docker link variables NAME_PORT, NAME_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}.
 */
export function serviceVariables(service: V1Service): Record<string, string> {
  const ip = service.spec?.clusterIP;
  const ports = service.spec?.ports ?? [];
  if (!ip || ip === 'None' || !ports.length) return {};
  const prefix = envName(service.metadata?.name ?? '');
  const env: Record<string, string> = {
    [`${prefix}_SERVICE_HOST`]: ip,
    [`${prefix}_SERVICE_PORT`]: String(ports[0]?.port),
  };
  for (const port of ports) if (port.name) env[`${prefix}_SERVICE_PORT_${envName(port.name)}`] = String(port.port);
  const host = ip.includes(':') ? `[${ip}]` : ip;
  ports.forEach((port, index) => {
    const protocol = (port.protocol ?? 'TCP').toLowerCase();
    const url = `${protocol}://${host}:${port.port}`;
    if (index === 0) env[`${prefix}_PORT`] = url;
    const portPrefix = `${prefix}_PORT_${port.port}_${protocol.toUpperCase()}`;
    env[portPrefix] = url;
    env[`${portPrefix}_PROTO`] = protocol;
    env[`${portPrefix}_PORT`] = String(port.port);
    env[`${portPrefix}_ADDR`] = ip;
  });
  return env;
}

/**
 * The Service variables of a pod in `namespace` (the kubelet's getServiceEnvVarMap): the
 * `kubernetes` Service of the default namespace always, and with enableServiceLinks (the
 * default) every Service of the pod's own namespace, which wins over the former on a name clash.
 */
export function serviceEnvironment(
  services: V1Service[],
  namespace: string,
  enableServiceLinks = true,
): Record<string, string> {
  const chosen = new Map<string, V1Service>();
  for (const service of services) {
    const ip = service.spec?.clusterIP;
    if (!ip || ip === 'None') continue;
    const name = service.metadata?.name ?? '';
    if (service.metadata?.namespace === 'default' && name === 'kubernetes') {
      if (!chosen.has(name)) chosen.set(name, service);
    } else if (service.metadata?.namespace === namespace && enableServiceLinks) {
      chosen.set(name, service);
    }
  }
  return Object.assign({}, ...[...chosen.values()].map(serviceVariables)) as Record<string, string>;
}

/**
 * The full environment of `container`; `serviceEnv` is serviceEnvironment()'s for the pod. The
 * container's own variables win over Service variables, and $(VAR) can name either.
 */
export async function containerEnv(
  pod: V1Pod,
  container: V1Container,
  source: ConfigSource,
  facts: PodFacts,
  serviceEnv: Record<string, string> = {},
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  const referenced = (kind: 'Secret' | 'ConfigMap', ref: { name?: string; optional?: boolean }) =>
    source.referenced(kind, ref.name ?? '', ref.optional);
  /** The value of one key of a Secret or ConfigMap, undefined when an optional reference misses. */
  const keyValue = async (kind: 'Secret' | 'ConfigMap', ref: { name?: string; key: string; optional?: boolean }) => {
    const data = await referenced(kind, ref);
    if (data && !(ref.key in data) && !ref.optional) {
      throw new ConfigError(`couldn't find key ${ref.key} in ${kind} ${pod.metadata?.namespace}/${ref.name}`);
    }
    return data?.[ref.key] === undefined ? undefined : text(data[ref.key] as string);
  };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    const refs = [
      ['Secret', from.secretRef],
      ['ConfigMap', from.configMapRef],
    ] as const;
    for (const [kind, ref] of refs) {
      if (!ref) continue;
      for (const [key, value] of Object.entries((await referenced(kind, ref)) ?? {})) env[prefix + key] = text(value);
    }
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    const keyRef = from?.secretKeyRef
      ? (['Secret', from.secretKeyRef] as const)
      : from?.configMapKeyRef
        ? (['ConfigMap', from.configMapKeyRef] as const)
        : undefined;
    if (!from) {
      env[variable.name] = expandReferences(variable.value ?? '', { ...serviceEnv, ...env });
    } else if (keyRef) {
      const value = await keyValue(keyRef[0], keyRef[1]);
      if (value !== undefined) env[variable.name] = value;
    } else if (from.fieldRef) {
      const value = fieldValue(pod, from.fieldRef.fieldPath, facts);
      if (value === undefined) throw new ConfigError(`unsupported fieldRef ${from.fieldRef.fieldPath}`);
      env[variable.name] = value;
    } else {
      // resourceFieldRef: no resource limits are applied here, so there is nothing true to report.
      env[variable.name] = '';
    }
  }
  // containerd sets HOSTNAME; PATH comes from the image and HOME from runc (the user's entry).
  return {
    HOSTNAME: podHostname(pod),
    POD_IP: facts.podIP,
    ...serviceEnv,
    ...env,
  };
}

/** The hostname a container sees (spec.hostname, else the pod name, at most 63 characters). */
export function podHostname(pod: V1Pod): string {
  return (pod.spec?.hostname ?? pod.metadata?.name ?? 'pod').slice(0, 63);
}
