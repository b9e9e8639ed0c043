import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideSync,
  formatGoDuration,
  nextSyncAfter,
  outOfSyncDeadline,
  parseSchedule,
  type TriggerFacts,
} from '../../machines/trigger.js';
import { periodOf, referenceDue, referenceNext, SCHEDULES } from './reference.js';

const time = fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') });

describe('schedules against arithmetic', () => {
  it('the next sync is the first period boundary strictly after the previous completion (decision 14)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SCHEDULES), time, (schedule, last) => {
        expect(nextSyncAfter(schedule, last)).toBe(referenceNext(schedule, last));
      }),
    );
  });
  it('the out-of-sync deadline is one period after the next sync', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SCHEDULES), time, (schedule, last) => {
        expect(outOfSyncDeadline(schedule, last)).toBe(referenceNext(schedule, last) + periodOf(schedule));
      }),
    );
  });
  it('decideSync agrees with the reference model of the trigger rules', () => {
    const facts = fc.record<TriggerFacts>({
      trigger: fc.option(
        fc.record({
          schedule: fc.option(fc.constantFrom(...SCHEDULES), { nil: undefined }),
          manual: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
        }),
        { nil: undefined },
      ),
      paused: fc.option(fc.boolean(), { nil: undefined }),
      lastSyncTime: fc.option(time, { nil: undefined }),
      lastManualSync: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
    });
    fc.assert(
      fc.property(facts, fc.integer({ min: 0, max: 7 * 86_400_000 }), (f, after) => {
        const now = (f.lastSyncTime ?? Date.parse('2024-01-01T00:00:00Z')) + after;
        expect(decideSync(f, now).due).toBe(referenceDue(f, now));
      }),
    );
  });
});

describe('parseSchedule', () => {
  const field = (min: number, max: number) =>
    fc.oneof(
      fc.constant('*'),
      fc.integer({ min, max }).map(String),
      fc.integer({ min: 1, max: max - min + 1 }).map((n) => `*/${n}`),
      fc
        .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
        .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    );
  // Day-of-month stays '*' so that no generated expression names a date that never comes (Feb 31).
  const fiveFields = fc.tuple(field(0, 59), field(0, 23), fc.constant('*'), field(1, 12), field(0, 6));
  it('accepts every 5-field expression of valid fields, whatever the spacing', () => {
    fc.assert(
      fc.property(fiveFields, fc.constantFrom(' ', '  ', '\t'), (fields, gap) => {
        expect(parseSchedule(` ${fields.join(gap)} `).ok).toBe(true);
      }),
    );
  });
  it('rejects every 6-field expression, saying so', () => {
    fc.assert(
      fc.property(field(0, 59), fiveFields, (seconds, fields) => {
        const parsed = parseSchedule([seconds, ...fields].join(' '));
        expect(parsed.ok).toBe(false);
        if (!parsed.ok) expect(parsed.message).toMatch(/spec\.trigger\.schedule: .*6-field/);
      }),
    );
  });
  it('rejects out-of-range minutes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 60, max: 1000 }), (minute) => {
        expect(parseSchedule(`${minute} * * * *`).ok).toBe(false);
      }),
    );
  });
});

describe('formatGoDuration', () => {
  /** Parses Go's duration syntax back to nanoseconds. */
  function parseGo(text: string): bigint {
    const units: Record<string, bigint> = {
      h: 3_600_000_000_000n,
      m: 60_000_000_000n,
      s: 1_000_000_000n,
      ms: 1_000_000n,
      µs: 1000n,
      ns: 1n,
    };
    const sign = text.startsWith('-') ? -1n : 1n;
    let total = 0n;
    for (const [, whole, frac = '', unit] of text.replace(/^-/, '').matchAll(/(\d+)(?:\.(\d+))?(h|ms|µs|ns|m|s)/g)) {
      const scale = units[unit ?? 's'] ?? 1n;
      total += BigInt(whole ?? '0') * scale + (BigInt(frac.padEnd(18, '0').slice(0, 18) || '0') * scale) / 10n ** 18n;
    }
    return sign * total;
  }
  it('round-trips through Go duration syntax', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), (ns) => {
        expect(parseGo(formatGoDuration(ns))).toBe(ns);
      }),
    );
  });
});
