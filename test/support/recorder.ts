/** Records every object Scribe creates in some namespaces while a test runs (via real watches). */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { ResourceInformer } from '../../src/kube/informer.js';
import { RESOURCES, type KindName } from '../../src/kube/resources.js';

const KINDS: KindName[] = ['Job', 'PersistentVolumeClaim', 'VolumeSnapshot', 'Service', 'Secret'];

/** What a recorder saw: the first version of every object, by kind/namespace/name/uid. */
export class CreatedObjects {
  readonly seen = new Map<string, KubernetesObject>();
  private readonly informers: ResourceInformer<KubernetesObject>[] = [];

  constructor(kc: KubeConfig, namespaces: string[]) {
    for (const namespace of namespaces) {
      for (const kind of KINDS) {
        const informer = new ResourceInformer<KubernetesObject>(kc, RESOURCES[kind], {
          namespace,
          labelSelector: 'app.kubernetes.io/created-by=scribe',
        });
        informer.events$.subscribe((event) => {
          if (event.type !== 'added' && event.type !== 'updated') return;
          const o = event.object;
          const key = `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}/${o.metadata?.uid}`;
          if (!this.seen.has(key)) this.seen.set(key, o);
        });
        this.informers.push(informer);
      }
    }
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** Every recorded object of a kind. */
  ofKind(kind: string): KubernetesObject[] {
    return [...this.seen.values()].filter((o) => o.kind === kind);
  }

  /** Whether an object of that kind and name is currently in a namespace (per the watch). */
  exists(kind: KindName, namespace: string, name: string): boolean {
    const informer = this.informers.find(
      (i) => i.resource.kind === kind && i.list(namespace).some((o) => o.metadata?.name === name),
    );
    return Boolean(informer);
  }
}
