/** What inspection shows of one CR: its place in the chart, its journal, its cycle, its conditions. */
import type { ScribeCr } from '../../machines/api.js';
import { formatTimestamp } from '../../machines/time.js';
import { chartOf, type Chart } from './chart.js';
import { formatStay, trailOf, type TrailStep } from './trail.js';

/** The inspection of one CR; also the JSON output and the /debug JSON endpoint. */
export interface Inspection {
  kind: string;
  namespace: string;
  name: string;
  /** status.state, or undefined before the operator has written one. */
  state: string | undefined;
  chart: Chart;
  journal: { time: string; event: string; from: string; to: string; reason?: string | undefined }[];
  cycle: { id?: string | undefined; attempt?: number | undefined; objects: Record<string, string> };
  conditions: { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[];
  lastSyncTime?: string | undefined;
  lastSyncDuration?: string | undefined;
  nextSyncTime?: string | undefined;
  latestMoverStatus?: { result?: string | undefined; logs?: string | undefined } | undefined;
  /** When this inspection was made: the state the CR is in is timed until then. */
  inspectedAt: string;
  /** The current or last cycle, step by step (trail.ts), each stay also as text. */
  trail: { steps: (TrailStep & { stay?: string | undefined })[]; timeIn: Record<string, number> };
}

/** Builds the inspection of a CR against the machine's chart, at `now` (ms). */
export function inspectionOf(cr: ScribeCr, chart: Chart = chartOf(), now: number = Date.now()): Inspection {
  const status = cr.status ?? {};
  const trail = trailOf(status.journal ?? [], now);
  return {
    kind: cr.kind,
    namespace: cr.metadata.namespace ?? '',
    name: cr.metadata.name ?? '',
    state: status.state,
    chart,
    journal: [...(status.journal ?? [])],
    cycle: { id: status.cycle?.id, attempt: status.cycle?.attempt, objects: { ...(status.cycle?.objects ?? {}) } },
    conditions: (status.conditions ?? []).map((c) => ({
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      lastTransitionTime: c.lastTransitionTime,
    })),
    lastSyncTime: status.lastSyncTime,
    lastSyncDuration: status.lastSyncDuration,
    nextSyncTime: status.nextSyncTime,
    latestMoverStatus: status.latestMoverStatus,
    inspectedAt: formatTimestamp(now),
    trail: {
      steps: trail.steps.map((t) => ({ ...t, stay: t.stayedMs === undefined ? undefined : formatStay(t.stayedMs) })),
      timeIn: trail.timeIn,
    },
  };
}

/** The inspection as pretty JSON. */
export function renderJson(inspection: Inspection): string {
  return `${JSON.stringify(inspection, null, 2)}\n`;
}
