import { describe, expect, it } from 'vitest';
import {
  decideSync,
  formatGoDuration,
  formatGoDurationMs,
  isMissedInterval,
  isOutOfSync,
  nextSyncAfter,
  nextSyncTimeFor,
  outOfSyncDeadline,
  parseSchedule,
  triggerKind,
} from '../../../machines/trigger.js';

const at = (iso: string) => Date.parse(iso);

describe('parseSchedule (decision 5)', () => {
  it('accepts 5-field expressions and trims surrounding spaces', () => {
    expect(parseSchedule('  */6 * * * *  ')).toEqual({ ok: true, expression: '*/6 * * * *' });
  });
  it.each([
    ['@hourly', '0 * * * *'],
    ['@daily', '0 0 * * *'],
    ['@weekly', '0 0 * * 0'],
    ['@monthly', '0 0 1 * *'],
    ['@yearly', '0 0 1 1 *'],
  ])('accepts the descriptor %s', (descriptor, expression) => {
    expect(parseSchedule(` ${descriptor} `)).toEqual({ ok: true, expression });
  });
  it('rejects a 6-field value saying 6-field/seconds are not supported (decision 5)', () => {
    const parsed = parseSchedule('0 */30 * * * *');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.message).toMatch(/^spec\.trigger\.schedule: /);
      expect(parsed.message).toMatch(/6-field/);
      expect(parsed.message).toMatch(/seconds/);
    }
  });
  it.each([
    '61 * * * *',
    '0 24 * * *',
    '* * * *',
    'a b c d e',
    '0 0 31 2 *',
    'H * * * *',
    '@secondly',
    '*/0 * * * *',
    '*/61 * * * *',
    '',
  ])('rejects %j naming spec.trigger.schedule', (schedule) => {
    const parsed = parseSchedule(schedule);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain('spec.trigger.schedule');
  });
  it('accepts day and month names', () => {
    expect(parseSchedule('0 3 * JAN MON-FRI').ok).toBe(true);
  });
});

describe('triggerKind', () => {
  it('manual wins over schedule; nothing means always', () => {
    expect(triggerKind({ manual: 'x', schedule: '* * * * *' })).toBe('manual');
    expect(triggerKind({ schedule: '* * * * *' })).toBe('schedule');
    expect(triggerKind({})).toBe('always');
    expect(triggerKind(undefined)).toBe('always');
  });
});

describe('decideSync', () => {
  const now = at('2024-01-01T00:07:00Z');
  it.each([[{ manual: 'a' }], [{ schedule: '0 0 1 1 *' }], [{}], [undefined]])(
    'decision 2: a CR that never synced is due at once whatever the trigger (%j)',
    (trigger) => {
      expect(decideSync({ trigger }, now)).toEqual({ due: true, reason: 'firstSync' });
    },
  );
  it('paused is never due, not even for a new CR', () => {
    expect(decideSync({ paused: true }, now)).toEqual({ due: false, reason: 'paused' });
    expect(decideSync({ paused: true, trigger: { manual: 'b' }, lastSyncTime: 0, lastManualSync: 'a' }, now).due).toBe(
      false,
    );
  });
  it('decision 1: manual is due while spec.trigger.manual differs from status.lastManualSync', () => {
    expect(decideSync({ trigger: { manual: 'b' }, lastManualSync: 'a', lastSyncTime: now - 1 }, now)).toEqual({
      due: true,
      reason: 'manual',
    });
    expect(decideSync({ trigger: { manual: 'a' }, lastManualSync: 'a', lastSyncTime: now - 1 }, now)).toEqual({
      due: false,
      reason: 'waitingForManual',
    });
  });
  it('manual wins over schedule: the schedule is paused while manual is set', () => {
    const facts = {
      trigger: { manual: 'a', schedule: '* * * * *' },
      lastManualSync: 'a',
      lastSyncTime: now - 3_600_000,
    };
    expect(decideSync(facts, now).due).toBe(false);
  });
  it('decision 14: the next sync is the first cron time after the previous completion, no catch-up run', () => {
    // A sync that completed at 00:07 (overrunning the 00:05 tick) next runs at 00:10, not at once.
    const facts = { trigger: { schedule: '*/5 * * * *' }, lastSyncTime: at('2024-01-01T00:07:00Z') };
    expect(decideSync(facts, at('2024-01-01T00:09:59Z'))).toEqual({
      due: false,
      reason: 'waitingForSchedule',
      nextSyncTime: at('2024-01-01T00:10:00Z'),
    });
    expect(decideSync(facts, at('2024-01-01T00:10:00Z'))).toEqual({ due: true, reason: 'schedule' });
  });
  it('no trigger: due again right after the previous cycle finished', () => {
    expect(decideSync({ trigger: {}, lastSyncTime: now }, now)).toEqual({ due: true, reason: 'always' });
  });
  it('an unusable schedule is never due', () => {
    expect(decideSync({ trigger: { schedule: '61 * * * *' }, lastSyncTime: 0 }, now)).toEqual({
      due: false,
      reason: 'invalidSchedule',
    });
  });
});

