/**
 * A self-contained SVG of a state chart (no fonts, scripts or links outside the file), laid out
 * by layout.ts. With a CR's journal it shows where the CR has been: the edges of its current or
 * last cycle in colour with their step numbers, the failed attempt's edge in red, and the time
 * spent in each state under its name.
 */
import type { Chart } from './chart.js';
import { drawingOf, edgeOfEntry, type Drawing } from './drawing.js';
import { escapeXml as esc } from './escape.js';
import { BADGE_HEIGHT, badgeX, FONT, labelTextX, layoutDrawing, type PlacedEdge } from './layout.js';
import { formatStay, trailOf, type JournalLine, type Trail } from './trail.js';

/** Options of an SVG rendering. */
export interface SvgOptions {
  /** The state to highlight (status.state). */
  current?: string | undefined;
  title?: string | undefined;
  /** status.journal: its current or last cycle is drawn as numbered steps. */
  journal?: readonly JournalLine[] | undefined;
  /** The time (ms) the state the CR is in is timed until; without it, that state says "now". */
  now?: number | undefined;
}

const STYLE =
  'text{font-family:sans-serif;fill:#1f2933}' +
  '.group rect{fill:none;stroke:#9aa5b1;stroke-dasharray:5 3;stroke-width:1.2}' +
  `.group text{font-size:${FONT.group}px;font-weight:bold;fill:#616e7c}` +
  '.edge{fill:none;stroke:#9aa5b1;stroke-width:1.2}' +
  '.transition.taken .edge{stroke:#1f6feb;stroke-width:2.4}' +
  '.transition.failure .edge{stroke:#d64545;stroke-width:2.4}' +
  '.edge-label rect.back{fill:#fff;fill-opacity:.92;stroke:none}' +
  `.edge-label text{font-size:${FONT.label}px;fill:#52606d}` +
  '.edge-label.taken text.label{fill:#0b3d91;font-weight:bold}' +
  '.edge-label.failure text.label{fill:#a61b1b;font-weight:bold}' +
  '.badge rect{fill:#1f6feb}.edge-label.failure .badge rect{fill:#d64545}' +
  `.badge text{font-size:${FONT.badge}px;font-weight:bold;fill:#fff}` +
  '.state rect{fill:#f5f7fa;stroke:#3e4c59;stroke-width:1.5}' +
  '.state.initial rect{stroke-width:3}' +
  '.state.visited rect{fill:#e3f0ff;stroke:#1f6feb}' +
  '.state.current rect{fill:#ffd54f;stroke:#c77c02;stroke-width:3}' +
  `.state text.name{font-size:${FONT.state}px;font-weight:bold}` +
  `.state text.stay{font-size:${FONT.detail}px;fill:#52606d}`;

const MARKERS = [
  ['arrow', '#9aa5b1'],
  ['arrow-taken', '#1f6feb'],
  ['arrow-failure', '#d64545'],
]
  .map(
    ([id, fill]) =>
      `<marker id="${id}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${fill}"/></marker>`,
  )
  .join('');

