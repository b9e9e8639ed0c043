/**
 * Idempotent object operations of the effects adapter, on src/kube/objects.ts: ensure (create or
 * adopt), guarded deletes and releases. Every object Scribe creates carries a controller ownerReference to its CR
 * and `app.kubernetes.io/created-by: scribe`.
 */
import type { KubeConfig, KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import { createOrRead, deleteIfPresent, readObject, type DeleteOutcome } from '../kube/objects.js';
import { isStatus, kubeRequest } from '../kube/rest.js';
import { objectPath, RESOURCES, type KindName } from '../kube/resources.js';
import { CREATED_BY_LABEL, CREATED_BY_VALUE } from '../../machines/naming.js';

/** The CR an object belongs to. */
export interface Owner {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string };
}

/** Adds the controller ownerReference and Scribe's labels to `object` (a copy is returned). */
export function ownedBy<T extends KubernetesObject>(owner: Owner, object: T): T {
  const reference: V1OwnerReference = {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  return {
    ...object,
    metadata: {
      ...object.metadata,
      namespace: owner.metadata.namespace,
      labels: { ...object.metadata?.labels, [CREATED_BY_LABEL]: CREATED_BY_VALUE },
      ownerReferences: [reference],
    },
  };
}

/** What an ensure came to: made now, found already made for the same owner, or found and not ours. */
export type EnsureOutcome<T> =
  | { object: T; created: boolean; foreign?: undefined }
  | { foreign: ForeignObject; object?: undefined; created?: undefined };

/** An object that holds the name Scribe wants but is not Scribe's for this owner (issue 21). */
export interface ForeignObject {
  kind: string;
  name: string;
  /** Why it is not adopted: what it lacks, in words for a condition. */
  why: string;
}

/**
 * Whether `existing` is `owner`'s as Scribe makes its objects: labelled created-by=scribe and with
 * an ownerReference to that very CR (its uid). Returns what is missing, or undefined when it is.
 */
export function notOwnedBecause(existing: KubernetesObject, ownerUid: string): string | undefined {
  const labelled = existing.metadata?.labels?.[CREATED_BY_LABEL] === CREATED_BY_VALUE;
  const references = existing.metadata?.ownerReferences ?? [];
  const owned = references.some((ref) => ref.uid === ownerUid);
  if (labelled && owned) return undefined;
  const missing: string[] = [];
  if (!labelled) missing.push(`the label ${CREATED_BY_LABEL}=${CREATED_BY_VALUE}`);
  if (!owned)
    missing.push(
      references.length
        ? `an ownerReference to this CR (it is owned by ${references.map((ref) => `${ref.kind} ${ref.name}`).join(', ')})`
        : 'an ownerReference to this CR',
    );
  return `it has not ${missing.join(' nor ')}`;
}

/**
 * Creates `object` unless an object of that name exists. A 409 is answered by reading that one
 * object: it is adopted only when it carries Scribe's label and an ownerReference to the same
 * owner (uid), as a create of an earlier attempt left it; anything else is reported as foreign and
 * neither changed nor deleted (issue 21).
 */
export async function ensureObject<T extends KubernetesObject>(
  kc: KubeConfig,
  kind: KindName,
  object: T,
): Promise<EnsureOutcome<T>> {
  const ownerUid = object.metadata?.ownerReferences?.find((ref) => ref.controller)?.uid;
  // An object deleted between the create and the read throws: the next reconcile creates it.
  const outcome = await createOrRead(kc, kind, object.metadata?.namespace, object);
  if (outcome.created) return outcome;
  const why = ownerUid === undefined ? undefined : notOwnedBecause(outcome.object, ownerUid);
  if (why !== undefined) return { foreign: { kind, name: object.metadata?.name ?? '', why } };
  return outcome;
}

/** What became of a delete that an object's labels may veto. */
export type GuardedDelete = DeleteOutcome | 'kept';

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
  return deleteIfPresent(kc, kind, namespace, name, {
    propagationPolicy: 'Background',
    preconditions: { uid: object.metadata?.uid, resourceVersion: object.metadata?.resourceVersion },
  });
}

/**
 * Removes the ownerReference to `ownerUid` from an object, if it has one, with a JSON patch that
 * first tests the reference is still where it was read, so a concurrent change of the list is
 * never clobbered. True when a reference was removed.
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
    const patch = [
      { op: 'test', path: `${path}/uid`, value: ownerUid },
      { op: 'remove', path },
    ];
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
  // A precondition on uid makes sure a same-named successor object is never deleted by mistake.
  const preconditions = options.uid ? { uid: options.uid } : undefined;
  return (
    (await deleteIfPresent(kc, kind, namespace, name, { propagationPolicy: 'Background', preconditions })) === 'deleted'
  );
}
