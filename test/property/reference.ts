/**
 * A small reference model of the trigger rules (seed 2.1, decisions 1, 2, 14), written
 * independently of machines/: schedules are restricted to fixed periods so that the next sync is
 * plain arithmetic instead of cron evaluation.
 */
import type { TriggerFacts } from '../../machines/trigger.js';

export const SCHEDULES = ['*/1 * * * *', '*/5 * * * *', '*/15 * * * *', '*/30 * * * *', '@hourly'] as const;

/** The period of one of SCHEDULES in ms. */
export function periodOf(schedule: string): number {
  if (schedule === '@hourly') return 3_600_000;
  const minutes = Number(/^\*\/(\d+) /.exec(schedule)?.[1]);
  return minutes * 60_000;
}

/** First period boundary strictly after `t`. */
export function referenceNext(schedule: string, t: number): number {
  const period = periodOf(schedule);
  return (Math.floor(t / period) + 1) * period;
}

/** Whether a sync is due: paused never; first sync at once; manual while it differs; schedule at its next time; else always. */
export function referenceDue(facts: TriggerFacts, now: number): boolean {
  if (facts.paused) return false;
  if (facts.lastSyncTime === undefined) return true;
  if (facts.trigger?.manual !== undefined) return facts.trigger.manual !== facts.lastManualSync;
  if (facts.trigger?.schedule !== undefined) return now >= referenceNext(facts.trigger.schedule, facts.lastSyncTime);
  return true;
}
