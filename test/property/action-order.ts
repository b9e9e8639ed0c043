/**
 * A transition's result does not depend on the order of its actions (machines/replication.ts):
 * every step is taken again with a build of the machine whose action lists (entry, exit and
 * transition actions) are reversed, and must give the same status, the same Events (as a set:
 * independent notices may be said in either order) and the same other actions.
 */
import { expect } from 'vitest';
import { createMachine } from 'xstate';
import type { Action } from '../../machines/actions.js';
import type { ScribeCr } from '../../machines/api.js';
import { replicationMachine } from '../../machines/replication.js';
import { stepWith, type StepResult } from '../../machines/step.js';
import type { World } from './world.js';

const ACTION_LISTS = new Set(['entry', 'exit', 'actions']);

/** A copy of a machine config with every action list reversed; transitions keep their order. */
function reverseActionLists(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseActionLists);
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      ACTION_LISTS.has(key) && Array.isArray(inner) ? [...inner].reverse() : reverseActionLists(inner),
    ]),
  );
}

const reversedMachine = createMachine(
  reverseActionLists(replicationMachine.config) as typeof replicationMachine.config,
  replicationMachine.implementations,
) as unknown as typeof replicationMachine;

/** The result with the Events sorted, so that two results that differ only in their order compare equal. */
function eventsAsSet(result: StepResult): StepResult {
  const key = (a: Action) => JSON.stringify(a);
  const events = result.actions.filter((a) => a.type === 'emitEvent').sort((a, b) => key(a).localeCompare(key(b)));
  return { ...result, actions: [...result.actions.filter((a) => a.type !== 'emitEvent'), ...events] };
}

/** A World check: the step taken with the reversed machine gives the same result. */
export function checkActionOrderIrrelevant(before: ScribeCr, result: StepResult, world: World): void {
  const reversed = stepWith(reversedMachine, before, { now: world.now, owned: world.owned() });
  expect(eventsAsSet(reversed), 'a transition whose result depends on the order of its actions').toEqual(
    eventsAsSet(result),
  );
}
