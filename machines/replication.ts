/**
 * The replication machine, one for both kinds (the few differences are facts of the CR's kind,
 * read by the rules): idle → snapshotting → moving → preserving → complete → idle, with failed,
 * invalid, waitingForPvc and external. It receives one event, `observe`; progress is written as
 * eventless (`always`) transitions so one observation carries the machine as far as the facts
 * allow. Transitions assign status and say one-shot effects as named actions with their params as
 * data (emitEvent, recordMetrics); the ensure/delete actions of the state it settles in come from
 * level.ts. A transition's result does not depend on the order of its actions: status writers read
 * the observation and what they write themselves, and notices compare against the persisted
 * status (context.persisted), which no writer changes.
 */
import { and, assign, enqueueActions, not, or, setup } from 'xstate';
import type { ScribeStatus } from './api.js';
import { observationOf, type ReplicationContext, type ReplicationInput, type ReplicationState } from './context.js';
import type { CyclePosition } from './cycle.js';
import type { FailingStage } from './findings.js';
import * as notices from './notices.js';
import type { Notice } from './notices.js';
import type { Observation } from './observation.js';
import * as is from './predicates.js';
import * as writer from './status-writers.js';

/** The machine's effects are executed by the adapter after step(), never here: these do nothing. */
function executedByTheAdapter(): void {}

type StatusOf = (ctx: ReplicationContext, obs: Observation) => ScribeStatus;
type NoticesOf = (ctx: ReplicationContext, obs: Observation) => Notice[];

/** An assign of status from a status writer, for observation events only. */
function assignStatus(write: StatusOf) {
  return assign<ReplicationContext, Observation, undefined, Observation, never>(({ context, event }) => {
    const obs = observationOf(event);
    return obs ? { status: write(context, obs) } : {};
  });
}

/** Says a transition's notices: each becomes a named effect action (emitEvent, recordMetrics) with its data. */
function notify(notices: NoticesOf) {
  return enqueueActions<ReplicationContext, Observation, undefined, Observation, never, Notice, never, never, never>(
    ({ context, event, enqueue }) => {
      const obs = observationOf(event);
      if (obs) for (const notice of notices(context, obs)) enqueue(notice);
    },
  );
}