/** The steps each drawn edge carries, and whether one of them is a failure. */
function stepsByEdge(drawing: Drawing, trail: Trail) {
  const byEdge = new Map<string, { steps: number[]; failure: boolean }>();
  for (const step of trail.steps) {
    const edge = edgeOfEntry(drawing, step);
    if (!edge) continue;
    const found = byEdge.get(edge.id) ?? { steps: [], failure: false };
    found.steps.push(step.step);
    found.failure ||= step.failure;
    byEdge.set(edge.id, found);
  }
  return byEdge;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** Renders a chart as an SVG document; the current state carries class `current`. */
export async function renderSvg(chart: Chart, options: SvgOptions = {}): Promise<string> {
  const drawing = drawingOf(chart);
  const trail = trailOf(options.journal ?? [], options.now);
  const taken = stepsByEdge(drawing, trail);
  const badges = new Map([...taken].map(([id, t]) => [id, t.steps.join(' ')]));
  const layout = await layoutDrawing(drawing, badges);
  const visited = new Set(trail.steps.map((s) => s.to));
  const out: string[] = [];
  const trailAttr = trail.steps.map((s) => `${s.from}>${s.to}`).join(' ');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" data-machine="${esc(chart.id)}"${options.current ? ` data-current="${esc(options.current)}"` : ''} data-trail="${esc(trailAttr)}">`,
  );
  out.push(`<title>${esc(options.title ?? `${chart.id} state chart`)}</title>`);
  out.push(`<style>${STYLE}</style><defs>${MARKERS}</defs>`);
  out.push('<g class="groups">');
  for (const g of layout.groups) {
    out.push(
      `<g class="group" data-group="${esc(g.group.id)}" data-states="${esc(g.group.states.join(' '))}"><title>${esc(`${g.group.title}: ${g.group.note}`)}</title><rect x="${round(g.x)}" y="${round(g.y)}" width="${round(g.width)}" height="${round(g.height)}" rx="12" ry="12"/>` +
        `<text class="title" x="${round(g.title.x + 4)}" y="${round(g.title.y + 12)}">${esc(g.group.title)}</text></g>`,
    );
  }
  out.push('</g><g class="edges">');
  const classOf = (p: PlacedEdge) => {
    const t = taken.get(p.edge.id);
    return t ? (t.failure ? ' taken failure' : ' taken') : '';
  };
  for (const p of layout.edges) {
    const t = taken.get(p.edge.id);
    const marker = t ? (t.failure ? 'arrow-failure' : 'arrow-taken') : 'arrow';
    const d = p.points.map((pt, i) => `${i === 0 ? 'M' : 'L'}${round(pt.x)},${round(pt.y)}`).join(' ');
    const what = p.edge.transitions
      .map((tr) => `${tr.from} → ${tr.to}: ${tr.guard ?? tr.event}${tr.why ? ` (${tr.why})` : ''}`)
      .join('\n');
    out.push(
      `<g class="transition${classOf(p)}" data-edge="${p.edge.id}" data-from="${esc(p.edge.from)}" data-to="${esc(p.edge.to)}"${t ? ` data-steps="${t.steps.join(' ')}"` : ''}>` +
        `<title>${esc(what)}</title><path class="edge" d="${d}" marker-end="url(#${marker})"/></g>`,
    );
  }
  out.push('</g><g class="states">');
  const initial = new Set(chart.states.filter((s) => s.initial).map((s) => s.key));
  for (const s of layout.states) {
    const isCurrent = s.key === options.current;
    const classes = ['state', initial.has(s.key) ? 'initial' : '', visited.has(s.key) ? 'visited' : '']
      .concat(isCurrent ? ['current'] : [])
      .filter(Boolean)
      .join(' ');
    const spent = trail.timeIn[s.key];
    const stay = spent !== undefined ? formatStay(spent) : isCurrent && visited.has(s.key) ? 'now' : '';
    const cx = round(s.x + s.width / 2);
    out.push(
      `<g class="${classes}" id="state-${esc(s.key)}" data-state="${esc(s.key)}">` +
        `<rect x="${round(s.x)}" y="${round(s.y)}" width="${round(s.width)}" height="${round(s.height)}" rx="10" ry="10"/>` +
        `<text class="name" x="${cx}" y="${round(s.y + (stay ? 18 : s.height / 2 + 5))}" text-anchor="middle">${esc(s.key)}</text>` +
        (stay ? `<text class="stay" x="${cx}" y="${round(s.y + 34)}" text-anchor="middle">${esc(stay)}</text>` : '') +
        '</g>',
    );
  }
  out.push('</g><g class="labels">');
  for (const p of layout.edges) {
    const t = taken.get(p.edge.id);
    const l = p.label;
    const middle = l.y + l.height / 2;
    out.push(
      `<g class="edge-label${classOf(p)}" data-edge="${p.edge.id}"${t ? ` data-steps="${t.steps.join(' ')}"` : ''}>` +
        `<rect class="back" x="${round(l.x)}" y="${round(l.y)}" width="${round(l.width)}" height="${round(l.height)}" rx="3" ry="3"/>` +
        (p.badge
          ? `<g class="badge"><rect x="${round(badgeX(p))}" y="${round(middle - BADGE_HEIGHT / 2)}" width="${p.badgeWidth}" height="${BADGE_HEIGHT}" rx="7" ry="7"/>` +
            `<text x="${round(badgeX(p) + p.badgeWidth / 2)}" y="${round(middle + 3.5)}" text-anchor="middle">${esc(p.badge)}</text></g>`
          : '') +
        `<text class="label" x="${round(labelTextX(p))}" y="${round(middle + 4)}">${esc(p.edge.label)}</text></g>`,
    );
  }
  out.push('</g></svg>');
  return out.join('\n');
}
