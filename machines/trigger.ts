/**
 * Trigger semantics (seed 2.1 and decisions 1, 2, 5, 14) as pure functions of the spec, the
 * persisted facts and a time passed in. No clock is read here.
 */
import { CronExpressionParser } from 'cron-parser';
import type { Trigger } from './api.js';

export { formatGoDuration, formatGoDurationMs } from './duration.js';

const SCHEDULE_FIELD = 'spec.trigger.schedule';

/** The @-descriptors we accept, as 5-field expressions (decision 5; @annually/@midnight as cron(8) spells them). */
const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Largest value of each field, to reject steps that can never repeat (a step of 61 minutes). */
const FIELD_LIMITS: readonly { name: string; span: number }[] = [
  { name: 'minute', span: 60 },
  { name: 'hour', span: 24 },
  { name: 'day-of-month', span: 31 },
  { name: 'month', span: 12 },
  { name: 'day-of-week', span: 7 },
];

/** A parsed schedule: the normalised 5-field expression, or why it is refused. */
export type ParsedSchedule = { ok: true; expression: string } | { ok: false; message: string };

/** Parses spec.trigger.schedule: 5-field cron or an @-descriptor, spaces trimmed, UTC (decision 5). */
export function parseSchedule(schedule: string): ParsedSchedule {
  const trimmed = schedule.trim();
  const refuse = (why: string): ParsedSchedule => ({ ok: false, message: `${SCHEDULE_FIELD}: ${why}` });
  if (trimmed.startsWith('@')) {
    const expression = DESCRIPTORS[trimmed.toLowerCase()];
    return expression
      ? { ok: true, expression }
      : refuse(`unknown descriptor "${trimmed}"; use @hourly, @daily, @weekly, @monthly or @yearly`);
  }
  const fields = trimmed.split(/\s+/).filter((f) => f !== '');
  if (fields.length === 6) {
    // The seed's own 6-field examples contradict their comments (decision 5), so say so plainly.
    return refuse(
      `"${trimmed}" has 6 fields; 6-field expressions (with seconds) are not supported: use 5 fields (minute hour day-of-month month day-of-week)`,
    );
  }
  if (fields.length !== 5) {
    return refuse(`"${trimmed}" must have 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}`);
  }
  if (
    fields.some((f) =>
      /h/i.test(f.replace(/(mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)/gi, '')),
    )
  ) {
    // cron-parser's H picks a random minute; a schedule must mean the same thing to every reader.
    return refuse(`"${trimmed}": the H (hash) character is not supported`);
  }
  for (const [i, field] of fields.entries()) {
    const limit = FIELD_LIMITS[i];
    for (const step of field.matchAll(/\/(\d+)/g)) {
      if (limit && Number(step[1]) > limit.span) {
        return refuse(`"${trimmed}": step /${step[1]} is larger than the ${limit.name} field's range`);
      }
    }
  }
  const expression = fields.join(' ');
  try {
    // currentDate is given so that parsing never reads the clock.
    CronExpressionParser.parse(expression, { currentDate: new Date(0), tz: 'UTC' }).next();
  } catch (err) {
    return refuse(`"${trimmed}" is not a valid cron expression: ${(err as Error).message}`);
  }
  return { ok: true, expression };
}

/** The first time strictly after `after` (epoch ms) matching a normalised expression; undefined if none. */
export function nextCronTime(expression: string, after: number): number | undefined {
  try {
    return CronExpressionParser.parse(expression, { currentDate: new Date(after), tz: 'UTC' })
      .next()
      .getTime();
  } catch {
    return undefined;
  }
}

/** The kind of trigger in force: manual wins over schedule; neither means always (seed 2.1). */
export type TriggerKind = 'manual' | 'schedule' | 'always';

/** Which trigger rules apply to a spec.trigger (manual wins; schedule is paused while manual is set). */
export function triggerKind(trigger: Trigger | undefined): TriggerKind {
  if (trigger?.manual !== undefined) return 'manual';
  if (trigger?.schedule !== undefined) return 'schedule';
  return 'always';
}

