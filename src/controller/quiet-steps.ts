/**
 * The CRs whose last step decided nothing (machines/step.ts, isQuiescent), with what that step saw.
 * Most watch events of a cycle change nothing a step reads: the Job controller's pod, a status
 * condition of the Job, the CR's own status write coming back. A reconcile whose CR and observation
 * are those of a quiescent step, before that step's requeueAt, would decide the same nothing again;
 * the controller skips it and keeps the step's requeueAt. Only plain data is held: the CR as the
 * cache or our last write holds it (compared by identity: a new version is a new object), and the
 * observation, a few hundred bytes per CR.
 */
import type { ScribeCr } from '../../machines/api.js';
import type { OwnedObjects } from '../../machines/observation.js';
import { sameJson } from '../../machines/step.js';

interface QuietStep {
  cr: ScribeCr;
  owned: OwnedObjects;
  requeueAt: number | undefined;
}

/** The last quiescent step of each CR, by CR key. */
export class QuietSteps {
  private readonly steps = new Map<string, QuietStep>();

  /**
   * The requeueAt of the quiescent step this one would repeat (an object, so that "no requeue" is
   * told apart from "not quiet"); undefined when the CR, its observation or the time differ.
   */
  repeated(key: string, cr: ScribeCr, owned: OwnedObjects, now: number): { requeueAt: number | undefined } | undefined {
    const last = this.steps.get(key);
    if (!last || last.cr !== cr) return undefined;
    if (last.requeueAt !== undefined && now >= last.requeueAt) return undefined;
    if (!sameJson(last.owned, owned)) return undefined;
    return { requeueAt: last.requeueAt };
  }

  /** Records a quiescent step of `key`, which later reconciles may skip while nothing changes. */
  remember(key: string, cr: ScribeCr, owned: OwnedObjects, requeueAt: number | undefined): void {
    this.steps.set(key, { cr, owned, requeueAt });
  }

  /** The CR's last step decided something, or the CR is gone: its next reconcile steps. */
  forget(key: string): void {
    this.steps.delete(key);
  }
}
