/** The text output of `kubectl scribe inspect`: where the CR is, how it got there, what it works on. */
import { drawingOf, edgeOfEntry } from './drawing.js';
import { renderTable } from './table.js';
import { formatStay } from './trail.js';
import type { Inspection } from './view.js';

/**
 * The state chart as text: the boxes (a transition from or to a box stands for all its states),
 * then every drawn transition, those of this cycle with their step numbers, failures marked.
 */
export function renderChartText(i: Inspection): string {
  const drawing = drawingOf(i.chart);
  const titles = new Map(drawing.groups.map((g) => [g.id, `(${g.title})`]));
  const name = (key: string) => titles.get(key) ?? key;
  const stepsOf = new Map<string, string[]>();
  const failures = new Set<string>();
  for (const step of i.trail.steps) {
    const edge = edgeOfEntry(drawing, step);
    if (!edge) continue;
    stepsOf.set(edge.id, [...(stepsOf.get(edge.id) ?? []), String(step.step)]);
    if (step.failure) failures.add(edge.id);
  }
  const lines: string[] = [];
  for (const g of drawing.groups) lines.push(`  ${name(g.id)}: ${g.states.join(' ')}`);
  lines.push('');
  const rows = drawing.edges.map((e) => [
    stepsOf.get(e.id)?.join(',') ?? '',
    name(e.from),
    name(e.to),
    `${e.label}${failures.has(e.id) ? '   <- failed attempt' : ''}`,
  ]);
  lines.push(
    renderTable(['STEP', 'FROM', 'TO', 'WHEN'], rows)
      .split('\n')
      .map((l) => (l ? `  ${l}` : l))
      .join('\n'),
  );
  return lines.join('\n');
}

/** Renders an inspection for a terminal. */
export function renderText(i: Inspection): string {
  const parts: string[] = [];
  parts.push(`${i.kind} ${i.namespace}/${i.name}`);
  parts.push(`State:        ${i.state ?? '(not yet reconciled)'}`);
  const stay = (key: string) => (i.trail.timeIn[key] === undefined ? '' : ` (${formatStay(i.trail.timeIn[key])})`);
  parts.push(
    `States:       ${i.chart.states.map((s) => `${s.key === i.state ? `[${s.key}]` : s.key}${stay(s.key)}`).join(' ')}`,
  );
  if (i.lastSyncTime) parts.push(`Last sync:    ${i.lastSyncTime} (${i.lastSyncDuration ?? '?'})`);
  if (i.nextSyncTime) parts.push(`Next sync:    ${i.nextSyncTime}`);
  if (i.latestMoverStatus?.result) parts.push(`Last result:  ${i.latestMoverStatus.result}`);
  parts.push('');
  parts.push('State chart (STEP: the steps of the current or last cycle, in order):');
  parts.push(renderChartText(i));
  parts.push('This cycle:');
  parts.push(
    tableOrNone(
      ['STEP', 'FROM', 'TO', 'REASON', 'STAYED'],
      i.trail.steps.map((t) => [
        String(t.step),
        t.from,
        `${t.to}${t.failure ? ' (failed attempt)' : ''}`,
        t.reason ?? '',
        t.stay ?? '',
      ]),
    ),
  );
  parts.push('Recent transitions:');
  parts.push(
    tableOrNone(
      ['TIME', 'FROM', 'TO', 'EVENT', 'REASON'],
      i.journal.map((j) => [j.time, j.from, j.to, j.event, j.reason ?? '']),
    ),
  );
  parts.push(`Objects of the current cycle${i.cycle.id ? ` (${i.cycle.id})` : ''}:`);
  parts.push(tableOrNone(['ROLE', 'NAME'], Object.entries(i.cycle.objects)));
  parts.push('Conditions:');
  parts.push(
    tableOrNone(
      ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
      i.conditions.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime, c.message]),
    ),
  );
  return parts.join('\n');
}

/** A table of `rows`, or a line saying there are none (a table of headers alone says nothing). */
function tableOrNone(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return rows.length === 0 ? '  (none)\n' : renderTable(headers, rows);
}
