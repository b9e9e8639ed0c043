/**
 * Where a CR has been: the steps of its current (or last) cycle read from its journal, numbered
 * in order, with how long it stayed in each state. A cycle starts when the CR leaves idle; a
 * journal that has no departure from idle (new, or a cycle longer than the journal keeps) is
 * read whole.
 */

/** A journal entry, as status.journal keeps it. */
export interface JournalLine {
  time: string;
  event: string;
  from: string;
  to: string;
  reason?: string | undefined;
}

/** One step of the trail. */
export interface TrailStep extends JournalLine {
  /** 1 for the cycle's first transition. */
  step: number;
  /** How long the CR stayed in `to`: until the next step, or until `now` for the last. */
  stayedMs?: number | undefined;
  /** A failed attempt: the transition into `failed`. */
  failure: boolean;
}

/** The trail of a cycle. */
export interface Trail {
  steps: TrailStep[];
  /** Time spent in each state during the cycle (a state entered twice adds up). */
  timeIn: Record<string, number>;
}

/** The trail of the current or last cycle; `now` (ms) times the state the CR is in. */
export function trailOf(journal: readonly JournalLine[], now?: number): Trail {
  let start = 0;
  for (let i = journal.length - 1; i >= 0; i--) {
    if (journal[i]?.from === 'idle') {
      start = i;
      break;
    }
  }
  const lines = journal.slice(start);
  const timeIn: Record<string, number> = {};
  const steps = lines.map((line, i): TrailStep => {
    const entered = Date.parse(line.time);
    const next = lines[i + 1];
    const left = next ? Date.parse(next.time) : now;
    const stayedMs =
      left === undefined || Number.isNaN(entered) || Number.isNaN(left) ? undefined : Math.max(0, left - entered);
    if (stayedMs !== undefined) timeIn[line.to] = (timeIn[line.to] ?? 0) + stayedMs;
    return { ...line, step: i + 1, stayedMs, failure: line.to === 'failed' };
  });
  return { steps, timeIn };
}

/** A duration for people: 850ms, 12s, 3m 20s, 1h 5m. */
export function formatStay(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}
