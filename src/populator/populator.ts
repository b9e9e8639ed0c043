/**
 * The volume populator, started by the operator next to the controller (docs/populator.md): it
 * follows the controller's PVC and ReplicationDestination caches (no watches of its own), and
 * for each PVC whose dataSourceRef names a ReplicationDestination asks machines/populator.ts what
 * to do and has src/effects/populator.ts do it. One PVC is worked on by one pass at a time.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Subscription } from 'rxjs';
import {
  decidePopulation,
  namesDestination,
  POPULATOR_KIND,
  primeName,
  primeOwner,
  type ClaimData,
  type DestinationData,
} from '../../machines/populator.js';
import { PopulatorEffects } from '../effects/populator.js';
import { EventRecorder } from '../kube/events.js';
import type { InformerEvent, ResourceInformer } from '../kube/informer.js';
import type { Logger } from '../log.js';
import { KeyedWorkQueue } from '../streams/work-queue.js';

/** Collaborators of the populator. */
export interface VolumePopulatorOptions {
  kc: KubeConfig;
  /** Every PVC of the watched namespaces (the controller's cache). */
  claims: ResourceInformer<KubernetesObject>;
  /** The ReplicationDestinations (the controller's cache). */
  destinations: ResourceInformer<KubernetesObject>;
  log: Logger;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

/** Fills PVCs from ReplicationDestinations' images. */
export class VolumePopulator {
  /** A pass that throws (an API call refused, the API server away) is retried with the queue's back-off. */
  private readonly queue = new KeyedWorkQueue<string>((key) => this.pass(key), { concurrency: 4 });
  private readonly effects: PopulatorEffects;
  private subscription: Subscription | undefined;

  constructor(private readonly options: VolumePopulatorOptions) {
    this.effects = new PopulatorEffects({ kc: options.kc, events: new EventRecorder(options.kc), log: options.log });
  }

  /** Follows the caches (already synced by the controller) and looks at every PVC once. */
  start(): void {
    this.subscription = this.options.claims.events$.subscribe((event) => this.onClaim(event));
    this.subscription.add(this.options.destinations.events$.subscribe((event) => this.onDestination(event)));
    this.subscription.add(
      this.queue.results$.subscribe(({ key, error, retryInMs }) => {
        if (error === undefined) return;
        const err = error instanceof Error ? error.message : String(error);
        this.options.log.warn({ pvc: key, err, delay: retryInMs }, 'populating failed; retrying');
      }),
    );
    for (const claim of this.options.claims.list()) this.onClaim({ type: 'added', object: claim });
  }

  /** Stops following; passes in flight finish. */
  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.queue.stop();
  }

  /** Resolves when no pass runs or waits (for tests). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  private onClaim(event: InformerEvent<KubernetesObject>): void {
    if (!('object' in event)) return;
    const claim = event.object as ClaimData;
    const namespace = claim.metadata?.namespace ?? '';
    if (namesDestination(claim)) {
      if (event.type === 'deleted') this.effects.forget(claim.metadata?.uid ?? '');
      else this.queue.add(keyOf(namespace, claim.metadata?.name ?? ''));
      return;
    }
    // A prime's progress (Bound, then Lost once its PV is handed over) moves its PVC on.
    const owner = primeOwner(claim);
    if (owner) this.queue.add(keyOf(namespace, owner));
  }

  private onDestination(event: InformerEvent<KubernetesObject>): void {
    if (!('object' in event)) return;
    const destination = event.object;
    const namespace = destination.metadata?.namespace ?? '';
    for (const claim of this.options.claims.list(namespace) as ClaimData[]) {
      const ref = claim.spec?.dataSourceRef;
      if (namesDestination(claim) && ref?.name === destination.metadata?.name && !claim.spec?.volumeName)
        this.queue.add(keyOf(namespace, claim.metadata?.name ?? ''));
    }
  }

  private async pass(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const pvc = this.options.claims.get(name, namespace) as ClaimData | undefined;
    if (!pvc || !namesDestination(pvc)) return;
    const ref = pvc.spec?.dataSourceRef as { kind: string; name: string };
    const destination = this.options.destinations.get(ref.name, namespace) as DestinationData | undefined;
    const prime = this.options.claims.get(primeName(pvc.metadata?.uid ?? ''), namespace) as ClaimData | undefined;
    const volume = prime?.spec?.volumeName ? await this.effects.readVolume(prime.spec.volumeName) : undefined;
    const actions = decidePopulation({
      pvc,
      destination: destination && ref.kind === POPULATOR_KIND ? destination : undefined,
      prime,
      primeVolume: volume,
    });
    await this.effects.execute(pvc, actions, volume);
  }
}
