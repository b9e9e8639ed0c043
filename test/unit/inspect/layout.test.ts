import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { STATES } from '../../../machines/context.js';
import { chartOf } from '../../../src/inspect/chart.js';
import { drawingOf, edgeOfEntry } from '../../../src/inspect/drawing.js';
import { layoutDrawing, type Box, type Layout } from '../../../src/inspect/layout.js';
import { renderSvg } from '../../../src/inspect/svg.js';
import { textWidth } from '../../../src/inspect/text-width.js';
import { trailOf } from '../../../src/inspect/trail.js';
import { xmlProblem } from './well-formed.js';

const overlap = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Whether an axis-parallel segment crosses the inside of a box. */
function crosses(p: { x: number; y: number }, q: { x: number; y: number }, box: Box): boolean {
  const [x1, x2] = [Math.min(p.x, q.x), Math.max(p.x, q.x)];
  const [y1, y2] = [Math.min(p.y, q.y), Math.max(p.y, q.y)];
  return x1 < box.x + box.width - 0.5 && x2 > box.x + 0.5 && y1 < box.y + box.height - 0.5 && y2 > box.y + 0.5;
}

const journal = [
  { time: '2026-01-01T10:00:00Z', event: 'observe', from: 'complete', to: 'idle', reason: 'cleaned up' },
  { time: '2026-01-01T11:00:00Z', event: 'observe', from: 'idle', to: 'snapshotting', reason: 'manual trigger "b"' },
  { time: '2026-01-01T11:00:02Z', event: 'observe', from: 'snapshotting', to: 'moving', reason: 'volume ready' },
  { time: '2026-01-01T11:01:00Z', event: 'observe', from: 'moving', to: 'failed', reason: 'transfer failed: exit 12' },
  { time: '2026-01-01T11:01:30Z', event: 'observe', from: 'failed', to: 'moving', reason: 'retry' },
  { time: '2026-01-01T11:02:00Z', event: 'observe', from: 'moving', to: 'preserving', reason: 'transfer succeeded' },
];

/** Every geometric promise of a layout: inside the drawing, nothing over a label, groups hold their states. */
function expectReadable(layout: Layout) {
  // Group titles are labels too: nothing may run over them either.
  const labels = [...layout.edges.map((e) => e.label), ...layout.groups.map((g) => g.title)];
  const labelName = (i: number) => layout.edges[i]?.edge.label ?? layout.groups[i - layout.edges.length]?.group.title;
  for (const s of layout.states) {
    expect(s.x).toBeGreaterThanOrEqual(0);
    expect(s.y + s.height).toBeLessThanOrEqual(layout.height);
    for (const o of layout.states) if (o !== s) expect(overlap(s, o), `${s.key} over ${o.key}`).toBe(false);
    for (const [i, l] of labels.entries()) {
      expect(overlap(s, l), `label ${labelName(i)} over ${s.key}`).toBe(false);
    }
  }
  for (const [i, a] of labels.entries()) {
    expect(a.x + a.width).toBeLessThanOrEqual(layout.width);
    for (const [j, b] of labels.entries())
      if (i < j) expect(overlap(a, b), `${labelName(i)} over ${labelName(j)}`).toBe(false);
    // No edge runs through a label, not even its own (ELK sets a label beside its edge).
    for (const e of layout.edges) {
      e.points.slice(1).forEach((q, k) => {
        const p = e.points[k] as { x: number; y: number };
        expect(crosses(p, q, a), `${e.edge.label} through label ${labelName(i)}`).toBe(false);
      });
    }
  }
  for (const g of layout.groups) {
    for (const key of g.group.states) {
      const s = layout.states.find((x) => x.key === key) as Box;
      expect(s.x >= g.x && s.y >= g.y && s.x + s.width <= g.x + g.width && s.y + s.height <= g.y + g.height).toBe(true);
    }
  }
  for (const e of layout.edges) expect(e.points.length).toBeGreaterThanOrEqual(2);
}

