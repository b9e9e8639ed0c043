/**
 * The operator's stall period (--stall-after, Helm value stallAfterSeconds): a working state
 * without progress turns Stalled after that period instead of the default 10 minutes, the wake-up
 * is asked for at that deadline, and the message names the period.
 */
import { describe, expect, it } from 'vitest';
import { STALL_AFTER_MS } from '../../../machines/backoff.js';
import type { ScribeCr } from '../../../machines/api.js';
import type { StepResult } from '../../../machines/step.js';
import { owned, source, T0, stepAsOperator } from './fixtures.js';

const synchronizing = (r: StepResult) => r.nextPersisted.conditions?.find((c) => c.type === 'Synchronizing');
const wake = (r: StepResult) => r.requeueAt;

/** Steps a source with `stallAfterMs`, carrying the status forward as the operator does. */
function stepper(stallAfterMs: number | undefined) {
  let cr: ScribeCr = source({ trigger: {} });
  return (now: number): StepResult => {
    const r = stepAsOperator(cr, { now, owned: owned(), stallAfterMs });
    cr = { ...cr, status: r.nextPersisted };
    return r;
  };
}

describe('the stall period', () => {
  it('is 10 minutes by default', () => {
    const at = stepper(undefined);
    expect(wake(at(T0))).toBe(T0 + STALL_AFTER_MS);
    expect(STALL_AFTER_MS).toBe(600_000);
    expect(synchronizing(at(T0 + 20_000))?.reason).toBe('SyncInProgress');
  });

  it('follows the operator: 20 s without progress is Stalled, naming the period', () => {
    const at = stepper(20_000);
    expect(wake(at(T0))).toBe(T0 + 20_000);
    expect(synchronizing(at(T0 + 19_999))?.reason).toBe('SyncInProgress');
    const stalled = at(T0 + 20_000);
    expect(synchronizing(stalled)).toMatchObject({ status: 'False', reason: 'Stalled' });
    expect(synchronizing(stalled)?.message).toContain('no progress in snapshotting for 20s');
    const notice = stalled.actions.find((a) => a.type === 'emitEvent');
    expect(notice).toMatchObject({ reason: 'SyncStalled' });
  });
});
