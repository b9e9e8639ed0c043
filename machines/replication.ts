/**
 * The replication machine, one for both kinds (the few differences are facts of the CR's kind,
 * read by the rules): idle → snapshotting → moving → preserving → complete → idle, with failed,
 * invalid, waitingForPvc and external. It receives one event, `observe`; progress is written as
 * eventless (`always`) transitions so one observation carries the machine as far as the facts
 * allow. Transitions assign status and name one-shot effects (Events, metrics) as data; the
 * ensure/delete actions of the state it settles in come from level.ts.
 */
import { and, assign, not, setup } from 'xstate';
import type { Action } from './actions.js';
import type { ScribeStatus } from './api.js';
import {
  seen,
  triggerFactsOf,
  type ReplicationContext,
  type ReplicationInput,
  type ReplicationState,
} from './context.js';
import {
  cleanedUp,
  moverProgress,
  positionFromFacts,
  requiredUserPvc,
  usablePvc,
  volumeProgress,
  imageProgress,
  type CyclePosition,
} from './cycle.js';
import type { Observation } from './observation.js';
import * as r from './reducers.js';
import { decideSync } from './trigger.js';

/** Effects are executed by the adapter, never here: the implementation is deliberately empty. */
function effectsRunElsewhere(_: unknown, _actions: readonly Action[]): void {}

type StatusOf = (ctx: ReplicationContext, obs: Observation) => ScribeStatus;
type EffectsOf = (ctx: ReplicationContext, obs: Observation) => Action[];

/** Builds an assign of status from a reducer, for observation events only. */
function write(reducer: StatusOf) {
  return assign<ReplicationContext, Observation, undefined, Observation, never>(({ context, event }) => {
    const obs = seen(event);
    return obs ? { status: reducer(context, obs) } : {};
  });
}

/** The effects params function of a transition. */
function say(effects: EffectsOf) {
  return ({ context, event }: { context: ReplicationContext; event: Observation }): Action[] => {
    const obs = seen(event);
    return obs ? effects(context, obs) : [];
  };
}

/** A guard over the observation; false for xstate's init event, which carries none. */
function when(rule: (ctx: ReplicationContext, obs: Observation) => boolean) {
  return ({ context, event }: { context: ReplicationContext; event: Observation }): boolean => {
    const obs = seen(event);
    return obs ? rule(context, obs) : false;
  };
}

