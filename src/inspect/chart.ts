/**
 * The state chart of a machine, read from the machine definition itself (xstate's state nodes),
 * so every picture follows the machine when it changes: there is no second copy of the chart.
 */
import type { AnyStateMachine } from 'xstate';
import { getStateNodes } from 'xstate/graph';
import { replicationMachine } from '../../machines/replication.js';

/** One state of the chart. */
export interface ChartState {
  /** The state's key, as status.state names it. */
  key: string;
  initial: boolean;
}

/** One transition of the chart; eventless (`always`) transitions have event `always`. */
export interface ChartTransition {
  from: string;
  to: string;
  event: string;
  guard?: string;
  /** The reason the machine records in its journal for this transition, when it says one. */
  why?: string;
  /** Short text for drawings: the recorded reason, else the guard, else the event. */
  label: string;
}

/** A machine's states and transitions, in definition order. */
export interface Chart {
  id: string;
  states: ChartState[];
  transitions: ChartTransition[];
}

type GuardLike = string | { type?: string; params?: unknown } | ((...args: never[]) => unknown) | undefined;
type ActionLike = string | { type?: string; params?: unknown } | ((...args: never[]) => unknown);
interface TransitionLike {
  target?: readonly { key: string }[] | undefined;
  guard?: GuardLike;
  actions?: readonly ActionLike[];
  eventType: string;
}
interface StateNodeLike {
  key: string;
  parent?: unknown;
  always?: readonly TransitionLike[];
  transitions: Map<string, readonly TransitionLike[]>;
}

/** A guard as text: named guards by name, higher-order guards (and/not/or) spelled out. */
export function describeGuard(guard: GuardLike): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const inner = (guard as { guards?: readonly GuardLike[] }).guards;
    // Bundlers may suffix renamed functions (and2); the higher-order kind is the name's stem.
    const kind = guard.name.replace(/\d+$/, '');
    if (inner && (kind === 'and' || kind === 'or')) {
      return inner.map((g) => describeGuard(g) ?? '?').join(kind === 'and' ? ' && ' : ' || ');
    }
    if (inner && kind === 'not') return `!${describeGuard(inner[0]) ?? '?'}`;
    return guard.name || 'guard';
  }
  const params = guard.params;
  if (params && typeof params === 'object' && !Array.isArray(params)) {
    const values = Object.values(params as Record<string, unknown>).filter((v) => typeof v !== 'function');
    if (values.length > 0) return `${guard.type ?? 'guard'}(${values.join(', ')})`;
  }
  return guard.type ?? 'guard';
}

/** The reason a transition records (its `because` action's `why`), if it names one. */
function recordedReason(actions: readonly ActionLike[] | undefined): string | undefined {
  for (const action of actions ?? []) {
    if (typeof action === 'object' && action.type === 'because') {
      const why = (action.params as { why?: unknown } | undefined)?.why;
      if (typeof why === 'string') return why;
    }
  }
  return undefined;
}

/** Reads the chart of a flat machine (Scribe's machines have one level of states). */
export function chartOf(machine: AnyStateMachine = replicationMachine): Chart {
  const nodes = (getStateNodes(machine) as unknown as StateNodeLike[]).filter((n) => n.parent === machine.root);
  const initialKey = (machine.root.initial?.target?.[0] as { key?: string } | undefined)?.key;
  const states = nodes.map((n) => ({ key: n.key, initial: n.key === initialKey }));
  const transitions: ChartTransition[] = [];
  for (const node of nodes) {
    const all: TransitionLike[] = [...(node.always ?? [])];
    for (const list of node.transitions.values()) all.push(...list);
    for (const t of all) {
      // Targetless transitions (the `observe` self-updates) change no state: they are not drawn.
      for (const target of t.target ?? []) {
        const event = t.eventType === '' ? 'always' : t.eventType;
        const guard = describeGuard(t.guard);
        const why = recordedReason(t.actions);
        transitions.push({ from: node.key, to: target.key, event, guard, why, label: why ?? guard ?? event });
      }
    }
  }
  return { id: machine.id, states, transitions };
}
