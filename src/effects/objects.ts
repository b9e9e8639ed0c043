/**
 * Idempotent object operations of the effects adapter: create-if-absent, delete-if-present,
 * read-or-undefined. Every object Scribe creates carries a controller ownerReference to its CR
 * and `app.kubernetes.io/created-by: scribe`; temporary ones also `scribe.backube/cleanup`.
 */
import type { KubeConfig, KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import { isStatus, kubeRequest } from '../kube/rest.js';
import { collectionPath, objectPath, RESOURCES, type KindName } from '../kube/resources.js';
import { CLEANUP_LABEL, CREATED_BY_LABEL, CREATED_BY_VALUE } from '../../machines/naming.js';

/** The CR an object belongs to. */
export interface Owner {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string };
}

/** Adds the controller ownerReference and Scribe's labels to `object` (a copy is returned). */
export function ownedBy<T extends KubernetesObject>(owner: Owner, object: T, options: { temporary?: boolean } = {}): T {
  const reference: V1OwnerReference = {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  const labels: Record<string, string> = { ...object.metadata?.labels, [CREATED_BY_LABEL]: CREATED_BY_VALUE };
  if (options.temporary) labels[CLEANUP_LABEL] = owner.metadata.uid;
  return {
    ...object,
    metadata: {
      ...object.metadata,
      namespace: owner.metadata.namespace,
      labels,
      ownerReferences: [reference],
    },
  };
}

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

/** Creates `object` unless an object of that name exists; returns the object that exists afterwards. */
export async function ensureObject<T extends KubernetesObject>(
  kc: KubeConfig,
  kind: KindName,
  object: T,
): Promise<{ object: T; created: boolean }> {
  const namespace = object.metadata?.namespace;
  const name = object.metadata?.name ?? '';
  try {
    const created = await kubeRequest<T>(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES[kind], namespace),
      body: object,
    });
    return { object: created, created: true };
  } catch (error) {
    if (!isStatus(error, 409)) throw error;
    const existing = await readObject<T>(kc, kind, namespace, name);
    if (!existing) throw error; // deleted in between: the next reconcile creates it
    return { object: existing, created: false };
  }
}

/** What became of a delete that an object's labels may veto. */
export type GuardedDelete = 'deleted' | 'gone' | 'kept' | 'changed';

/**
 * Deletes an object unless `keep` says it must stay, judging the object as the API server holds
 * it now rather than as a cache held it: the delete carries the resourceVersion that was judged,
 * so a label added in between makes it fail ('changed') instead of deleting what must stay.
 */
export async function deleteUnless(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  name: string,
  keep: (object: KubernetesObject) => boolean,
): Promise<GuardedDelete> {
  const object = await readObject<KubernetesObject>(kc, kind, namespace, name);
  if (!object) return 'gone';
  if (keep(object)) return 'kept';
  try {
    await kubeRequest(kc, {
      method: 'DELETE',
      path: objectPath(RESOURCES[kind], namespace, name),
      body: {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        propagationPolicy: 'Background',
        preconditions: { uid: object.metadata?.uid, resourceVersion: object.metadata?.resourceVersion },
      },
    });
    return 'deleted';
  } catch (error) {
    if (isStatus(error, 404)) return 'gone';
    if (isStatus(error, 409)) return 'changed';
    throw error;
  }
}

/**
 * Removes the ownerReference to `ownerUid` (and the owner's cleanup label) from an object, if it
 * has one, with a JSON patch that first tests the reference is still where it was read, so a
 * concurrent change of the list is never clobbered. True when a reference was removed.
 */
export async function releaseObject(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  name: string,
  ownerUid: string,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const object = await readObject<KubernetesObject>(kc, kind, namespace, name);
    const index = (object?.metadata?.ownerReferences ?? []).findIndex((ref) => ref.uid === ownerUid);
    if (!object || index < 0) return false;
    const path = `/metadata/ownerReferences/${index}`;
    const patch: object[] = [
      { op: 'test', path: `${path}/uid`, value: ownerUid },
      { op: 'remove', path },
    ];
    if (object.metadata?.labels?.[CLEANUP_LABEL] === ownerUid) {
      // JSON pointer: "/" in the label key is written "~1".
      patch.push({ op: 'remove', path: `/metadata/labels/${CLEANUP_LABEL.replace(/~/g, '~0').replace(/\//g, '~1')}` });
    }
    try {
      await kubeRequest(kc, {
        method: 'PATCH',
        path: objectPath(RESOURCES[kind], namespace, name),
        patchType: 'json',
        body: patch,
      });
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      // The test failed (422) or the object changed under the patch (409): read it again.
      if (attempt < 2 && (isStatus(error, 422) || isStatus(error, 409))) continue;
      throw error;
    }
  }
}

/** Deletes an object if it exists (background propagation); true when a delete was sent. */
export async function deleteObject(
  kc: KubeConfig,
  kind: KindName,
  namespace: string | undefined,
  name: string,
  options: { uid?: string } = {},
): Promise<boolean> {
  try {
    await kubeRequest(kc, {
      method: 'DELETE',
      path: objectPath(RESOURCES[kind], namespace, name),
      // A precondition on uid makes sure a same-named successor object is never deleted by mistake.
      body: {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        propagationPolicy: 'Background',
        ...(options.uid ? { preconditions: { uid: options.uid } } : {}),
      },
    });
    return true;
  } catch (error) {
    if (isStatus(error, 404) || (options.uid && isStatus(error, 409))) return false;
    throw error;
  }
}
