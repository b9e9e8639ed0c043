/** Reading and writing the coordination.k8s.io/v1 Lease that leader election is decided on. */
import type { KubeConfig } from '@kubernetes/client-node';
import { isStatus, kubeRequest } from '../kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../kube/resources.js';

/** The Lease's spec: who holds it, since when, and for how long a renewal counts. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** A Lease as the API returns it. */
export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** Where the Lease lives. */
export interface LeaseRef {
  namespace: string;
  name: string;
}

/** The Lease, or undefined when it does not exist. */
export async function readLease(kc: KubeConfig, ref: LeaseRef, timeoutMs: number): Promise<Lease | undefined> {
  try {
    return await kubeRequest<Lease>(kc, {
      method: 'GET',
      path: objectPath(RESOURCES.Lease, ref.namespace, ref.name),
      timeoutMs,
    });
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/**
 * Creates the Lease (when `resourceVersion` is undefined) or replaces its spec, guarded by
 * `resourceVersion` so that of two candidates writing at once exactly one wins. Resolves with
 * the written Lease, or undefined when another writer got there first.
 */
export async function writeLease(
  kc: KubeConfig,
  ref: LeaseRef,
  resourceVersion: string | undefined,
  spec: LeaseSpec,
  timeoutMs: number,
): Promise<Lease | undefined> {
  const body: Lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: ref.name, namespace: ref.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec,
  };
  try {
    return await kubeRequest<Lease>(kc, {
      method: resourceVersion ? 'PUT' : 'POST',
      path: resourceVersion
        ? objectPath(RESOURCES.Lease, ref.namespace, ref.name)
        : collectionPath(RESOURCES.Lease, ref.namespace),
      body,
      timeoutMs,
    });
  } catch (error) {
    if (isStatus(error, 409)) return undefined; // conflict, or created meanwhile by another candidate
    throw error;
  }
}

/** A time in the Lease's MicroTime format (RFC 3339 with exactly six fractional digits). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