/** The replication machine (see machines/README.md). */
export const replicationMachine = setup({
  types: {
    context: {} as ReplicationContext,
    events: {} as Observation,
    input: {} as ReplicationInput,
  },
  actions: {
    effects: effectsRunElsewhere,
    enter: assign(({ context, event }, params: { state: ReplicationState }) => ({
      status: r.entered(context, params.state, event.type),
      why: undefined,
    })),
    because: assign((_, params: { why: string }) => ({ why: params.why })),
    becauseStarted: assign(({ context, event }) => ({ why: seen(event) ? r.startReason(context, event) : undefined })),
    becauseFailed: assign(({ context, event }, params: { stage: r.FailingStage }) => ({
      why: seen(event) ? r.failureReason(context, event, params.stage) : undefined,
    })),
    settleIdle: write(r.settledIdle),
    settleWaiting: write(r.settledWaiting),
    settleInvalid: write(r.settledInvalid),
    settleWorking: assign(({ context, event }, params: { state: ReplicationState }) =>
      seen(event) ? { status: r.settledWorking(context, event, params.state) } : {},
    ),
    checkStall: assign(({ context, event }, params: { state: ReplicationState }) =>
      seen(event) ? { status: r.stallChecked(context, event, params.state) } : {},
    ),
    publish: write(r.published),
    startCycle: write(r.startedCycle),
    recordMoverSuccess: write(r.moverSucceeded),
    chooseImage: write(r.choseImage),
    recordFailure: assign(({ context, event }, params: { stage: r.FailingStage }) =>
      seen(event) ? { status: r.failed(context, event, params.stage) } : {},
    ),
    recordCompletion: write(r.completed),
    closeCycle: assign(({ context }) => ({ status: r.closedCycle(context) })),
    restartCycle: write(r.restartedCycle),
    retryCycle: write(r.retriedCycle),
  },
  guards: {
    isExternal: when((_, obs) => obs.cr.spec.external !== undefined),
    specInvalid: when((ctx, obs) => r.invalidMessage(ctx, obs) !== ''),
    syncDue: when((ctx, obs) => decideSync(triggerFactsOf(obs.cr, ctx.status), ctx.now).due),
    userPvcMissing: when((_, obs) => {
      const name = requiredUserPvc(obs.cr);
      return name !== undefined && usablePvc(obs.owned, name) === undefined;
    }),
    volumeReady: when(
      (ctx, obs) => !!ctx.status.cycle && volumeProgress(obs.cr, ctx.status.cycle, obs.owned).phase === 'ready',
    ),
    moverSucceeded: when(
      (ctx, obs) => !!ctx.status.cycle && moverProgress(ctx.status.cycle, obs.owned) === 'succeeded',
    ),
    imageReady: when((ctx, obs) => !!ctx.status.cycle && imageProgress(ctx.status.cycle, obs.owned).phase === 'ready'),
    cleanedUp: when((ctx, obs) => !!ctx.status.cycle && cleanedUp(ctx.status.cycle, obs.owned)),
    retryDue: when(r.retryDue),
    retakesCopy: when(r.retakesCopyNow),
    oldCopyGone: when(r.oldCopyGone),
    failedAt: ({ context, event }, params: { stage: r.FailingStage }) => {
      const obs = seen(event);
      return obs ? r.failureOf(context, obs, params.stage) !== undefined : false;
    },
    resumesIn: ({ context, event }, params: { state: CyclePosition }) => {
      const obs = seen(event);
      return obs ? positionFromFacts(obs.cr, context.status, obs.owned) === params.state : false;
    },
  },
}).createMachine({
  id: 'replication',
  context: ({ input }) => ({ status: input.status ?? {}, now: input.now, stallAfterMs: input.stallAfterMs }),
  initial: 'idle',
  states: {
    idle: {
      entry: [{ type: 'enter', params: { state: 'idle' } }, 'settleIdle'],
      on: { observe: { actions: [...publishing(), 'settleIdle'] } },
      always: [
        ...leaveForGlobals(),
        {
          guard: and(['syncDue', 'userPvcMissing']),
          target: 'waitingForPvc',
          actions: { type: 'because', params: { why: 'sync due; PVC missing' } },
        },
        { guard: 'syncDue', target: 'snapshotting', actions: ['becauseStarted', 'startCycle'] },
      ],
    },
    waitingForPvc: {
      entry: [
        { type: 'enter', params: { state: 'waitingForPvc' } },
        'settleWaiting',
        { type: 'effects', params: say(r.waitingNotice) },
      ],
      on: { observe: { actions: [...publishing(), 'settleWaiting'] } },
      always: [
        ...leaveForGlobals(),
        { guard: not('syncDue'), target: 'idle', actions: { type: 'because', params: { why: 'sync no longer due' } } },
        { guard: not('userPvcMissing'), target: 'snapshotting', actions: ['becauseStarted', 'startCycle'] },
      ],
    },
    snapshotting: {
      entry: [
        { type: 'enter', params: { state: 'snapshotting' } },
        { type: 'settleWorking', params: { state: 'snapshotting' } },
      ],
      on: { observe: { actions: [...publishing(), ...stallCheck('snapshotting')] } },
      always: [
        ...leaveForGlobals(),
        failOn('volume'),
        {
          guard: 'volumeReady',
          target: 'moving',
          actions: [
            { type: 'because', params: { why: 'volume ready' } },
            { type: 'effects', params: say(r.volumeNotice) },
            { type: 'effects', params: say(r.transferNotice) },
          ],
        },
      ],
    },
    moving: {
      entry: [
        { type: 'enter', params: { state: 'moving' } },
        { type: 'settleWorking', params: { state: 'moving' } },
      ],
      on: { observe: { actions: [...publishing(), ...stallCheck('moving')] } },
      always: [
        ...leaveForGlobals(),
        failOn('mover'),
        {
          guard: 'moverSucceeded',
          target: 'preserving',
          actions: [
            { type: 'because', params: { why: 'transfer succeeded' } },
            'recordMoverSuccess',
            { type: 'effects', params: say(r.transferDoneNotice) },
          ],
        },
      ],
    },
    preserving: {
      entry: [
        { type: 'enter', params: { state: 'preserving' } },
        { type: 'settleWorking', params: { state: 'preserving' } },
        'chooseImage',
      ],
      on: { observe: { actions: [...publishing(), ...stallCheck('preserving')] } },
      always: [
        ...leaveForGlobals(),
        failOn('image'),
        {
          guard: 'imageReady',
          target: 'complete',
          // Effects first: they read the status as it was before completion was recorded.
          actions: [
            { type: 'because', params: { why: 'result preserved' } },
            { type: 'effects', params: say(r.completionNotice) },
            'recordCompletion',
          ],
        },
      ],
    },
    complete: {
      entry: [
        { type: 'enter', params: { state: 'complete' } },
        { type: 'settleWorking', params: { state: 'complete' } },
      ],
      on: { observe: { actions: [...publishing(), ...stallCheck('complete')] } },
      always: [
        ...leaveForGlobals(),
        {
          guard: 'cleanedUp',
          target: 'idle',
          actions: [{ type: 'because', params: { why: 'cleaned up' } }, 'closeCycle'],
        },
      ],
    },
    failed: {
      entry: { type: 'enter', params: { state: 'failed' } },
      on: { observe: { actions: publishing() } },
      always: [
        ...leaveForGlobals(),
        // Point 4 of data safety: a retry must be able to see what the user fixed in the volume.
        // level.ts deletes the failed cycle's copy first (afterFailure).
        {
          guard: and(['retryDue', 'retakesCopy', 'oldCopyGone']),
          target: 'snapshotting',
          actions: [{ type: 'because', params: { why: 'retry with a new point-in-time copy' } }, 'restartCycle'],
        },
        // Retry where the facts say the cycle stands (design: "Facts win").
        ...(['snapshotting', 'moving', 'preserving', 'complete', 'idle'] as const).map((state) => ({
          guard: and(['retryDue', not('retakesCopy'), { type: 'resumesIn' as const, params: { state } }]),
          target: state,
          actions: [
            { type: 'because' as const, params: { why: 'retry' } },
            'retryCycle' as const,
            ...(state === 'moving' ? [{ type: 'effects' as const, params: say(r.transferNotice) }] : []),
          ],
        })),
      ],
    },
    invalid: {
      entry: [
        { type: 'effects', params: say(r.invalidNotice) },
        { type: 'enter', params: { state: 'invalid' } },
        'settleInvalid',
      ],
      on: { observe: { actions: [{ type: 'effects', params: say(r.invalidNotice) }, 'settleInvalid'] } },
      always: [{ guard: 'isExternal', target: 'external' }, ...resumeWhen(not('specInvalid'), 'spec fixed')],
    },
    external: {
      // Decision 7: an external CR is left alone; step() writes nothing for this state.
      entry: { type: 'enter', params: { state: 'external' } },
      always: resumeWhen(not('isExternal'), 'no longer external'),
    },
  },
});

