/**
 * The condition writers, in one place (as VolSync keeps them): Reconciled as the seed defines it,
 * Synchronizing for where the sync stands. lastTransitionTime changes only when the status
 * flips, as meta.SetStatusCondition does, so a step that changes nothing writes nothing.
 */
import type { Condition } from './api.js';
import { formatTimestamp } from './time.js';

export const RECONCILED = 'Reconciled';
export const SYNCHRONIZING = 'Synchronizing';

/** Reasons of the Synchronizing condition. */
export const SyncReasons = {
  SyncInProgress: 'SyncInProgress',
  WaitingForSchedule: 'WaitingForSchedule',
  WaitingForManual: 'WaitingForManual',
  WaitingForPVC: 'WaitingForPVC',
  Paused: 'Paused',
  CleaningUp: 'CleaningUp',
  Error: 'Error',
  Stalled: 'Stalled',
} as const;
export type SyncReason = (typeof SyncReasons)[keyof typeof SyncReasons];

/** A condition before its timestamps are filled in. */
export interface ConditionValue {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** Reconciled=True as the seed shows it (decision 4). */
export function reconciled(): ConditionValue {
  return { type: RECONCILED, status: 'True', reason: 'ReconcileComplete', message: 'Reconcile complete' };
}

/** Reconciled=False with the error. */
export function reconcileError(message: string): ConditionValue {
  return { type: RECONCILED, status: 'False', reason: 'ReconcileError', message };
}

/** Synchronizing with its status implied by the reason. */
export function synchronizing(reason: SyncReason, message: string): ConditionValue {
  const active = reason === 'SyncInProgress' || reason === 'CleaningUp';
  return { type: SYNCHRONIZING, status: active ? 'True' : 'False', reason, message };
}

/** The condition of a type, if present. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Sets a condition: same status keeps lastTransitionTime; identical content returns the same array. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  value: ConditionValue,
  now: number,
  observedGeneration?: number,
): Condition[] {
  const list = conditions ?? [];
  const old = findCondition(list, value.type);
  const next: Condition = {
    ...value,
    lastTransitionTime: old && old.status === value.status ? old.lastTransitionTime : formatTimestamp(now),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
  if (old && sameCondition(old, next)) return [...list];
  return old ? list.map((c) => (c.type === value.type ? next : c)) : [...list, next];
}

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.lastTransitionTime === b.lastTransitionTime &&
    a.observedGeneration === b.observedGeneration
  );
}
