/** Small object helpers for the demo and the end-to-end tests on the local runtime. */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { readObject } from '../kube/objects.js';
import { kubeRequest } from '../kube/rest.js';
import { collectionPath, objectPath, RESOURCES, type KindName } from '../kube/resources.js';
import { waitFor } from './processes.js';

/** Creates an object. */
export function create<T extends KubernetesObject>(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  body: object,
) {
  return kubeRequest<T>(kc, { method: 'POST', path: collectionPath(RESOURCES[kind], namespace), body });
}

/**
 * Reads an object, or undefined when it does not exist or the API server does not answer: the
 * waits below go on through an outage (the fault tests stop and start API servers).
 */
export async function get<T extends KubernetesObject>(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  name: string,
) {
  return readObject<T>(kc, kind, namespace, name).catch(() => undefined);
}

/** Merge-patches an object. */
export function patch(kc: KubeConfig, kind: KindName, namespace: string, name: string, body: object) {
  return kubeRequest(kc, { method: 'PATCH', path: objectPath(RESOURCES[kind], namespace, name), body });
}

/** Waits until `read` returns a value for which `done` is true, and returns it. */
export async function waitForObject<T>(
  what: string,
  read: () => Promise<T | undefined>,
  done: (value: T) => boolean,
  timeoutMs = 180_000,
): Promise<T> {
  let last: T | undefined;
  await waitFor(
    what,
    async () => {
      last = await read();
      return last !== undefined && done(last);
    },
    { timeoutMs, intervalMs: 250 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\nlast seen: ${JSON.stringify(last, null, 1)?.slice(0, 4000)}`);
  });
  return last as T;
}

type Pvc = KubernetesObject & { spec?: { volumeName?: string }; status?: { phase?: string } };
type Pv = KubernetesObject & { spec?: { hostPath?: { path?: string } } };

/** The host directory behind a bound PVC (the local runtime's volumes are directories). */
export async function pvcDirectory(kc: KubeConfig, namespace: string, name: string): Promise<string> {
  const pvc = await waitForObject(
    `PVC ${namespace}/${name} Bound`,
    () => get<Pvc>(kc, 'PersistentVolumeClaim', namespace, name),
    (p) => p.status?.phase === 'Bound',
  );
  const pv = await get<Pv>(kc, 'PersistentVolume', undefined, pvc.spec?.volumeName ?? '');
  const path = pv?.spec?.hostPath?.path;
  if (!path) throw new Error(`PV of ${namespace}/${name} has no hostPath`);
  return path;
}

/** Creates a PVC of the local runtime's default class. */
export function createPvc(kc: KubeConfig, namespace: string, name: string, extra: object = {}) {
  return create(kc, 'PersistentVolumeClaim', namespace, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...extra },
  });
}

type RsyncDestination = KubernetesObject & { status?: { rsync?: { address?: string; sshKeys?: string } } };

/** Waits until an rsync ReplicationDestination publishes its address and key Secret. */
export async function listeningAddress(kc: KubeConfig, namespace: string, name: string, what = 'address') {
  const rd = await waitForObject(
    `${what} of ${namespace}/${name}`,
    () => get<RsyncDestination>(kc, 'ReplicationDestination', namespace, name),
    (d) => Boolean(d.status?.rsync?.address && d.status.rsync.sshKeys),
  );
  return { address: rd.status?.rsync?.address as string, keys: rd.status?.rsync?.sshKeys as string, rd };
}

/** Copies a Secret's data to another namespace under the same name, as the seed's walkthrough does. */
export async function copySecret(kc: KubeConfig, name: string, from: string, to: string) {
  const secret = await get<KubernetesObject & { data?: Record<string, string> }>(kc, 'Secret', from, name);
  await create(kc, 'Secret', to, { apiVersion: 'v1', kind: 'Secret', metadata: { name }, data: secret?.data });
  return secret;
}
