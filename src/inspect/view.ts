/** What inspection shows of one CR: its place in the chart, its journal, its cycle, its conditions. */
import type { ScribeCr } from '../../machines/api.js';
import { chartOf, type Chart } from './chart.js';

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
}

/** Builds the inspection of a CR against the machine's chart. */
export function inspectionOf(cr: ScribeCr, chart: Chart = chartOf()): Inspection {
  const status = cr.status ?? {};
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
  };
}

/** The inspection as pretty JSON. */
export function renderJson(inspection: Inspection): string {
  return `${JSON.stringify(inspection, null, 2)}\n`;
}