describe('the drawing of the replication chart', () => {
  const drawing = drawingOf(chartOf());
  const byLabel = (label: string) => drawing.edges.filter((e) => e.label === label);
  const group = (id: string) => drawing.groups.find((g) => g.id === id);

  it('draws the transitions that leave every working state once, from a box around them', () => {
    const [invalidSpec] = byLabel('invalid spec');
    expect(byLabel('invalid spec')).toHaveLength(1);
    expect(group(invalidSpec?.from ?? '')?.states.sort()).toEqual(
      ['idle', 'waitingForPvc', 'snapshotting', 'moving', 'preserving', 'complete', 'failed'].sort(),
    );
    // Every state but external becomes external.
    expect(byLabel('isExternal')).toHaveLength(1);
    expect(group(byLabel('isExternal')[0]?.from ?? '')?.states).toHaveLength(STATES.length - 1);
  });

  it('draws resuming once, to a box around the states a cycle resumes in', () => {
    for (const label of ['spec fixed', 'no longer external', 'retry']) {
      const edges = byLabel(label);
      expect(edges, label).toHaveLength(1);
      expect(group(edges[0]?.to ?? '')?.states.sort()).toEqual(
        ['idle', 'snapshotting', 'moving', 'preserving', 'complete'].sort(),
      );
    }
    // Far fewer edges than transitions, each transition drawn exactly once.
    const chart = chartOf();
    expect(drawing.edges.length).toBeLessThan(chart.transitions.length / 2);
    expect(drawing.edges.flatMap((e) => e.transitions).length).toBe(chart.transitions.length);
  });

  it('finds the edge each journal entry took, by its reason where two could', () => {
    expect(edgeOfEntry(drawing, { from: 'failed', to: 'moving', reason: 'retry' })?.label).toBe('retry');
    expect(
      edgeOfEntry(drawing, { from: 'failed', to: 'snapshotting', reason: 'retry with a new point-in-time copy' })
        ?.label,
    ).toBe('retry with a new point-in-time copy');
    expect(edgeOfEntry(drawing, { from: 'idle', to: 'snapshotting', reason: 'manual trigger "b"' })?.label).toBe(
      'syncDue || startRecorded',
    );
    expect(edgeOfEntry(drawing, { from: 'new', to: 'idle' })).toBeUndefined();
  });

  it('a chart without shared transitions has no boxes', () => {
    const machine = createMachine({
      id: 'demo',
      initial: 'a',
      states: { a: { on: { go: 'b' } }, b: { on: { go: 'c' } }, c: { on: { back: 'a' } } },
    });
    const d = drawingOf(chartOf(machine));
    expect(d.groups).toEqual([]);
    expect(d.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['a>b', 'b>c', 'c>a']);
  });
});

describe('the layout (elkjs, layered, orthogonal)', () => {
  it('overlaps nothing: states, labels, edges through labels, and boxes hold their states', async () => {
    expectReadable(await layoutDrawing(drawingOf(chartOf())));
  });

  it('stays readable with step badges on the labels of a cycle', async () => {
    const drawing = drawingOf(chartOf());
    const badges = new Map(drawing.edges.slice(0, 8).map((e, i) => [e.id, i % 2 ? `${i} ${i + 7}` : String(i)]));
    const layout = await layoutDrawing(drawing, badges);
    expectReadable(layout);
    for (const e of layout.edges) {
      const badge = badges.get(e.edge.id);
      // A label has room for its text (bold when highlighted) and its badge.
      expect(e.label.width).toBeGreaterThanOrEqual(textWidth(e.edge.label, 11, Boolean(badge)) + e.badgeWidth);
    }
  });

  it('draws only orthogonal segments', async () => {
    const layout = await layoutDrawing(drawingOf(chartOf()));
    for (const e of layout.edges) {
      e.points.slice(1).forEach((q, k) => {
        const p = e.points[k] as { x: number; y: number };
        expect(Math.abs(p.x - q.x) < 0.01 || Math.abs(p.y - q.y) < 0.01).toBe(true);
      });
    }
  });
});

describe('the trail of a cycle', () => {
  it('numbers the steps since the CR last left idle, with the time spent in each state', () => {
    const trail = trailOf(journal, Date.parse('2026-01-01T11:02:05Z'));
    expect(trail.steps.map((s) => `${s.step}:${s.from}>${s.to}`)).toEqual([
      '1:idle>snapshotting',
      '2:snapshotting>moving',
      '3:moving>failed',
      '4:failed>moving',
      '5:moving>preserving',
    ]);
    expect(trail.steps.filter((s) => s.failure).map((s) => s.step)).toEqual([3]);
    expect(trail.timeIn).toEqual({ snapshotting: 2000, moving: 58_000 + 30_000, failed: 30_000, preserving: 5000 });
  });

  it('reads a journal without a departure from idle whole, and leaves the last stay open without a clock', () => {
    const trail = trailOf([{ time: '2026-01-01T10:00:00Z', event: 'observe', from: 'new', to: 'idle' }]);
    expect(trail.steps).toHaveLength(1);
    expect(trail.steps[0]?.stayedMs).toBeUndefined();
  });

  it('the SVG numbers the taken edges, colours the failed attempt and times the states', async () => {
    const svg = await renderSvg(chartOf(), {
      current: 'preserving',
      journal,
      now: Date.parse('2026-01-01T11:02:05Z'),
    });
    expect(xmlProblem(svg)).toBeUndefined();
    expect(svg).toContain(
      'data-trail="idle&gt;snapshotting snapshotting&gt;moving moving&gt;failed failed&gt;moving moving&gt;preserving"',
    );
    expect(svg).toMatch(
      /<g class="transition taken failure" data-edge="[^"]+" data-from="moving" data-to="failed" data-steps="3">/,
    );
    expect(svg).toMatch(
      /<g class="transition taken" data-edge="[^"]+" data-from="failed" data-to="group-\d" data-steps="4">/,
    );
    expect(svg).toMatch(/class="state visited" id="state-moving"[^]*?<text class="stay"[^>]*>1m 28s</);
    expect(svg).toMatch(/class="state visited current" id="state-preserving"[^]*?<text class="stay"[^>]*>5s</);
    expect(svg.match(/class="transition taken/g)).toHaveLength(5);
  });
});
