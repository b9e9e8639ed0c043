/**
 * The state chart's layout, by the Eclipse Layout Kernel (elkjs): its layered algorithm with
 * orthogonal edges, the groups as compound nodes laid out with their contents, and every edge
 * label placed by ELK as a box of its own, so labels overlap neither edges, states nor each
 * other. Boxes and labels are sized here (text-width.ts) before layout. Layouts are kept by
 * input, since a machine's chart is the same for every CR; only step badges change a label.
 */
import type { ELK, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk.bundled.js';
import type { Drawing, DrawingEdge, DrawingGroup } from './drawing.js';
import { textWidth } from './text-width.js';

/** Font sizes (px) of the drawing, shared with svg.ts. */
export const FONT = { state: 13, detail: 11, label: 11, badge: 10, group: 11 } as const;
/** A state box is two lines: its name, and the time spent in it. */
export const STATE_HEIGHT = 42;
const STATE_MIN_WIDTH = 96;
/** Room for "99h59m" on the second line. */
const DETAIL_ROOM = textWidth('99h 59m 59s', FONT.detail);
const LABEL_HEIGHT = 18;
const LABEL_PAD = 4;
/** A step badge: a pill of numbers before the label text. */
export const BADGE_HEIGHT = 14;
const BADGE_GAP = 4;
const TITLE_ROOM = 28;
const titleWidth = (title: string) => textWidth(title, FONT.group, true) + 8;

/** A placed rectangle. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A placed state. */
export interface PlacedState extends Box {
  key: string;
}

/** A placed group box, with its title's box. */
export interface PlacedGroup extends Box {
  group: DrawingGroup;
  title: Box;
}

/** A placed edge: its polyline, and its label with room for the step badge. */
export interface PlacedEdge {
  edge: DrawingEdge;
  points: { x: number; y: number }[];
  label: Box;
  /** The badge's text ("2", "2 5"), when the edge carries steps. */
  badge?: string | undefined;
  badgeWidth: number;
}

/** A laid-out drawing. */
export interface Layout {
  width: number;
  height: number;
  states: PlacedState[];
  groups: PlacedGroup[];
  edges: PlacedEdge[];
}

let elk: Promise<ELK> | undefined;
/**
 * The layout engine, loaded on first use: commands that draw nothing (status, sync) do not pay
 * for it. A CommonJS module that is also its own `default`: `.default` is the constructor
 * however it is imported (Node, esbuild).
 */
function engine(): Promise<ELK> {
  elk ??= import('elkjs/lib/elk.bundled.js').then((m) => new m.default.default());
  return elk;
}
const cache = new Map<string, Promise<Layout>>();
const CACHE_LIMIT = 64;

/** The width of a step badge's pill. */
export function badgeWidth(badge: string | undefined): number {
  return badge ? textWidth(badge, FONT.badge, true) + 10 : 0;
}

/** The width of a state's box. */
export function stateWidth(key: string): number {
  return Math.max(STATE_MIN_WIDTH, textWidth(key, FONT.state, true) + 24, DETAIL_ROOM + 16);
}

const LAYOUT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.json.edgeCoords': 'ROOT',
  'elk.json.shapeCoords': 'ROOT',
  'elk.edgeLabels.inline': 'false',
  // The machine's own order of states and transitions shapes the picture, and keeps it stable.
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.crossingMinimization.forceNodeModelOrder': 'false',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.spacing.nodeNode': '28',
  'elk.layered.spacing.nodeNodeBetweenLayers': '28',
  'elk.spacing.edgeNode': '14',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.spacing.edgeEdge': '10',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '10',
  'elk.spacing.edgeLabel': '3',
  'elk.spacing.labelLabel': '4',
  'elk.padding': '[top=16,left=16,bottom=16,right=16]',
};

