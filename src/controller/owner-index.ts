/**
 * An index from an owner's uid to the objects whose controller ownerReference names it, kept
 * up to date from informer events, so one reconcile looks at its own objects only (not every
 * object of the namespace: that would cost O(CRs) per reconcile at scale).
 */
import type { KubernetesObject } from '@kubernetes/client-node';

/** Owner uid → kind → name → object. */
export class OwnerIndex {
  private readonly byOwner = new Map<string, Map<string, Map<string, KubernetesObject>>>();

  /** Records the current version of an object (added or updated). */
  upsert(object: KubernetesObject): void {
    this.remove(object);
    const owner = controllerUid(object);
    if (!owner || !object.kind) return;
    let kinds = this.byOwner.get(owner);
    if (!kinds) this.byOwner.set(owner, (kinds = new Map()));
    let objects = kinds.get(object.kind);
    if (!objects) kinds.set(object.kind, (objects = new Map()));
    objects.set(object.metadata?.name ?? '', object);
  }

  /** Forgets an object (deleted). */
  remove(object: KubernetesObject): void {
    const name = object.metadata?.name ?? '';
    const kind = object.kind ?? '';
    // The owner may have changed between versions, so look it up under every owner that has it.
    for (const [owner, kinds] of this.byOwner) {
      const objects = kinds.get(kind);
      if (objects?.get(name)?.metadata?.uid === object.metadata?.uid && objects?.delete(name)) {
        if (objects.size === 0) kinds.delete(kind);
        if (kinds.size === 0) this.byOwner.delete(owner);
        return;
      }
    }
  }

  /** The objects of one kind owned by `uid`. */
  owned(uid: string, kind: string): KubernetesObject[] {
    return [...(this.byOwner.get(uid)?.get(kind)?.values() ?? [])];
  }
}

/** The uid of an object's controller owner, if it has one. */
export function controllerUid(object: KubernetesObject): string | undefined {
  return object.metadata?.ownerReferences?.find((ref) => ref.controller)?.uid;
}
