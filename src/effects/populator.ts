/**
 * The volume populator's Kubernetes calls: it executes machines/populator.ts's actions (create
 * the prime PVC, hand its PV to the user's PVC, delete the prime, Events on the user's PVC) and
 * reads the one PV a decision needs. Every call is idempotent: executing the same actions twice
 * (a stale cache) does no harm.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import {
  POPULATED_FROM_ANNOTATION,
  PopulatorReasons,
  type ClaimData,
  type PopulatorAction,
  type VolumeData,
} from '../../machines/populator.js';
import type { EventRecorder } from '../kube/events.js';
import { createIfAbsent, deleteIfPresent, readObject } from '../kube/objects.js';
import { kubeRequest } from '../kube/rest.js';
import { objectPath, RESOURCES } from '../kube/resources.js';
import type { Logger } from '../log.js';

/** A PV as read here: what the decision needs, and whether it has annotations to add to. */
type Volume = VolumeData & { metadata?: { annotations?: Record<string, string> } };

/** Collaborators of the populator's effects. */
export interface PopulatorEffectsDeps {
  kc: KubeConfig;
  events: EventRecorder;
  log: Logger;
}

/** Executes the populator's actions for one user PVC. */
export class PopulatorEffects {
  /** The last Event said per PVC uid: the same words again (every destination update) are not repeated. */
  private readonly said = new Map<string, string>();

  constructor(private readonly deps: PopulatorEffectsDeps) {}

  /** The PV named `name`, or undefined when it does not exist. */
  async readVolume(name: string): Promise<Volume | undefined> {
    return readObject<Volume>(this.deps.kc, 'PersistentVolume', undefined, name);
  }

  /** Executes `actions` in order for `pvc`; a failure is said as a Warning on the PVC and thrown (to retry). */
  async execute(pvc: ClaimData, actions: PopulatorAction[], volume: Volume | undefined): Promise<void> {
    for (const action of actions) {
      try {
        await this.one(pvc, action, volume);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.say(pvc, 'Warning', PopulatorReasons.Failed, `${action.type}: ${message}`);
        throw error;
      }
    }
  }

  /** Forgets what was said about a PVC that is gone. */
  forget(uid: string): void {
    this.said.delete(uid);
  }

  private async one(pvc: ClaimData, action: PopulatorAction, volume: Volume | undefined): Promise<void> {
    const { kc, log } = this.deps;
    switch (action.type) {
      case 'event':
        this.say(pvc, action.eventType, action.reason, action.message);
        return;
      case 'createPrime': {
        const namespace = action.prime.metadata?.namespace ?? '';
        // Present when made by an earlier pass whose result the cache did not show yet (its name holds the PVC's uid).
        await createIfAbsent(kc, 'PersistentVolumeClaim', namespace, {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          ...action.prime,
        });
        log.info(
          { pvc: `${namespace}/${pvc.metadata?.name}`, prime: action.prime.metadata?.name },
          'prime PVC created',
        );
        return;
      }
      case 'rebindVolume': {
        // A JSON patch that first tests the claimRef still names the prime: a PV that changed
        // hands meanwhile is left alone (the API server answers 422 and the next pass sees why).
        const annotation = `/metadata/annotations/${POPULATED_FROM_ANNOTATION.replace('/', '~1')}`;
        await kubeRequest(kc, {
          method: 'PATCH',
          path: objectPath(RESOURCES.PersistentVolume, undefined, action.volume),
          patchType: 'json',
          body: [
            { op: 'test', path: '/spec/claimRef/uid', value: action.fromUid },
            {
              op: 'replace',
              path: '/spec/claimRef',
              value: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', ...action.claimRef },
            },
            volume?.metadata?.annotations
              ? { op: 'add', path: annotation, value: action.populatedFrom }
              : {
                  op: 'add',
                  path: '/metadata/annotations',
                  value: { [POPULATED_FROM_ANNOTATION]: action.populatedFrom },
                },
          ],
        });
        log.info(
          { pvc: `${action.claimRef.namespace}/${action.claimRef.name}`, volume: action.volume },
          'PV handed over',
        );
        return;
      }
      case 'deletePrime':
        await deleteIfPresent(kc, 'PersistentVolumeClaim', action.namespace, action.name);
        log.info({ prime: `${action.namespace}/${action.name}` }, 'prime PVC deleted');
        return;
    }
  }

  private say(pvc: ClaimData, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const uid = pvc.metadata?.uid ?? '';
    const words = `${type}/${reason}/${message}`;
    if (this.said.get(uid) === words) return;
    this.said.set(uid, words);
    const regarding = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: pvc.metadata } as KubernetesObject;
    this.deps.events.post(regarding, { type, reason, message, action: 'Populate' }, (error) =>
      this.deps.log.warn({ err: error.message, reason }, 'populator Event not recorded'),
    );
  }
}
