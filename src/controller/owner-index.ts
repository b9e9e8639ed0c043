/**
 * An index from an owner's uid to the objects whose controller ownerReference names it, kept
 * up to date from informer events, so one reconcile looks at its own objects only (not every
 * object of the namespace: that would cost O(CRs) per reconcile at scale).
 */
import type { KubernetesObject } from '@kubernetes/client-node';

/** Owner uid → kind → name → object. */
export class OwnerIndex {
  private readonly byOwner = new Map<string, Map<string, Map<string, KubernetesObject>>>();
  /** Where each object (by uid) is filed, so removing it is one lookup, not a scan of all owners. */
  private readonly filedUnder = new Map<string, string>();

  /** Records the current version of an object (added or updated). */
  upsert(object: KubernetesObject): void {
    this.remove(object);
    const owner = controllerUid(object);
    const uid = object.metadata?.uid;
    if (!owner || !object.kind || !uid) return;
    let kinds = this.byOwner.get(owner);
    if (!kinds) this.byOwner.set(owner, (kinds = new Map()));
    let objects = kinds.get(object.kind);
    if (!objects) kinds.set(object.kind, (objects = new Map()));
    objects.set(object.metadata?.name ?? '', object);
    this.filedUnder.set(uid, owner);
  }

  /** Forgets an object (deleted). */
  remove(object: KubernetesObject): void {
    const uid = object.metadata?.uid ?? '';
    const owner = this.filedUnder.get(uid);
    if (owner === undefined) return;
    this.filedUnder.delete(uid);
    const kinds = this.byOwner.get(owner);
    const objects = kinds?.get(object.kind ?? '');
    const name = object.metadata?.name ?? '';
    if (objects?.get(name)?.metadata?.uid === uid) objects.delete(name);
    if (objects && objects.size === 0) kinds?.delete(object.kind ?? '');
    if (kinds && kinds.size === 0) this.byOwner.delete(owner);
  }

  /** The objects of one kind owned by `uid`. */
  owned(uid: string, kind: string): KubernetesObject[] {
    return [...(this.byOwner.get(uid)?.get(kind)?.values() ?? [])];
  }
}

/**
 * The uid an object is filed under: its controller owner's; for an Event, which has no owner,
 * the object it is about (a mover Job's FailedCreate Event is filed under the Job).
 */
export function controllerUid(object: KubernetesObject): string | undefined {
  if (object.kind === 'Event') return (object as { involvedObject?: { uid?: string } }).involvedObject?.uid;
  return object.metadata?.ownerReferences?.find((ref) => ref.controller)?.uid;
}