describe('nextSyncTimeFor (decision 2)', () => {
  const last = at('2024-01-01T00:07:00Z');
  it('is set for a schedule', () => {
    expect(nextSyncTimeFor({ trigger: { schedule: '*/5 * * * *' }, lastSyncTime: last })).toBe(
      at('2024-01-01T00:10:00Z'),
    );
  });
  it('is absent for manual, always, paused, and before the first sync', () => {
    expect(nextSyncTimeFor({ trigger: { manual: 'a', schedule: '*/5 * * * *' }, lastSyncTime: last })).toBeUndefined();
    expect(nextSyncTimeFor({ trigger: {}, lastSyncTime: last })).toBeUndefined();
    expect(nextSyncTimeFor({ trigger: { schedule: '*/5 * * * *' }, lastSyncTime: last, paused: true })).toBeUndefined();
    expect(nextSyncTimeFor({ trigger: { schedule: '*/5 * * * *' } })).toBeUndefined();
  });
  it('uses UTC', () => {
    expect(nextSyncAfter('@daily', at('2024-03-10T23:30:00Z'))).toBe(at('2024-03-11T00:00:00Z'));
  });
});

describe('missed intervals and out of sync (decision 14)', () => {
  const schedule = '*/5 * * * *';
  const previous = at('2024-01-01T00:00:30Z');
  it('the deadline is the second cron time after the previous completion', () => {
    expect(outOfSyncDeadline(schedule, previous)).toBe(at('2024-01-01T00:10:00Z'));
  });
  it('a sync completing after the deadline counts as missed, one completing at it does not', () => {
    expect(isMissedInterval(schedule, previous, at('2024-01-01T00:10:00.001Z'))).toBe(true);
    expect(isMissedInterval(schedule, previous, at('2024-01-01T00:10:00Z'))).toBe(false);
    expect(isMissedInterval(schedule, undefined, at('2030-01-01T00:00:00Z'))).toBe(false);
  });
  it('out of sync from the deadline, for schedules only, and while an error prevents syncing (decision 8)', () => {
    const facts = { trigger: { schedule }, lastSyncTime: previous };
    expect(isOutOfSync(facts, at('2024-01-01T00:09:59Z'), false)).toBe(false);
    expect(isOutOfSync(facts, at('2024-01-01T00:10:00Z'), false)).toBe(true);
    expect(isOutOfSync(facts, at('2024-01-01T00:01:00Z'), true)).toBe(true);
    // Before the first sync nothing is in sync yet (issue 7: "1 before the first sync").
    expect(isOutOfSync({ trigger: { schedule } }, at('2024-01-01T00:00:00Z'), false)).toBe(true);
    expect(isOutOfSync({ trigger: { manual: 'a' }, lastSyncTime: previous }, at('2025-01-01T00:00:00Z'), true)).toBe(
      false,
    );
  });
});

describe('formatGoDuration (decision 4, input in nanoseconds)', () => {
  it.each([
    [190261673933n, '3m10.261673933s'],
    [4511334577n, '4.511334577s'],
    [31333710313n, '31.333710313s'],
    [0n, '0s'],
    [3600n * 1_000_000_000n, '1h0m0s'],
    [(72n * 3600n + 3n * 60n) * 1_000_000_000n + 500_000_000n, '72h3m0.5s'],
    [1500n, '1.5µs'],
    [1_500_000n, '1.5ms'],
    [999n, '999ns'],
    [-1_500_000_000n, '-1.5s'],
  ])('%s ns → %s', (ns, text) => {
    expect(formatGoDuration(ns)).toBe(text);
  });
  it('accepts numbers and milliseconds', () => {
    expect(formatGoDuration(4_511_334_577)).toBe('4.511334577s');
    expect(formatGoDurationMs(190_261)).toBe('3m10.261s');
  });
});
