/**
 * Decision 12: the pods that mount each PVC, by namespace and claim name, kept up to date from a
 * Pod informer's events, so placing a mover Job is one lookup, not a scan of every pod of the
 * namespace on every reconcile.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { InformerEvent } from '../kube/informer.js';
import { podClaims } from './observe.js';

/** "namespace/claim" → pod uid → pod. */
export class VolumeUsersIndex {
  private readonly byClaim = new Map<string, Map<string, KubernetesObject>>();
  /** The keys each pod (by uid) is filed under, so removing it touches only those. */
  private readonly filedUnder = new Map<string, string[]>();

  /** Applies one informer event. */
  apply(event: InformerEvent<KubernetesObject>): void {
    if (!('object' in event)) return;
    if (event.type === 'deleted') this.remove(event.object);
    else this.upsert(event.object);
  }

  /** Records the current version of a pod (added or updated). */
  upsert(pod: KubernetesObject): void {
    this.remove(pod);
    const uid = pod.metadata?.uid;
    if (!uid) return;
    const keys = [...new Set(podClaims(pod))].map((claim) => `${pod.metadata?.namespace}/${claim}`);
    if (keys.length === 0) return;
    for (const key of keys) {
      let pods = this.byClaim.get(key);
      if (!pods) this.byClaim.set(key, (pods = new Map()));
      pods.set(uid, pod);
    }
    this.filedUnder.set(uid, keys);
  }

  /** Forgets a pod (deleted, or finished and so out of the informer's field selector). */
  remove(pod: KubernetesObject): void {
    const uid = pod.metadata?.uid ?? '';
    for (const key of this.filedUnder.get(uid) ?? []) {
      const pods = this.byClaim.get(key);
      pods?.delete(uid);
      if (pods?.size === 0) this.byClaim.delete(key);
    }
    this.filedUnder.delete(uid);
  }

  /** The pods of `namespace` that mount the PVC `claim`, in name order. */
  users(namespace: string, claim: string): KubernetesObject[] {
    const pods = [...(this.byClaim.get(`${namespace}/${claim}`)?.values() ?? [])];
    return pods.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  }
}
