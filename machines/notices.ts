/**
 * What the machine's transitions say: Kubernetes Events on the CR and a completed sync for the
 * metrics, as data (the machine's named actions emitEvent and recordMetrics). A notice said once
 * compares against the persisted status (context.persisted), never against what the same
 * transition writes, so it does not matter whether the writer has run yet.
 */
import { EventReasons, type EmitEventAction, type EventReason, type RecordMetricsAction } from './actions.js';
import { findCondition, RECONCILED, SYNCHRONIZING } from './conditions.js';
import type { ReplicationContext, ReplicationState } from './context.js';
import { Objects } from './cycle.js';
import { formatGoDurationMs } from './duration.js';
import {
  failureOf,
  specProblems,
  isStalled,
  stallMessage,
  waitingForPvcMessage,
  type FailingStage,
} from './findings.js';
import { moverKindOf } from './mover.js';
import type { Observation } from './observation.js';
import { toMs } from './time.js';
import { isMissedInterval, triggerKind } from './trigger.js';

/**
 * What a transition says, as the machine's named actions with their params as data: an Event on
 * the CR, or a completed sync for the metrics. step() collects them; the adapter executes them.
 */
export type Notice =
  | { type: 'emitEvent'; params: Omit<EmitEventAction, 'type'> }
  | { type: 'recordMetrics'; params: { completedSync: NonNullable<RecordMetricsAction['completedSync']> } };

function event(eventType: EmitEventAction['eventType'], reason: EventReason, message: string): Notice {
  return { type: 'emitEvent', params: { eventType, reason, message } };
}

/** One Event when the wait starts, never a stream of them (decision 3). */
export function waitingNotice(_ctx: ReplicationContext, obs: Observation): Notice[] {
  return [event('Normal', EventReasons.WaitingForPVC, waitingForPvcMessage(obs.cr))];
}

/** One Warning per distinct problem: when the Reconciled message differs from the persisted one. */
export function invalidNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const message = specProblems(ctx, obs);
  const current = findCondition(ctx.persisted.conditions, RECONCILED);
  if (current?.status === 'False' && current.message === message) return [];
  return [event('Warning', EventReasons.InvalidSpec, message)];
}

/** Events of a volume the cycle created (PiT snapshot and PVC, or a newly provisioned destination PVC). */
export function volumeNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const objects = ctx.status.cycle?.objects ?? {};
  const id = ctx.status.cycle?.id;
  const notices: Notice[] = [];
  const snap = objects[Objects.pitSnapshot];
  if (snap !== undefined)
    notices.push(event('Normal', EventReasons.VolumeSnapshotCreated, `created point-in-time VolumeSnapshot ${snap}`));
  const pit = objects[Objects.pitPvc];
  if (pit !== undefined)
    notices.push(
      event('Normal', EventReasons.PersistentVolumeClaimCreated, `created point-in-time PersistentVolumeClaim ${pit}`),
    );
  const volume = objects[Objects.volume];
  if (obs.cr.kind === 'ReplicationDestination' && volume !== undefined && obs.owned.pvcs[volume]?.cycleId === id) {
    notices.push(
      event('Normal', EventReasons.PersistentVolumeClaimCreated, `created destination PersistentVolumeClaim ${volume}`),
    );
  }
  return notices;
}

/** The mover is asked to run. */
export function transferNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const attempt = ctx.status.cycle?.attempt ?? 0;
  const retry = attempt > 0 ? ` (retry ${attempt})` : '';
  return [
    event(
      'Normal',
      EventReasons.TransferStarted,
      `starting ${moverKindOf(obs.cr) ?? 'mover'} transfer for cycle ${ctx.status.cycle?.id ?? ''}${retry}`,
    ),
  ];
}

/** The transfer finished. */
export function transferDoneNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  return [
    event(
      'Normal',
      EventReasons.TransferCompleted,
      `${moverKindOf(obs.cr) ?? 'mover'} transfer of cycle ${ctx.status.cycle?.id ?? ''} completed`,
    ),
  ];
}

/** One Warning per failure. */
export function failureNotice(ctx: ReplicationContext, obs: Observation, stage: FailingStage): Notice[] {
  const failure = failureOf(ctx, obs, stage);
  return [event('Warning', failure.reason, failure.message)];
}

/**
 * Metrics and Events of a completed sync. The previous completion is the persisted one (a step
 * completes one sync at most), so recording this completion does not change what is said.
 */
export function completionNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const start = toMs(ctx.status.lastSyncStartTime) ?? ctx.now;
  const done = Math.max(ctx.now, start);
  const schedule = triggerKind(obs.cr.spec.trigger) === 'schedule' ? obs.cr.spec.trigger?.schedule : undefined;
  const missedInterval = schedule !== undefined && isMissedInterval(schedule, toMs(ctx.persisted.lastSyncTime), done);
  const notices: Notice[] = [
    { type: 'recordMetrics', params: { completedSync: { durationSeconds: (done - start) / 1000, missedInterval } } },
  ];
  const image = ctx.status.cycle?.objects?.[Objects.image];
  if (image !== undefined) {
    notices.push(
      event(
        'Normal',
        EventReasons.VolumeSnapshotCreated,
        `VolumeSnapshot ${image} is ready and is now status.latestImage`,
      ),
    );
  }
  notices.push(
    event('Normal', EventReasons.SyncCompleted, `synchronization completed in ${formatGoDurationMs(done - start)}`),
  );
  return notices;
}

/** One Warning when a cycle becomes stalled: the persisted condition does not say Stalled yet. */
export function stallNotice(ctx: ReplicationContext, obs: Observation, state: ReplicationState): Notice[] {
  const current = findCondition(ctx.persisted.conditions, SYNCHRONIZING);
  if (!isStalled(ctx, obs, state) || current?.reason === 'Stalled') return [];
  return [event('Warning', EventReasons.SyncStalled, stallMessage(ctx, obs, state))];
}

/** ServiceAddressAssigned when the published address differs from the persisted one. */
export function publishedNotice(ctx: ReplicationContext, obs: Observation): Notice[] {
  const kind = moverKindOf(obs.cr);
  const address = obs.owned.mover.published?.address;
  if (!kind || address === undefined) return [];
  const current = (ctx.persisted[kind] ?? {}) as Record<string, unknown>;
  if (current.address === address) return [];
  return [event('Normal', EventReasons.ServiceAddressAssigned, `${kind} listens at ${String(address)}`)];
}
