/**
 * The runtime's one summary engine (src/movers/runtime/summary.ts), driven by rules as data:
 * later lines win, 'distinct' kinds keep their last `max` lines, the oldest go first when the
 * summary is too long unless a budget orders kinds by priority, and a line a tool wrote as data
 * is rendered. The movers' own rules are tested with their tools' real output in test/movers.
 */
import { describe, expect, it } from 'vitest';
import { lastErrorLine, summarize, type SummaryRules } from '../../../src/movers/runtime/summary.js';

const RULES: SummaryRules = {
  rules: [
    { kind: 'result', patterns: [/^result: /], keep: 'last' },
    { kind: 'stat', patterns: [/^files: /], keep: 'last' },
    { kind: 'error', patterns: [/^error: /], keep: 'distinct', max: 2 },
  ],
  strip: /^\d\d:\d\d /,
  drop: /SECRET/,
  long: /^result: /,
  render: (line) => (line.startsWith('{') ? { kind: 'json', line: `rendered ${line.length}` } : undefined),
};

describe('summarize', () => {
  it('keeps the last line of a kind, the last distinct lines of another, in reading order', () => {
    const log = [
      '10:00 files: 1',
      'error: a',
      'error: b',
      'noise',
      'error: a',
      'error: c',
      '10:01 files: 2',
      'error: SECRET x',
      '{"x":1}',
      'result: done',
    ].join('\n');
    expect(summarize(log, RULES).split('\n')).toEqual([
      'error: a',
      'error: c',
      'files: 2',
      'rendered 7',
      'result: done',
    ]);
  });

  it('drops the oldest lines to fit, keeping the result', () => {
    const log = ['files: 1', 'error: x', 'result: done'].join('\n');
    expect(summarize(log, RULES, undefined, 'error: x\nresult: done'.length)).toBe('error: x\nresult: done');
    expect(summarize(log, RULES, undefined, 1)).toBe('result: done');
  });

  it('with a budget, chooses by priority and prints in its order', () => {
    const rules: SummaryRules = {
      ...RULES,
      budget: { priority: ['result', 'error', 'stat'], order: ['result', 'stat', 'error'] },
    };
    const log = ['error: e', 'files: 9', 'result: done'].join('\n');
    expect(summarize(log, rules)).toBe('result: done\nfiles: 9\nerror: e');
    expect(summarize(log, rules, undefined, 'result: done\nerror: e\n'.length)).toBe('result: done\nerror: e');
  });

  it('redacts and cleans what it keeps, and cuts long lines', () => {
    const log = `error: token=abc\u0007\nresult: ${'r'.repeat(400)}\nerror: ${'e'.repeat(400)}`;
    const lines = summarize(log, RULES, (text) => text.replace('abc', '[redacted]')).split('\n');
    expect(lines[0]).toBe('error: token=[redacted]?');
    expect(lines[1]?.length).toBe(300);
    expect(lines[2]?.length).toBe(240);
  });

  it('is idempotent: a summary summarized again is itself', () => {
    const once = summarize('files: 1\nerror: a\nresult: done', RULES);
    expect(summarize(once, RULES)).toBe(once);
  });
});

describe('lastErrorLine', () => {
  it("prefers a tool's error line to its last line, after decoding", () => {
    expect(lastErrorLine('starting\nFatal: no repository\nbye\n')).toBe('Fatal: no repository');
    expect(lastErrorLine('a\nb\n')).toBe('b');
    expect(lastErrorLine('')).toBe('(no output)');
    expect(lastErrorLine('{"e":"error: decoded"}', (l) => (l.startsWith('{') ? 'error: decoded' : undefined))).toBe(
      'error: decoded',
    );
  });
});