/** External or invalid spec take precedence over everything a working state would do. */
function leaveForGlobals() {
  return [
    { guard: 'isExternal' as const, target: '#replication.external' },
    {
      guard: 'specInvalid' as const,
      target: '#replication.invalid',
      actions: { type: 'because' as const, params: { why: 'invalid spec' } },
    },
  ];
}

/** A stage's failure leads to failed, with the attempt and retry time recorded. */
function failOn(stage: r.FailingStage) {
  return {
    guard: { type: 'failedAt' as const, params: { stage } },
    target: '#replication.failed',
    actions: [
      { type: 'becauseFailed' as const, params: { stage } },
      { type: 'effects' as const, params: say((ctx, obs) => r.failureNotice(ctx, obs, stage)) },
      { type: 'recordFailure' as const, params: { stage } },
    ],
  };
}

/** What the mover publishes: the Event is said before the status that remembers it is written. */
function publishing() {
  return [{ type: 'effects' as const, params: say(r.publishedNotice) }, 'publish' as const];
}

/** Stall detection: the Warning is said before the condition that remembers it is written. */
function stallCheck(state: ReplicationState) {
  return [
    { type: 'effects' as const, params: say((ctx, obs) => r.stallNotice(ctx, obs, state)) },
    { type: 'checkStall' as const, params: { state } },
  ];
}

/** Resuming from invalid or external: to where the facts say the cycle stands. */
function resumeWhen<G>(guard: G, why: string) {
  return (['snapshotting', 'moving', 'preserving', 'complete', 'idle'] as const).map((state) => ({
    guard: and([guard as never, { type: 'resumesIn' as const, params: { state } }]),
    target: `#replication.${state}`,
    actions: { type: 'because' as const, params: { why } },
  }));
}
