/**
 * The one log-summary engine of every mover (pure): from a mover's log it keeps the lines its
 * rules name, for `status.latestMoverStatus.logs` (the termination message). A mover says what
 * to keep as data (`SummaryRules`: patterns, how many lines of each kind, the order and the
 * priority under the size budget); the engine picks, de-duplicates, cleans and bounds them.
 * Later lines win over earlier ones, so summarizing a log that already holds a summary changes
 * nothing, and file names never appear unless a rule keeps them.
 */
import { RESULT_LINE_MAX } from '../permissions.js';

/** Upper bound of a summary in bytes, as the status field is meant for a short tail. */
export const DEFAULT_SUMMARY_BYTES = 1536;

/** Lines other than `long` ones are cut at this many characters. */
const MAX_LINE = 240;

/** One kind of line a summary keeps. */
export interface SummaryRule {
  kind: string;
  /** A line is of this kind when one of these matches it (the first rule that matches wins). */
  patterns: readonly RegExp[];
  /** Only the last line of the kind ('last'), or the last distinct lines ('distinct', at most `max`). */
  keep: 'last' | 'distinct';
  max?: number;
}

/** What a mover's summary keeps: its rules and how the engine bounds the result. */
export interface SummaryRules {
  rules: readonly SummaryRule[];
  /** Removed from each line before matching (a tool's timestamp prefix). */
  strip?: RegExp;
  /** Lines never kept, whatever matches them (key material). */
  drop?: RegExp;
  /** Lines cut at RESULT_LINE_MAX rather than MAX_LINE: the result's way out and the files it names. */
  long: RegExp;
  /** Blanks what only key material could be (long base64 runs), before matching. */
  blankBase64?: boolean;
  /** Turns a line no pattern reads (a tool's JSON summary object) into a kind and a line; undefined to skip it. */
  render?: (line: string) => { kind: string; line: string } | undefined;
  /**
   * Without it, the lines stay in reading order and the oldest are dropped until the summary fits.
   * With it, lines are chosen by kind in this order while they fit, and printed in `order`.
   */
  budget?: { priority: readonly string[]; order: readonly string[] };
}

/** A line without control characters (and long base64 runs when asked), cut at its kind's length. */
function clean(line: string, rules: SummaryRules): string {
  const blanked = rules.blankBase64 ? line.replace(/[A-Za-z0-9+/]{60,}={0,2}/g, '[redacted]') : line;
  // eslint-disable-next-line no-control-regex
  const printable = blanked.replace(/[\u0000-\u001f\u007f]/g, '?');
  const max = rules.long.test(printable) ? RESULT_LINE_MAX : MAX_LINE;
  return printable.length > max ? `${printable.slice(0, max - 3)}...` : printable;
}

/** Summarizes `log` by `rules` in at most `maxBytes` bytes of UTF-8; `redact` is applied to every kept line. */
export function summarize(
  log: string,
  rules: SummaryRules,
  redact: (text: string) => string = (text) => text,
  maxBytes = DEFAULT_SUMMARY_BYTES,
): string {
  const picked: { kind: string; key: string; line: string }[] = [];
  for (const raw of log.split(/\r?\n/)) {
    const stripped = (rules.strip ? raw.replace(rules.strip, '') : raw).trim();
    if (stripped === '' || rules.drop?.test(stripped)) continue;
    const line = rules.blankBase64 ? clean(stripped, rules) : stripped;
    const rule = rules.rules.find((r) => r.patterns.some((p) => p.test(line)));
    if (rule) {
      picked.push({ kind: rule.kind, key: rule.keep === 'last' ? rule.kind : `${rule.kind}\n${line}`, line });
      continue;
    }
    const rendered = rules.render?.(line);
    if (rendered) picked.push({ ...rendered, key: rendered.kind });
  }
  // Later lines win: the last of each key, in reading order; of a 'distinct' kind the last `max`.
  const lastIndex = new Map(picked.map(({ key }, i) => [key, i]));
  const latest = picked.filter(({ key }, i) => lastIndex.get(key) === i);
  const kept = latest.filter((entry, i) => {
    const rule = rules.rules.find((r) => r.kind === entry.kind);
    if (rule?.max === undefined) return true;
    const later = latest.slice(i + 1).filter((other) => other.kind === entry.kind).length;
    return later < rule.max;
  });
  const lines = kept.map((entry) => ({ kind: entry.kind, line: clean(redact(entry.line), rules) }));
  if (!rules.budget) {
    // Drop the oldest lines until the summary fits, but always keep the last (the result).
    const texts = lines.map((l) => l.line);
    while (texts.length > 1 && Buffer.byteLength(texts.join('\n'), 'utf8') > maxBytes) texts.splice(0, 1);
    return texts.join('\n');
  }
  const { priority, order } = rules.budget;
  const chosen = new Set<(typeof lines)[number]>();
  let used = 0;
  for (const kind of priority)
    for (const entry of lines.filter((l) => l.kind === kind)) {
      const cost = Buffer.byteLength(entry.line, 'utf8') + 1;
      if (used + cost > maxBytes) continue;
      chosen.add(entry);
      used += cost;
    }
  return order
    .flatMap((kind) => lines.filter((l) => l.kind === kind && chosen.has(l)))
    .map((l) => l.line)
    .join('\n');
}

/** A mover's own summarize: `summarize` with its rules. */
export function summarizerOf(
  rules: SummaryRules,
): (log: string, redact?: (text: string) => string, maxBytes?: number) => string {
  return (log, redact, maxBytes) => summarize(log, rules, redact, maxBytes);
}

/**
 * A tool's most telling error line: the last `Fatal:`/`error:` line, else the last line;
 * `decode` reads a line the tool wrote as data (restic's JSON error objects) first.
 */
export function lastErrorLine(stderr: string, decode: (line: string) => string | undefined = () => undefined): string {
  const lines = stderr
    .split('\n')
    .map((line) => decode(line.trim()) ?? line.trim())
    .filter((line) => line !== '');
  return lines.findLast((line) => /^Fatal:|^error:|^Error:/i.test(line)) ?? lines.at(-1) ?? '(no output)';
}
