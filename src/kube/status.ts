/**
 * Writes a CR's status with a merge patch on the status subresource. The patch carries the
 * resourceVersion the caller read, so a concurrent writer makes it fail with 409 Conflict;
 * on conflict the object is re-read and the caller's function applied again.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { isStatus, kubeRequest } from './rest.js';
import { objectPath, type ResourceKind } from './resources.js';

/** Computes the status patch from the object as it is now; null means "nothing to write". */
export type StatusPatchFn<T> = (current: T) => Record<string, unknown> | null | Promise<Record<string, unknown> | null>;

/** Applies `patchFor` to the object's status, retrying on conflict up to `attempts` times. */
export async function patchStatus<T extends KubernetesObject>(
  kc: KubeConfig,
  resource: ResourceKind,
  namespace: string,
  name: string,
  patchFor: StatusPatchFn<T>,
  attempts = 5,
): Promise<T | null> {
  const path = objectPath(resource, namespace, name);
  for (let attempt = 1; ; attempt++) {
    const current = await kubeRequest<T>(kc, { method: 'GET', path });
    const patch = await patchFor(current);
    if (!patch) return current;
    try {
      return await kubeRequest<T>(kc, {
        method: 'PATCH',
        path: `${path}/status`,
        patchType: 'merge',
        body: { metadata: { resourceVersion: current.metadata?.resourceVersion }, status: patch },
      });
    } catch (error) {
      if (!isStatus(error, 409) || attempt >= attempts) throw error;
    }
  }
}
