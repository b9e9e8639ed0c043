/**
 * A small layered layout for state charts: states in layers top to bottom, forward transitions
 * downwards, transitions back up (retries, returning to idle) bent around the right side.
 * Deterministic, so the same machine always gives the same picture.
 */
import type { Chart, ChartTransition } from './chart.js';

export const BOX_WIDTH = 150;
export const BOX_HEIGHT = 40;
const LAYER_GAP = 70;
const COLUMN_GAP = 60;
const MARGIN = 30;
/** Room on each side for bent transitions and their labels. */
const SIDE_ROOM = 260;

/** A placed state: top-left corner. */
export interface PlacedState {
  key: string;
  x: number;
  y: number;
  layer: number;
}

/** A placed transition: an SVG path and where its label goes. */
export interface PlacedTransition {
  transition: ChartTransition;
  path: string;
  labelX: number;
  labelY: number;
  labelAnchor: 'start' | 'middle' | 'end';
}

/** A laid-out chart. */
export interface Layout {
  width: number;
  height: number;
  states: PlacedState[];
  transitions: PlacedTransition[];
}

/**
 * Layers: depth along the tree of a depth-first walk from the initial state (targets visited in
 * definition order, so the machine's own ordering shapes the main path). States entered from
 * at least three quarters of the others (invalid, external: "from anywhere") share one layer at the bottom,
 * so they do not stretch the main path.
 */
export function layersOf(chart: Chart): Map<string, number> {
  const order = new Map(chart.states.map((s, i) => [s.key, i]));
  const targets = new Map<string, string[]>();
  const sources = new Map<string, Set<string>>();
  for (const s of chart.states) {
    targets.set(s.key, []);
    sources.set(s.key, new Set());
  }
  for (const t of chart.transitions) {
    const list = targets.get(t.from);
    if (list && !list.includes(t.to)) list.push(t.to);
    if (t.from !== t.to) sources.get(t.to)?.add(t.from);
  }
  const initial = chart.states.find((s) => s.initial) ?? chart.states[0];
  const global = new Set(
    chart.states
      .filter((s) => s !== initial && (sources.get(s.key)?.size ?? 0) * 4 >= (chart.states.length - 1) * 3)
      .map((s) => s.key),
  );
  for (const list of targets.values()) list.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  const layer = new Map<string, number>();
  const visit = (key: string, depth: number) => {
    layer.set(key, depth);
    for (const next of targets.get(key) ?? []) {
      if (!layer.has(next) && !global.has(next)) visit(next, depth + 1);
    }
  };
  if (initial) visit(initial.key, 0);
  for (const s of chart.states) if (!layer.has(s.key) && !global.has(s.key)) visit(s.key, 0);
  const bottom = Math.max(-1, ...layer.values()) + 1;
  for (const key of global) layer.set(key, bottom);
  return layer;
}

/** Lays a chart out. */
export function layoutChart(chart: Chart): Layout {
  const layers = layersOf(chart);
  const rows = new Map<number, string[]>();
  for (const s of chart.states) {
    const l = layers.get(s.key) ?? 0;
    rows.set(l, [...(rows.get(l) ?? []), s.key]);
  }
  const widest = Math.max(1, ...[...rows.values()].map((r) => r.length));
  const coreWidth = widest * BOX_WIDTH + (widest - 1) * COLUMN_GAP;
  const left = MARGIN + SIDE_ROOM;
  const placed = new Map<string, PlacedState>();
  for (const [layer, keys] of rows) {
    const rowWidth = keys.length * BOX_WIDTH + (keys.length - 1) * COLUMN_GAP;
    keys.forEach((key, i) => {
      const x = left + (coreWidth - rowWidth) / 2 + i * (BOX_WIDTH + COLUMN_GAP);
      placed.set(key, { key, x, y: MARGIN + layer * (BOX_HEIGHT + LAYER_GAP), layer });
    });
  }
  const layerCount = Math.max(0, ...layers.values()) + 1;
  const height = MARGIN * 2 + layerCount * BOX_HEIGHT + (layerCount - 1) * LAYER_GAP;
  const width = left + coreWidth + SIDE_ROOM + MARGIN;
  const sideCount = { left: 0, right: 0 };
  const transitions = chart.transitions.map((t): PlacedTransition => {
    const a = placed.get(t.from);
    const b = placed.get(t.to);
    if (!a || !b) throw new Error(`transition ${t.from} → ${t.to} names an unknown state`);
    if (b.layer === a.layer + 1) {
      const x1 = a.x + BOX_WIDTH / 2;
      const y1 = a.y + BOX_HEIGHT;
      const x2 = b.x + BOX_WIDTH / 2;
      const y2 = b.y;
      return {
        transition: t,
        path: `M${x1},${y1} L${x2},${y2}`,
        labelX: (x1 + x2) / 2 + 6,
        labelY: (y1 + y2) / 2 + 4,
        labelAnchor: 'start',
      };
    }
    // Long jumps down bend left, everything going up or sideways bends right.
    const side = b.layer > a.layer ? 'left' : 'right';
    const n = sideCount[side]++;
    const bulge = 50 + (n % 8) * 22;
    const sx = side === 'left' ? a.x : a.x + BOX_WIDTH;
    const tx = side === 'left' ? b.x : b.x + BOX_WIDTH;
    const sy = a.y + BOX_HEIGHT / 2 + ((n % 3) - 1) * 8;
    const ty = b.y + BOX_HEIGHT / 2 + ((n % 3) - 1) * 8;
    const cx = side === 'left' ? Math.min(sx, tx) - bulge : Math.max(sx, tx) + bulge;
    const path = `M${sx},${sy} C${cx},${sy} ${cx},${ty} ${tx},${ty}`;
    // The curve's midpoint (t = 1/2 of the cubic Bézier).
    const mx = 0.125 * sx + 0.75 * cx + 0.125 * tx;
    const my = (sy + ty) / 2;
    return {
      transition: t,
      path,
      labelX: side === 'left' ? mx - 4 : mx + 4,
      labelY: my + 4,
      labelAnchor: side === 'left' ? 'end' : 'start',
    };
  });
  return { width, height, states: [...placed.values()], transitions };
}
