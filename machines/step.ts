/**
 * step(): the one call the operator side makes. It restores the CR's machine from status
 * (rehydrating where facts disagree), feeds it one observation with xstate's pure transition(),
 * and returns the status to persist and the actions to execute, in order. Nothing is executed.
 */
import { initialTransition, transition } from 'xstate';
import type { Action, RecordMetricsAction } from './actions.js';
import type { ScribeCr, ScribeStatus } from './api.js';
import { isReplicationState, WORKING_STATES, triggerFactsOf, type ReplicationState } from './context.js';
import { appendJournal } from './journal.js';
import { levelActions } from './level.js';
import { observation, type Observation, type OwnedObjects } from './observation.js';
import { isStalled, stallDeadline } from './findings.js';
import type { Notice } from './notices.js';
import { rehydrate } from './rehydrate.js';
import { replicationMachine } from './replication.js';
import { deferredStart } from './write-ahead.js';

type ReplicationMachine = typeof replicationMachine;
import { formatTimestamp, toMs } from './time.js';
import { isOutOfSync, outOfSyncDeadline, triggerKind } from './trigger.js';

/** What one step is given: the time (Date or epoch ms) and the CR's objects in the caches. */
export interface StepInput {
  now: Date | number;
  owned: OwnedObjects;
  /** The operator's stall period (--stall-after); default STALL_AFTER_MS. */
  stallAfterMs?: number | undefined;
}

/** The outcome of one step. */
export interface StepResult {
  /** The state the machine settled in (also nextPersisted.state, except for external CRs). */
  state: ReplicationState;
  /** The status to persist; equal to the CR's status when nothing changed (and for external CRs). */
  nextPersisted: ScribeStatus;
  /** Decisions to execute in order; patchStatus, when present, is first. */
  actions: Action[];
  /**
   * The step started a cycle by creating its first objects only (write-ahead.ts): status and
   * Events wait for the step that sees those objects.
   */
  statusDeferred?: true;
  /**
   * When to observe this CR again even if nothing changes (epoch ms): the next scheduled sync, the
   * retry, the stall or out-of-sync deadline. Absent for an idle manual or paused CR: it waits for
   * a change. The caller's work queue owns the timer (src/streams/work-queue.ts).
   */
  requeueAt?: number;
}

/** Feeds one observation to the CR's machine and returns the status to persist and the actions to run. */
export function step(cr: ScribeCr, input: StepInput): StepResult {
  return stepWith(replicationMachine, cr, input);
}

/** step() with another build of the machine: the tests run one whose action lists are reversed. */
export function stepWith(machine: ReplicationMachine, cr: ScribeCr, input: StepInput): StepResult {
  const now = typeof input.now === 'number' ? input.now : input.now.getTime();
  const event = observation(cr, input.owned, now);
  const [next, executed] = transition(machine, restore(machine, cr, event, input.stallAfterMs), event);
  const state = next.value as ReplicationState;
  const previous: ScribeStatus = cr.status ?? {};
  if (state === 'external') return { state, nextPersisted: previous, actions: [] };

  const status = next.context.status;
  const notices = executed.filter((a): a is typeof a & Notice => a.type === 'emitEvent' || a.type === 'recordMetrics');
  const level = levelActions(state, next.context, event);
  if (deferredStart(previous, status, level, input.owned)) {
    // The Job first (write-ahead.ts): only the new cycle's objects now; the step that sees them
    // writes status and says the Events. The recheck only covers a watch event that never comes.
    return {
      state: persistedState(previous),
      nextPersisted: previous,
      actions: [...level, metrics([], cr, previous, persistedState(previous), now)],
      requeueAt: now + WRITE_AHEAD_RECHECK_MS,
      statusDeferred: true,
    };
  }
  const actions: Action[] = [];
  if (!sameJson(status, previous)) actions.push({ type: 'patchStatus', status });
  for (const notice of notices) if (notice.type === 'emitEvent') actions.push({ type: 'emitEvent', ...notice.params });
  actions.push(...level);
  actions.push(metrics(notices, cr, status, state, now));
  const requeueAt = nextObservationAt(cr, status, state, event, input.stallAfterMs);
  return { state, nextPersisted: status, actions, ...(requeueAt !== undefined ? { requeueAt } : {}) };
}

