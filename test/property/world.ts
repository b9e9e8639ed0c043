/**
 * A simulated cluster for the machine properties: it executes step()'s actions the way the
 * effects adapter will (create if absent, delete if present, one mover Job per CR) and lets the
 * test drive the mover, the snapshot controller and the clock.
 */
import type { Action } from '../../machines/actions.js';
import type { ScribeCr } from '../../machines/api.js';
import { CYCLE_LABEL } from '../../machines/naming.js';
import type { ObservedMover, ObservedPvc, ObservedSnapshot, OwnedObjects } from '../../machines/observation.js';
import { step, type StepResult } from '../../machines/step.js';

export interface Job {
  cycleId: string;
  attempt: number;
  phase: 'running' | 'succeeded' | 'failed';
}

/** A checker called with every step's input and result. */
export type Check = (before: ScribeCr, result: StepResult, world: World) => void;

export class World {
  pvcs = new Map<string, ObservedPvc>();
  snapshots = new Map<string, ObservedSnapshot>();
  job: Job | undefined;
  wake: number | undefined;
  events: Action[] = [];
  jobsCreated = 0;

  constructor(
    public cr: ScribeCr,
    public now: number,
    private readonly check: Check,
  ) {}

  owned(): OwnedObjects {
    const mover: ObservedMover = this.job ? { ...this.job } : { phase: 'absent' };
    return { pvcs: Object.fromEntries(this.pvcs), snapshots: Object.fromEntries(this.snapshots), mover };
  }

  /** Observes and executes until the status stops changing, as watch events of our own writes would. */
  settle(): void {
    for (let i = 0; i < 12; i++) {
      const before = this.cr;
      const result = step(before, { now: this.now, owned: this.owned() });
      this.check(before, result, this);
      const wrote = result.actions.some((a) => a.type === 'patchStatus');
      for (const action of result.actions) this.execute(action);
      if (!wrote) return;
    }
    throw new Error('the machine did not settle within 12 steps of one observation');
  }

  private execute(action: Action): void {
    switch (action.type) {
      case 'patchStatus':
        this.cr = { ...this.cr, status: action.status } as ScribeCr;
        break;
      case 'ensurePvc':
        if (!this.pvcs.has(action.name)) {
          this.pvcs.set(action.name, {
            name: action.name,
            phase: 'Bound',
            cycleId: action.labels[CYCLE_LABEL],
            capacity: '1Gi',
          });
        }
        break;
      case 'ensureSnapshot':
        if (!this.snapshots.has(action.name)) {
          this.snapshots.set(action.name, {
            name: action.name,
            readyToUse: false,
            cycleId: action.labels[CYCLE_LABEL],
          });
        }
        break;
      case 'ensureMover':
        if (!this.job) {
          this.job = { cycleId: action.cycleId, attempt: action.attempt, phase: 'running' };
          this.jobsCreated++;
        }
        break;
      case 'cleanupMover':
        this.job = undefined;
        break;
      case 'deleteObject':
        if (action.kind === 'PersistentVolumeClaim') this.pvcs.delete(action.name);
        else this.snapshots.delete(action.name);
        break;
      case 'scheduleWake':
        this.wake = action.at;
        break;
      case 'emitEvent':
        this.events.push(action);
        break;
      case 'recordMetrics':
        break;
    }
  }

  /** The mover Job finishes. */
  finishMover(ok: boolean): void {
    if (this.job?.phase === 'running') this.job = { ...this.job, phase: ok ? 'succeeded' : 'failed' };
  }

  /** The snapshot controller makes pending snapshots ready, or fails them. */
  snapshotController(ok: boolean): void {
    for (const [name, snap] of this.snapshots) {
      if (!snap.readyToUse && !snap.error)
        this.snapshots.set(name, ok ? { ...snap, readyToUse: true } : { ...snap, error: 'driver timeout' });
    }
  }
}
