/** The text output of `kubectl scribe inspect`: where the CR is, how it got there, what it works on. */
import { renderTable } from './table.js';
import type { Inspection } from './view.js';

/** Renders an inspection for a terminal. */
export function renderText(i: Inspection): string {
  const parts: string[] = [];
  parts.push(`${i.kind} ${i.namespace}/${i.name}`);
  parts.push(`State:        ${i.state ?? '(not yet reconciled)'}`);
  parts.push(`States:       ${i.chart.states.map((s) => (s.key === i.state ? `[${s.key}]` : s.key)).join(' ')}`);
  if (i.lastSyncTime) parts.push(`Last sync:    ${i.lastSyncTime} (${i.lastSyncDuration ?? '?'})`);
  if (i.nextSyncTime) parts.push(`Next sync:    ${i.nextSyncTime}`);
  if (i.latestMoverStatus?.result) parts.push(`Last result:  ${i.latestMoverStatus.result}`);
  parts.push('');
  parts.push('Recent transitions:');
  parts.push(
    i.journal.length === 0
      ? '  (none)\n'
      : renderTable(
          ['TIME', 'FROM', 'TO', 'EVENT', 'REASON'],
          i.journal.map((j) => [j.time, j.from, j.to, j.event, j.reason ?? '']),
        ),
  );
  parts.push(`Objects of the current cycle${i.cycle.id ? ` (${i.cycle.id})` : ''}:`);
  const objects = Object.entries(i.cycle.objects);
  parts.push(objects.length === 0 ? '  (none)\n' : renderTable(['ROLE', 'NAME'], objects));
  parts.push('Conditions:');
  parts.push(
    i.conditions.length === 0
      ? '  (none)\n'
      : renderTable(
          ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
          i.conditions.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime, c.message]),
        ),
  );
  return parts.join('\n');
}