/** The spec and persisted facts that decide whether a sync is due. */
export interface TriggerFacts {
  trigger?: Trigger | undefined;
  paused?: boolean | undefined;
  /** status.lastSyncTime: when the previous sync completed; absent for a CR that never synced. */
  lastSyncTime?: number | undefined;
  lastManualSync?: string | undefined;
}

/** Whether a sync should start now, and why (or why not). */
export type SyncDecision =
  | { due: true; reason: 'firstSync' | 'manual' | 'schedule' | 'always' }
  | { due: false; reason: 'paused' | 'waitingForManual' | 'invalidSchedule' }
  | { due: false; reason: 'waitingForSchedule'; nextSyncTime: number };

/** Decides whether a new sync is due at `now` (decisions 1, 2, 14). Only meaningful while no sync runs. */
export function decideSync(facts: TriggerFacts, now: number): SyncDecision {
  if (facts.paused === true) return { due: false, reason: 'paused' };
  // Decision 2: the first sync is immediate whatever the trigger.
  if (facts.lastSyncTime === undefined) return { due: true, reason: 'firstSync' };
  switch (triggerKind(facts.trigger)) {
    case 'manual':
      return facts.trigger?.manual !== facts.lastManualSync
        ? { due: true, reason: 'manual' }
        : { due: false, reason: 'waitingForManual' };
    case 'schedule': {
      const next = nextSyncAfter(facts.trigger?.schedule ?? '', facts.lastSyncTime);
      if (next === undefined) return { due: false, reason: 'invalidSchedule' };
      return now >= next
        ? { due: true, reason: 'schedule' }
        : { due: false, reason: 'waitingForSchedule', nextSyncTime: next };
    }
    case 'always':
      return { due: true, reason: 'always' };
  }
}

/** Decision 14: the next sync is the first cron time after the previous completion (not a catch-up run). */
export function nextSyncAfter(schedule: string, lastSyncTime: number): number | undefined {
  const parsed = parseSchedule(schedule);
  return parsed.ok ? nextCronTime(parsed.expression, lastSyncTime) : undefined;
}

/** status.nextSyncTime: set only for an unpaused schedule (decision 2); absent for manual and always. */
export function nextSyncTimeFor(facts: TriggerFacts): number | undefined {
  if (facts.paused === true || triggerKind(facts.trigger) !== 'schedule') return undefined;
  // A CR that never synced is due at once (decision 2): there is no next time to show yet.
  if (facts.lastSyncTime === undefined) return undefined;
  return nextSyncAfter(facts.trigger?.schedule ?? '', facts.lastSyncTime);
}

/**
 * Decision 14: the deadline after which a sync counts as missed and the volume as out of sync:
 * the second cron time following the previous completion. Undefined without a usable schedule.
 */
export function outOfSyncDeadline(schedule: string, lastSyncTime: number): number | undefined {
  const parsed = parseSchedule(schedule);
  if (!parsed.ok) return undefined;
  const first = nextCronTime(parsed.expression, lastSyncTime);
  return first === undefined ? undefined : nextCronTime(parsed.expression, first);
}

/** Decision 14: a sync completing at `completedAt` missed an interval if it ended after the deadline. */
export function isMissedInterval(
  schedule: string,
  previousCompletion: number | undefined,
  completedAt: number,
): boolean {
  if (previousCompletion === undefined) return false;
  const deadline = outOfSyncDeadline(schedule, previousCompletion);
  return deadline !== undefined && completedAt > deadline;
}

/**
 * Whether scribe_volume_out_of_sync is 1: schedules only; before the first sync has completed
 * (nothing is in sync yet), past the deadline, or while an error prevents syncing (decision 8).
 */
export function isOutOfSync(facts: TriggerFacts, now: number, errorPreventsSync: boolean): boolean {
  if (triggerKind(facts.trigger) !== 'schedule') return false;
  if (errorPreventsSync) return true;
  if (facts.lastSyncTime === undefined) return true;
  const deadline = outOfSyncDeadline(facts.trigger?.schedule ?? '', facts.lastSyncTime);
  return deadline !== undefined && now >= deadline;
}
