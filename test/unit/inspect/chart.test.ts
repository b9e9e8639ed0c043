import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { STATES } from '../../../machines/context.js';
import { replicationMachine } from '../../../machines/replication.js';
import { chartOf, describeGuard } from '../../../src/inspect/chart.js';
import { renderMermaid } from '../../../src/inspect/mermaid.js';
import { renderSvg } from '../../../src/inspect/svg.js';
import { xmlProblem } from './well-formed.js';

describe('the chart is read from the machine definition', () => {
  it('has every state of the replication machine, idle initial', () => {
    const chart = chartOf(replicationMachine);
    expect(chart.states.map((s) => s.key).sort()).toEqual([...STATES].sort());
    expect(chart.states.filter((s) => s.initial).map((s) => s.key)).toEqual(['idle']);
  });

  it('has the main path and the failure and retry transitions, with the reasons the journal records', () => {
    const chart = chartOf(replicationMachine);
    const edge = (from: string, to: string) => chart.transitions.filter((t) => t.from === from && t.to === to);
    expect(edge('snapshotting', 'moving')[0]).toMatchObject({
      event: 'always',
      guard: 'volumeReady',
      label: 'volume ready',
    });
    expect(edge('moving', 'preserving')[0]?.label).toBe('transfer succeeded');
    expect(edge('preserving', 'complete')[0]?.label).toBe('result preserved');
    expect(edge('complete', 'idle')[0]?.label).toBe('cleaned up');
    expect(edge('moving', 'failed')[0]?.guard).toBe('stageFailed(mover)');
    expect(edge('failed', 'moving')[0]?.guard).toBe('retryDue && !retakesCopy && resumesIn(moving)');
    expect(edge('failed', 'snapshotting')[0]).toMatchObject({
      guard: 'retryDue && retakesCopy && oldCopyGone',
      label: 'retry with a new point-in-time copy',
    });
    expect(edge('waitingForPvc', 'idle')[0]?.guard).toBe('!syncDue');
    // The `observe` self-updates change no state and are not drawn.
    expect(chart.transitions.some((t) => t.event === 'observe')).toBe(false);
  });

  it('describes guards of every form', () => {
    expect(describeGuard('syncDue')).toBe('syncDue');
    expect(describeGuard({ type: 'stageFailed', params: { stage: 'image' } })).toBe('stageFailed(image)');
    expect(describeGuard(undefined)).toBeUndefined();
  });

  it('follows the machine: a state added to a machine appears in every picture', async () => {
    const machine = createMachine({
      id: 'demo',
      initial: 'a',
      states: { a: { on: { go: 'b' } }, b: { always: { target: 'c' } }, c: { on: { back: 'a' } } },
    });
    const chart = chartOf(machine);
    expect(chart.states.map((s) => s.key)).toEqual(['a', 'b', 'c']);
    expect(chart.transitions.map((t) => `${t.from}>${t.to}:${t.label}`)).toEqual(['a>b:go', 'b>c:always', 'c>a:back']);
    expect(renderMermaid(chart, 'c')).toContain('class c current');
    expect(await renderSvg(chart, { current: 'b' })).toContain('data-state="b"');
  });
});

describe('mermaid', () => {
  it('is a stateDiagram-v2 with every state and the current one highlighted', () => {
    const text = renderMermaid(chartOf(), 'moving');
    expect(text.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(text).toContain('[*] --> idle');
    for (const state of STATES) expect(text).toContain(`state "${state}" as ${state}`);
    expect(text).toContain('snapshotting --> moving: volume ready');
    expect(text).toMatch(/classDef current /);
    expect(text).toContain('class moving current');
    expect(text.match(/^ {4}class /gm)).toHaveLength(1);
  });

  it('highlights nothing for an unknown or absent state', () => {
    expect(renderMermaid(chartOf())).not.toContain('classDef');
    expect(renderMermaid(chartOf(), 'bogus')).not.toContain('classDef');
  });
});

describe('svg', () => {
  it('is well-formed XML naming every state, the current one highlighted', async () => {
    const svg = await renderSvg(chartOf(), { current: 'preserving', title: 'a <title> & more' });
    expect(xmlProblem(svg)).toBeUndefined();
    for (const state of STATES) expect(svg).toContain(`data-state="${state}"`);
    expect(svg).toMatch(/<g class="state current" id="state-preserving"/);
    expect(svg.match(/class="state[^"]* current"/g)).toHaveLength(1);
    expect(svg).toContain('data-current="preserving"');
  });

  it('is self-contained: no scripts, external references or web fonts', async () => {
    const svg = await renderSvg(chartOf(), { current: 'idle' });
    expect(svg).not.toMatch(/<script|href="http|@import|url\(http|@font-face/i);
  });

  it('the check itself finds broken XML', () => {
    expect(xmlProblem('<svg><g></svg>')).toMatch(/closes/);
    expect(xmlProblem('<svg>a & b</svg>')).toMatch(/unescaped/);
    expect(xmlProblem('<svg><g x=1/></svg>')).toMatch(/malformed/);
  });
});
