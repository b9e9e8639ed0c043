/** The machine's context and the small readers every rule shares. */
import type { ScribeCr, ScribeStatus } from './api.js';
import type { Observation } from './observation.js';
import { toMs } from './time.js';
import type { TriggerFacts } from './trigger.js';

/** States of the replication machines; status.state holds one of these. */
export const STATES = [
  'idle',
  'waitingForPvc',
  'snapshotting',
  'moving',
  'preserving',
  'complete',
  'failed',
  'invalid',
  'external',
] as const;
export type ReplicationState = (typeof STATES)[number];

/** States in which a cycle is running and its objects are being worked on. */
export const WORKING_STATES: readonly ReplicationState[] = ['snapshotting', 'moving', 'preserving', 'complete'];

/** Whether a string is one of the machine's states. */
export function isReplicationState(value: string | undefined): value is ReplicationState {
  return (STATES as readonly string[]).includes(value ?? '');
}

/**
 * The machine's context: the status it will persist, the status as it was persisted when the
 * observation arrived, the time of the step, and the reason of the transition being taken (for
 * the journal; never persisted on its own).
 */
export interface ReplicationContext {
  status: ScribeStatus;
  /**
   * The status as persisted when this observation arrived, never written during the step: what
   * earlier steps already said. A notice that must be said once compares against it, so it does
   * not matter whether the status writer of the same transition has run yet.
   */
  persisted: ScribeStatus;
  /** Epoch ms of the observation being processed: the only clock the machine has. */
  now: number;
  why?: string | undefined;
  /** How long a working state may go without progress before it is Stalled (default STALL_AFTER_MS). */
  stallAfterMs?: number | undefined;
}

/** What creates a machine: the persisted status (empty for a new CR) and the time. */
export interface ReplicationInput {
  status?: ScribeStatus | undefined;
  now: number;
  stallAfterMs?: number | undefined;
}

/** The observation carried by an event, or undefined for xstate's own init event. */
export function observationOf(event: { type: string }): Observation | undefined {
  return event.type === 'observe' ? (event as Observation) : undefined;
}

/** The trigger facts of a CR and its status. */
export function triggerFactsOf(cr: ScribeCr, status: ScribeStatus): TriggerFacts {
  return {
    trigger: cr.spec.trigger,
    paused: cr.spec.paused,
    lastSyncTime: toMs(status.lastSyncTime),
    lastManualSync: status.lastManualSync,
  };
}