/**
 * How soon a CR whose cycle was started by its first object alone is observed again if that
 * object's watch event has not brought it back before.
 */
export const WRITE_AHEAD_RECHECK_MS = 10_000;

/** The state status records (idle for a CR never written). */
function persistedState(status: ScribeStatus): ReplicationState {
  return isReplicationState(status.state) ? status.state : 'idle';
}

/** The machine snapshot a CR resumes from: its initial state when new, else its rehydrated state. */
function restore(machine: ReplicationMachine, cr: ScribeCr, event: Observation, stallAfterMs: number | undefined) {
  const status: ScribeStatus = cr.status ?? {};
  const where = rehydrate(cr, event.owned);
  if (where.fresh) return initialTransition(machine, { status, now: event.now, stallAfterMs })[0];
  const corrected: ScribeStatus = where.correction
    ? {
        ...status,
        state: where.state,
        journal: appendJournal(status.journal, {
          time: formatTimestamp(event.now),
          event: 'rehydrate',
          from: status.state ?? '(none)',
          to: where.state,
          reason: where.correction,
        }),
      }
    : status;
  return machine.resolveState({
    value: where.state,
    context: { status: corrected, persisted: status, now: event.now, stallAfterMs },
  });
}

/** One metrics update per step: the out-of-sync gauge, plus the completed sync when there was one. */
function metrics(
  notices: readonly Notice[],
  cr: ScribeCr,
  status: ScribeStatus,
  state: ReplicationState,
  now: number,
): RecordMetricsAction {
  const completed = notices.find((n) => n.type === 'recordMetrics')?.params.completedSync;
  const erroring = state === 'failed' || state === 'invalid' || state === 'waitingForPvc';
  const outOfSync = isOutOfSync(triggerFactsOf(cr, status), now, erroring);
  return { type: 'recordMetrics', outOfSync, ...(completed ? { completedSync: completed } : {}) };
}

/**
 * The next time this CR must be observed even if nothing changes: the next scheduled sync, the
 * retry time, the stall deadline, or the out-of-sync deadline (the gauge flips then). The earliest
 * one in the future; nothing for an idle manual or paused CR.
 */
function nextObservationAt(
  cr: ScribeCr,
  status: ScribeStatus,
  state: ReplicationState,
  event: Observation,
  stallAfterMs: number | undefined,
): number | undefined {
  const candidates: (number | undefined)[] = [];
  if (state === 'idle') candidates.push(toMs(status.nextSyncTime));
  if (state === 'failed') candidates.push(toMs(status.cycle?.retryAfter));
  const ctx = { status, persisted: cr.status ?? {}, now: event.now, stallAfterMs };
  if (WORKING_STATES.includes(state) && !isStalled(ctx, event, state))
    candidates.push(stallDeadline(ctx, event, state));
  const lastSync = toMs(status.lastSyncTime);
  const schedule = cr.spec.trigger?.schedule;
  if (triggerKind(cr.spec.trigger) === 'schedule' && schedule !== undefined && lastSync !== undefined) {
    candidates.push(outOfSyncDeadline(schedule, lastSync));
  }
  const future = candidates.filter((t): t is number => t !== undefined && t > event.now);
  return future.length > 0 ? Math.min(...future) : undefined;
}

/**
 * Structural equality of two JSON values, ignoring key order and undefined members. Walks both
 * values without copying them: it runs on every step of every CR.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    // As in JSON text, an undefined array element stands for null.
    const element = (item: unknown) => (item === undefined ? null : item);
    return a.every((item, i) => sameJson(element(item), element(b[i])));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const defined = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] !== undefined);
  const keys = defined(x);
  return keys.length === defined(y).length && keys.every((k) => y[k] !== undefined && sameJson(x[k], y[k]));
}