/** A guard over the observation; false for xstate's init event, which carries none. */
function when(rule: (ctx: ReplicationContext, obs: Observation) => boolean) {
  return ({ context, event }: { context: ReplicationContext; event: Observation }): boolean => {
    const obs = observationOf(event);
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
    emitEvent: (_, _params: Extract<Notice, { type: 'emitEvent' }>['params']) => executedByTheAdapter(),
    recordMetrics: (_, _params: Extract<Notice, { type: 'recordMetrics' }>['params']) => executedByTheAdapter(),
    recordEntry: assign(({ context, event }, params: { state: ReplicationState }) => ({
      status: writer.withStateEntered(context, params.state, event.type),
      why: undefined,
    })),
    because: assign((_, params: { why: string }) => ({ why: params.why })),
    becauseStarted: assign(({ context, event }) => ({
      why: observationOf(event) ? writer.startReason(context, event) : undefined,
    })),
    becauseFailed: assign(({ context, event }, params: { stage: FailingStage }) => ({
      why: observationOf(event) ? writer.failureReason(context, event, params.stage) : undefined,
    })),
    settleIdle: assignStatus(writer.withIdleConditions),
    settleWaiting: assignStatus(writer.withWaitingConditions),
    settleInvalid: assignStatus(writer.withInvalidConditions),
    settleWorking: assign(({ context, event }, params: { state: ReplicationState }) =>
      observationOf(event) ? { status: writer.withWorkingConditions(context, event, params.state) } : {},
    ),
    updateStallCondition: assign(({ context, event }, params: { state: ReplicationState }) =>
      observationOf(event) ? { status: writer.withStallCondition(context, event, params.state) } : {},
    ),
    recordPublished: assignStatus(writer.withPublishedValues),
    startCycle: assignStatus(writer.withCycleStarted),
    recordMoverSuccess: assignStatus(writer.withMoverSuccess),
    chooseImage: assignStatus(writer.withImageChosen),
    recordFailure: assign(({ context, event }, params: { stage: FailingStage }) =>
      observationOf(event) ? { status: writer.withFailure(context, event, params.stage) } : {},
    ),
    recordCompletion: assignStatus(writer.withCompletion),
    closeCycle: assign(({ context }) => ({ status: writer.withCycleClosed(context) })),
    restartCycle: assignStatus(writer.withCycleRestarted),
    retryCycle: assignStatus(writer.withRetriedGeneration),
  },
  guards: {
    isExternal: when(is.isExternal),
    specInvalid: when(is.specInvalid),
    syncDue: when(is.syncDue),
    startRecorded: when(is.startRecorded),
    userPvcMissing: when(is.userPvcMissing),
    volumeReady: when(is.volumeReady),
    moverSucceeded: when(is.moverSucceeded),
    imageReady: when(is.imageReady),
    cleanedUp: when(is.cleanedUp),
    retryDue: when(is.retryDue),
    retakesCopy: when(is.retakesCopy),
    oldCopyGone: when(is.oldCopyGone),
    stageFailed: ({ context, event }, params: { stage: FailingStage }) => {
      const obs = observationOf(event);
      return obs ? is.stageFailed(context, obs, params.stage) : false;
    },
    resumesIn: ({ context, event }, params: { state: CyclePosition }) => {
      const obs = observationOf(event);
      return obs ? is.resumesIn(context, obs, params.state) : false;
    },
  },
}).createMachine({
  id: 'replication',
  context: ({ input }) => ({
    status: input.status ?? {},
    persisted: input.status ?? {},
    now: input.now,
    stallAfterMs: input.stallAfterMs,
  }),
  initial: 'idle',
  states: {
    idle: {
      entry: [{ type: 'recordEntry', params: { state: 'idle' } }, 'settleIdle'],
      on: { observe: { actions: [...publishing(), 'settleIdle'] } },
      always: [
        ...leaveForGlobals(),
        {
          guard: and(['syncDue', 'userPvcMissing']),
          target: 'waitingForPvc',
          actions: { type: 'because', params: { why: 'sync due; PVC missing' } },
        },
        // A cycle whose first object exists goes on even if its trigger has since changed: that
        // object is its write-ahead record (write-ahead.ts), as a status write would have been.
        {
          guard: or(['syncDue', 'startRecorded']),
          target: 'snapshotting',
          actions: ['becauseStarted', 'startCycle'],
        },
      ],
    },
    waitingForPvc: {
      entry: [
        { type: 'recordEntry', params: { state: 'waitingForPvc' } },
        'settleWaiting',
        notify(notices.waitingNotice),
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
        { type: 'recordEntry', params: { state: 'snapshotting' } },
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
            notify(notices.volumeNotice),
            notify(notices.transferNotice),
          ],
        },
      ],
    },
    moving: {
      entry: [
        { type: 'recordEntry', params: { state: 'moving' } },
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
            notify(notices.transferDoneNotice),
          ],
        },
      ],
    },
    preserving: {
      entry: [
        { type: 'recordEntry', params: { state: 'preserving' } },
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
          actions: [
            { type: 'because', params: { why: 'result preserved' } },
            'recordCompletion',
            notify(notices.completionNotice),
          ],
        },
      ],
    },
    complete: {
      entry: [
        { type: 'recordEntry', params: { state: 'complete' } },
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
      entry: { type: 'recordEntry', params: { state: 'failed' } },
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
            ...(state === 'moving' ? [notify(notices.transferNotice)] : []),
          ],
        })),
      ],
    },
    invalid: {
      entry: [{ type: 'recordEntry', params: { state: 'invalid' } }, 'settleInvalid', notify(notices.invalidNotice)],
      on: { observe: { actions: ['settleInvalid', notify(notices.invalidNotice)] } },
      always: [{ guard: 'isExternal', target: 'external' }, ...resumeWhen(not('specInvalid'), 'spec fixed')],
    },
    external: {
      // Decision 7: an external CR is left alone; step() writes nothing for this state.
      entry: { type: 'recordEntry', params: { state: 'external' } },
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
function failOn(stage: FailingStage) {
  return {
    guard: { type: 'stageFailed' as const, params: { stage } },
    target: '#replication.failed',
    actions: [
      { type: 'becauseFailed' as const, params: { stage } },
      { type: 'recordFailure' as const, params: { stage } },
      notify((ctx, obs) => notices.failureNotice(ctx, obs, stage)),
    ],
  };
}

/** What the mover publishes: recorded under status.<mover>, and a new address said once. */
function publishing() {
  return ['recordPublished' as const, notify(notices.publishedNotice)];
}

/** Stall detection: the Stalled condition written or cleared, and a new stall said once. */
function stallCheck(state: ReplicationState) {
  return [
    { type: 'updateStallCondition' as const, params: { state } },
    notify((ctx, obs) => notices.stallNotice(ctx, obs, state)),
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
