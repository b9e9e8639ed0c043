/** Mermaid stateDiagram-v2 text of a state chart, for pasting into issues and docs. */
import type { Chart } from './chart.js';

/** Mermaid labels end at a newline and treat ':' and ';' specially; keep them plain. */
function label(text: string): string {
  return text.replace(/[\r\n:;#]+/g, ' ').trim();
}

/** Renders a chart as mermaid, the current state highlighted through a classDef. */
export function renderMermaid(chart: Chart, current?: string): string {
  const lines = ['stateDiagram-v2'];
  for (const s of chart.states) if (s.initial) lines.push(`    [*] --> ${s.key}`);
  for (const s of chart.states) lines.push(`    state "${s.key}" as ${s.key}`);
  for (const t of chart.transitions) lines.push(`    ${t.from} --> ${t.to}: ${label(t.label)}`);
  if (current && chart.states.some((s) => s.key === current)) {
    lines.push('    classDef current fill:#ffd54f,stroke:#c77c02,stroke-width:3px,font-weight:bold');
    lines.push(`    class ${current} current`);
  }
  return `${lines.join('\n')}\n`;
}
