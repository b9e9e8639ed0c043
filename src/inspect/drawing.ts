/**
 * What the state chart draws, before layout: the states, the boxes that group them, and the
 * edges. Transitions that leave every state of a set for the same target with the same label
 * (invalid spec, external) are drawn once from a box around that set, and transitions from one
 * state to every state of a set with the same label (spec fixed, no longer external, retry) are
 * drawn once to a box around it, as Stately's visualiser draws a parent state's transitions.
 * The sets are found in the chart, not named here, so the picture follows the machine.
 */
import type { Chart, ChartTransition } from './chart.js';

/** A box around a set of states; `parent` is the smallest box around it, if any. */
export interface DrawingGroup {
  id: string;
  title: string;
  /** What an edge from or to the box means, for a tooltip. */
  note: string;
  states: string[];
  parent?: string | undefined;
}

/** One drawn edge: one transition, or several drawn once from or to a group. */
export interface DrawingEdge {
  id: string;
  /** A state key or a group id. */
  from: string;
  to: string;
  label: string;
  transitions: ChartTransition[];
}

/** The chart as drawn. */
export interface Drawing {
  chart: Chart;
  groups: DrawingGroup[];
  edges: DrawingEdge[];
  /** The group (or undefined: the top) each state is drawn in. */
  parentOf: Map<string, string | undefined>;
}

/** A set this small is not worth a box. */
const MIN_GROUP = 3;

const setKey = (states: Iterable<string>) => [...states].sort().join(' ');

/** Transitions gathered by a key, in chart order. */
function gather(transitions: readonly ChartTransition[], keyOf: (t: ChartTransition) => string) {
  const groups = new Map<string, ChartTransition[]>();
  for (const t of transitions) groups.set(keyOf(t), [...(groups.get(keyOf(t)) ?? []), t]);
  return [...groups.values()];
}

/**
 * A box's title. One that transitions leave holds the states doing the work (or every state but
 * one); one only entered is where a resumed cycle goes: whichever of its states the facts say.
 */
function titleOf(chart: Chart, states: ReadonlySet<string>, leftFrom: boolean): string {
  if (!leftFrom) return 'resumes here';
  const others = chart.states.filter((s) => !states.has(s.key)).map((s) => s.key);
  return others.length === 1 ? `every state but ${others[0]}` : 'working states';
}

/** Builds the drawing of a chart. */
export function drawingOf(chart: Chart): Drawing {
  const order = new Map(chart.states.map((s, i) => [s.key, i]));
  const moving = chart.transitions.filter((t) => t.from !== t.to);
  // Fan-ins: one label, one target, many sources; fan-outs: one label, one source, many targets.
  const fanIns = gather(moving, (t) => `${t.to}\u0000${t.label}`).filter(
    (ts) => new Set(ts.map((t) => t.from)).size >= MIN_GROUP,
  );
  const fanOuts = gather(moving, (t) => `${t.from}\u0000${t.label}`).filter(
    (ts) => new Set(ts.map((t) => t.to)).size >= MIN_GROUP,
  );
  const candidates = new Map<string, { states: string[]; leftFrom: boolean }>();
  for (const ts of fanIns) {
    const states = [...new Set(ts.map((t) => t.from))];
    candidates.set(setKey(states), { states, leftFrom: true });
  }
  for (const ts of fanOuts) {
    const states = [...new Set(ts.map((t) => t.to))];
    const found = candidates.get(setKey(states));
    candidates.set(setKey(states), { states, leftFrom: found?.leftFrom ?? false });
  }
  // Boxes must nest: a set crossing an accepted one (larger first) is drawn edge by edge instead.
  const accepted: { states: Set<string>; leftFrom: boolean }[] = [];
  for (const c of [...candidates.values()].sort((a, b) => b.states.length - a.states.length)) {
    const set = new Set(c.states);
    const nests = accepted.every(
      (a) =>
        [...set].every((s) => a.states.has(s)) ||
        [...set].every((s) => !a.states.has(s)) ||
        [...a.states].every((s) => set.has(s)),
    );
    if (nests && set.size < chart.states.length) accepted.push({ states: set, leftFrom: c.leftFrom });
  }
  const groups: DrawingGroup[] = accepted.map((a, i) => ({
    id: `group-${i}`,
    title: titleOf(chart, a.states, a.leftFrom),
    note: a.leftFrom
      ? 'A transition drawn from this box leaves each of its states.'
      : 'A transition drawn into this box goes to whichever of its states the facts say the cycle stands in.',
    states: [...a.states].sort((x, y) => (order.get(x) ?? 0) - (order.get(y) ?? 0)),
  }));
  const groupOfSet = new Map(groups.map((g) => [setKey(g.states), g]));
  for (const g of groups) {
    const around = groups
      .filter((o) => o !== g && o.states.length > g.states.length && g.states.every((s) => o.states.includes(s)))
      .sort((a, b) => a.states.length - b.states.length)[0];
    g.parent = around?.id;
  }
  const parentOf = new Map<string, string | undefined>();
  for (const s of chart.states) {
    const inner = groups.filter((g) => g.states.includes(s.key)).sort((a, b) => a.states.length - b.states.length)[0];
    parentOf.set(s.key, inner?.id);
  }

  const edges: DrawingEdge[] = [];
  const drawn = new Set<ChartTransition>();
  const add = (from: string, to: string, label: string, transitions: ChartTransition[]) => {
    edges.push({ id: `edge-${edges.length}`, from, to, label, transitions });
    for (const t of transitions) drawn.add(t);
  };
  for (const ts of fanIns) {
    const group = groupOfSet.get(setKey(ts.map((t) => t.from)));
    if (group && ts[0]) add(group.id, ts[0].to, ts[0].label, ts);
  }
  for (const ts of fanOuts) {
    const rest = ts.filter((t) => !drawn.has(t));
    const group = groupOfSet.get(setKey(rest.map((t) => t.to)));
    if (group && rest[0]) add(rest[0].from, group.id, rest[0].label, rest);
  }
  // The rest one by one; the same label between the same two states is drawn once.
  for (const ts of gather(
    moving.filter((t) => !drawn.has(t)),
    (t) => `${t.from}\u0000${t.to}\u0000${t.label}`,
  )) {
    if (ts[0]) add(ts[0].from, ts[0].to, ts[0].label, ts);
  }
  return { chart, groups, edges, parentOf };
}

/**
 * The edge a journal entry took: the one drawing a transition between its two states, the one
 * whose recorded reason is the entry's when several do. Undefined for an entry the chart does
 * not have (the first, from `new`).
 */
export function edgeOfEntry(
  drawing: Drawing,
  entry: { from: string; to: string; reason?: string | undefined },
): DrawingEdge | undefined {
  const candidates = drawing.edges.filter((e) => e.transitions.some((t) => t.from === entry.from && t.to === entry.to));
  return (
    candidates.find((e) =>
      e.transitions.some((t) => t.from === entry.from && t.to === entry.to && t.why === entry.reason),
    ) ??
    candidates.find((e) =>
      e.transitions.some((t) => t.from === entry.from && t.to === entry.to && t.why === undefined),
    ) ??
    candidates[0]
  );
}
