/** A self-contained SVG of a state chart: no fonts, scripts or links outside the file. */
import type { Chart } from './chart.js';
import { escapeXml } from './escape.js';
import { BOX_HEIGHT, BOX_WIDTH, layoutChart } from './layout.js';

/** Options of an SVG rendering. */
export interface SvgOptions {
  /** The state to highlight (status.state). */
  current?: string | undefined;
  title?: string | undefined;
}

/** Renders a chart as an SVG document; the current state carries class `current`. */
export function renderSvg(chart: Chart, options: SvgOptions = {}): string {
  const layout = layoutChart(chart);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" data-machine="${escapeXml(chart.id)}"${options.current ? ` data-current="${escapeXml(options.current)}"` : ''}>`,
  );
  out.push(`<title>${escapeXml(options.title ?? `${chart.id} state chart`)}</title>`);
  // Generic font families only: the file must render the same offline on any machine.
  out.push(
    '<style>' +
      'text{font-family:sans-serif;font-size:13px;fill:#1f2933}' +
      '.edge{fill:none;stroke:#7b8794;stroke-width:1.2}' +
      '.edge-label{font-size:10px;fill:#52606d;paint-order:stroke;stroke:#fff;stroke-width:3px}' +
      '.state rect{fill:#f5f7fa;stroke:#3e4c59;stroke-width:1.5}' +
      '.state.initial rect{stroke-width:3}' +
      '.state.current rect{fill:#ffd54f;stroke:#c77c02;stroke-width:3}' +
      '.state.current text{font-weight:bold}' +
      '</style>',
  );
  out.push(
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/></marker></defs>',
  );
  out.push('<g class="edges">');
  for (const p of layout.transitions) {
    const t = p.transition;
    out.push(
      `<g class="transition" data-from="${escapeXml(t.from)}" data-to="${escapeXml(t.to)}">` +
        `<title>${escapeXml(`${t.from} → ${t.to}: ${t.guard ?? t.event}${t.why ? ` (${t.why})` : ''}`)}</title>` +
        `<path class="edge" d="${p.path}" marker-end="url(#arrow)"/>` +
        `<text class="edge-label" x="${p.labelX}" y="${p.labelY}" text-anchor="${p.labelAnchor}">${escapeXml(t.label)}</text>` +
        '</g>',
    );
  }
  out.push('</g><g class="states">');
  const initial = new Set(chart.states.filter((s) => s.initial).map((s) => s.key));
  for (const s of layout.states) {
    const classes = ['state', initial.has(s.key) ? 'initial' : '', s.key === options.current ? 'current' : '']
      .filter(Boolean)
      .join(' ');
    out.push(
      `<g class="${classes}" id="state-${escapeXml(s.key)}" data-state="${escapeXml(s.key)}">` +
        `<rect x="${s.x}" y="${s.y}" width="${BOX_WIDTH}" height="${BOX_HEIGHT}" rx="10" ry="10"/>` +
        `<text x="${s.x + BOX_WIDTH / 2}" y="${s.y + BOX_HEIGHT / 2 + 5}" text-anchor="middle">${escapeXml(s.key)}</text>` +
        '</g>',
    );
  }
  out.push('</g></svg>');
  return out.join('\n');
}
