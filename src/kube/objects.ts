/**
 * The one way Scribe reads, creates and deletes objects when their presence is not an error:
 * read-or-undefined (404), create-if-absent (409 means an object of that name exists), delete-if-
 * present (404 means it is gone). The operator's effects, the plugin, the local runtime and the
 * tests all go through here, so each answer of the API server is read one way everywhere.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { ApiError, isStatus, kubeRequest } from './rest.js';
import { collectionPath, objectPath, RESOURCES, type KindName } from './resources.js';

/** Reads one object, or undefined when it does not exist. */
export async function readObject<T extends KubernetesObject>(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  name: string,
): Promise<T | undefined> {
  try {
    return await kubeRequest<T>(kc, { method: 'GET', path: objectPath(RESOURCES[kind], namespace, name) });
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/** Creates `object` unless an object of its name exists; returns what was created, or undefined (409). */
export async function createIfAbsent<T extends object>(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  object: T,
): Promise<T | undefined> {
  try {
    return await kubeRequest<T>(kc, { method: 'POST', path: collectionPath(RESOURCES[kind], namespace), body: object });
  } catch (error) {
    if (isStatus(error, 409)) return undefined;
    throw error;
  }
}

/**
 * Creates `object`, or reads the one of its name that exists; `created` says which. An object
 * deleted between the create and the read is a 409 again, for the caller to try later.
 */
export async function createOrRead<T extends KubernetesObject>(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  object: T,
): Promise<{ object: T; created: boolean }> {
  const created = await createIfAbsent(kc, kind, namespace, object);
  if (created) return { object: created, created: true };
  const name = object.metadata?.name ?? '';
  const existing = await readObject<T>(kc, kind, namespace, name);
  if (!existing) {
    throw new ApiError(409, 'Conflict', `${kind} ${namespace ? `${namespace}/` : ''}${name} existed and is gone`);
  }
  return { object: existing, created: false };
}

/** How a delete is made. */
export interface DeleteOptions {
  /** What becomes of the object's dependents (the API's default for the kind when absent). */
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  /** Deletes only this very object: a same-named successor or a changed object is left ('changed'). */
  preconditions?: { uid?: string | undefined; resourceVersion?: string | undefined };
  gracePeriodSeconds?: number;
}

/** What a delete came to: sent, already gone, or refused by its preconditions. */
export type DeleteOutcome = 'deleted' | 'gone' | 'changed';

/** Deletes an object if it exists. A 409 is 'changed' only for a delete with preconditions. */
export async function deleteIfPresent(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  name: string,
  options: DeleteOptions = {},
): Promise<DeleteOutcome> {
  const { propagationPolicy, preconditions, gracePeriodSeconds } = options;
  const guarded = preconditions !== undefined && Object.values(preconditions).some((value) => value !== undefined);
  const body =
    propagationPolicy || guarded || gracePeriodSeconds !== undefined
      ? {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          ...(propagationPolicy ? { propagationPolicy } : {}),
          ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
          ...(guarded ? { preconditions } : {}),
        }
      : undefined;
  try {
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES[kind], namespace, name), body });
    return 'deleted';
  } catch (error) {
    if (isStatus(error, 404)) return 'gone';
    if (guarded && isStatus(error, 409)) return 'changed';
    throw error;
  }
}