/** The ELK graph of a drawing. */
function elkGraphOf(drawing: Drawing, badges: ReadonlyMap<string, string>): ElkNode {
  const nodes = new Map<string, ElkNode>();
  const root: ElkNode = { id: 'root', layoutOptions: LAYOUT_OPTIONS, children: [], edges: [] };
  const childrenOf = (parent: string | undefined) => (parent ? nodes.get(parent) : root)?.children ?? root.children!;
  // Outer groups before inner ones (groups come larger first), states in the machine's order.
  for (const g of drawing.groups) {
    const node: ElkNode = {
      id: g.id,
      children: [],
      // The title goes in the top padding (TITLE_ROOM), which ELK keeps free of its content.
      layoutOptions: {
        'elk.padding': `[top=${TITLE_ROOM},left=12,bottom=${TITLE_ROOM},right=12]`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${titleWidth(g.title) + 16},40)`,
      },
    };
    nodes.set(g.id, node);
    childrenOf(g.parent).push(node);
  }
  for (const s of drawing.chart.states) {
    const node: ElkNode = { id: s.key, width: stateWidth(s.key), height: STATE_HEIGHT };
    nodes.set(s.key, node);
    childrenOf(drawing.parentOf.get(s.key)).push(node);
  }
  for (const e of drawing.edges) {
    const badge = badges.get(e.id);
    const width =
      textWidth(e.label, FONT.label, Boolean(badge)) + 2 * LAYOUT_PAD + (badge ? badgeWidth(badge) + BADGE_GAP : 0);
    const edge: ElkExtendedEdge = {
      id: e.id,
      sources: [e.from],
      targets: [e.to],
      labels: [
        {
          id: `${e.id}-label`,
          text: e.label,
          width,
          height: LABEL_HEIGHT,
          layoutOptions: { 'elk.edgeLabels.placement': 'CENTER' },
        },
      ],
    };
    root.edges!.push(edge);
  }
  return root;
}
const LAYOUT_PAD = LABEL_PAD;

/** Lays a drawing out; `badges` gives the step badge of edges that carry steps. */
export function layoutDrawing(drawing: Drawing, badges: ReadonlyMap<string, string> = new Map()): Promise<Layout> {
  const graph = elkGraphOf(drawing, badges);
  const key = JSON.stringify(graph);
  const known = cache.get(key);
  if (known) return known;
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  const made = engine()
    .then((e) => e.layout(graph))
    .then((laid: ElkNode) => placed(drawing, laid, badges));
  cache.set(key, made);
  made.catch(() => cache.delete(key));
  return made;
}

/**
 * ELK offsets an edge by half a pixel where it crosses a group's border (its hierarchical port):
 * such jogs are aligned so every segment stays horizontal or vertical.
 */
function straightened(points: readonly { x: number; y: number }[]): { x: number; y: number }[] {
  const out: { x: number; y: number }[] = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (!last) out.push({ ...p });
    else out.push({ x: Math.abs(p.x - last.x) < 1 ? last.x : p.x, y: Math.abs(p.y - last.y) < 1 ? last.y : p.y });
  }
  return out;
}

/** Reads ELK's answer back into the drawing's terms (coordinates are all the root's). */
function placed(drawing: Drawing, laid: ElkNode, badges: ReadonlyMap<string, string>): Layout {
  const boxes = new Map<string, Box>();
  const shape = (s: { x?: number; y?: number; width?: number; height?: number }): Box => ({
    x: s.x ?? 0,
    y: s.y ?? 0,
    width: s.width ?? 0,
    height: s.height ?? 0,
  });
  const walk = (node: ElkNode) => {
    for (const child of node.children ?? []) {
      boxes.set(child.id, shape(child));
      walk(child);
    }
  };
  walk(laid);
  const box = (id: string): Box => {
    const found = boxes.get(id);
    if (!found) throw new Error(`the layout lost ${id}`);
    return found;
  };
  const laidEdges = new Map((laid.edges ?? []).map((e) => [e.id, e]));
  const edges = drawing.edges.map((edge): PlacedEdge => {
    const e = laidEdges.get(edge.id);
    const points = straightened(
      (e?.sections ?? []).flatMap((s) => [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]),
    );
    const l = e?.labels?.[0];
    const badge = badges.get(edge.id);
    return {
      edge,
      points,
      label: { x: l?.x ?? 0, y: l?.y ?? 0, width: l?.width ?? 0, height: l?.height ?? 0 },
      badge,
      badgeWidth: badgeWidth(badge),
    };
  });
  return {
    width: Math.ceil(laid.width ?? 0),
    height: Math.ceil(laid.height ?? 0),
    states: drawing.chart.states.map((s) => ({ key: s.key, ...box(s.key) })),
    groups: titled(drawing, box, edges),
    edges,
  };
}

/** The groups with their titles placed, inner groups first (they have less room). */
function titled(drawing: Drawing, box: (id: string) => Box, edges: readonly PlacedEdge[]): PlacedGroup[] {
  const obstacles: Box[] = [
    ...edges.flatMap((e) => [e.label, ...e.points.slice(1).map((q, i) => segmentBox(e.points[i] ?? q, q))]),
    ...drawing.chart.states.map((s) => box(s.key)),
  ];
  const titles = new Map<string, Box>();
  for (const group of [...drawing.groups].reverse()) {
    const b = box(group.id);
    const inner = drawing.groups.filter((g) => g.parent === group.id).map((g) => box(g.id));
    const title = titleSpot(b, titleWidth(group.title), [...obstacles, ...inner]);
    titles.set(group.id, title);
    obstacles.push(title);
  }
  return drawing.groups.map((group) => ({ group, ...box(group.id), title: titles.get(group.id) as Box }));
}

const meets = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** A segment's bounding box, widened by a pixel so a line touching a title counts. */
function segmentBox(p: { x: number; y: number }, q: { x: number; y: number }): Box {
  return {
    x: Math.min(p.x, q.x) - 1,
    y: Math.min(p.y, q.y) - 1,
    width: Math.abs(p.x - q.x) + 2,
    height: Math.abs(p.y - q.y) + 2,
  };
}

/**
 * Where a group's title goes: the first free spot, reading its top padding, then its bottom one
 * (ELK keeps both free of the group's content), then the rest of the box row by row, that no
 * edge, label, state, inner box or other title touches.
 */
function titleSpot(group: Box, width: number, obstacles: readonly Box[]): Box {
  const free = (spot: Box) => !obstacles.some((o) => meets(o, spot));
  const rows = [group.y + 6, group.y + group.height - 22];
  for (let y = group.y + 24; y + 22 < group.y + group.height; y += 4) rows.push(y);
  for (const y of rows) {
    for (let x = group.x + 8; x + width <= group.x + group.width - 8; x += 2) {
      const spot = { x, y, width, height: 16 };
      if (free(spot)) return spot;
    }
  }
  return { x: group.x + 8, y: group.y + 6, width, height: 16 };
}

/** Where a label's text starts, after its badge. */
export function labelTextX(p: PlacedEdge): number {
  return p.label.x + LABEL_PAD + (p.badge ? p.badgeWidth + BADGE_GAP : 0);
}

/** Where a label's badge starts. */
export function badgeX(p: PlacedEdge): number {
  return p.label.x + LABEL_PAD;
}
