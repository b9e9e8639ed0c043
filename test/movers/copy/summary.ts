/** What the copy mover's summary keeps (the runtime's summary engine applies it). */
import type { SummaryRules } from '../../../src/movers/runtime/summary.js';

export const COPY_SUMMARY: SummaryRules = {
  rules: [
    { kind: 'copied', patterns: [/^scribe copy (source|destination): copied /], keep: 'last' },
    { kind: 'error', patterns: [/^cp: /, /^scribe copy (source|destination): error: /], keep: 'distinct', max: 4 },
    { kind: 'result', patterns: [/^scribe copy (source|destination): result: /], keep: 'last' },
  ],
  long: /^scribe copy (source|destination): result: /,
};
