/** The ReplicationSource kind: what to copy, when, and with which mover. */
import { Type, type Static } from '@sinclair/typebox';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import {
  CommonStatus,
  EXACTLY_ONE_MOVER,
  ExternalSpec,
  PublishedMoverStatus,
  MoverPodOptions,
  RcloneOptions,
  ResticCacheOptions,
  RsyncConnectionOptions,
  SOURCE_RSYNC_CONNECTS,
  SourceVolumeOptions,
  Trigger,
} from './common.js';
import { cel, ObjectName } from './schema-helpers.js';

export const ResticRetain = Type.Object(
  {
    last: Type.Optional(Type.Integer({ minimum: 0 })),
    hourly: Type.Optional(Type.Integer({ minimum: 0 })),
    daily: Type.Optional(Type.Integer({ minimum: 0 })),
    weekly: Type.Optional(Type.Integer({ minimum: 0 })),
    monthly: Type.Optional(Type.Integer({ minimum: 0 })),
    yearly: Type.Optional(Type.Integer({ minimum: 0 })),
    within: Type.Optional(
      Type.String({
        pattern: '^([0-9]+[ymwdh])+$',
        maxLength: 64,
        description: 'Keep every snapshot within this duration of the newest, e.g. 3w15h.',
      }),
    ),
  },
  { description: 'How many snapshots restic forget keeps of each kind.' },
);
export type ResticRetain = Static<typeof ResticRetain>;

export const ReplicationSourceSpec = Type.Object(
  {
    sourcePVC: Type.Optional(ObjectName({ description: 'The PVC to replicate, in the same namespace.' })),
    trigger: Type.Optional(Trigger),
    paused: Type.Optional(Type.Boolean({ description: 'When true no new synchronization starts.' })),
    rsync: Type.Optional(
      Type.Object(
        { ...SourceVolumeOptions, ...RsyncConnectionOptions, ...MoverPodOptions },
        cel(SOURCE_RSYNC_CONNECTS),
      ),
    ),
    rclone: Type.Optional(Type.Object({ ...SourceVolumeOptions, ...RcloneOptions, ...MoverPodOptions })),
    restic: Type.Optional(
      Type.Object({
        ...SourceVolumeOptions,
        ...ResticCacheOptions,
        ...MoverPodOptions,
        pruneIntervalDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 7 })),
        retain: Type.Optional(ResticRetain),
      }),
    ),
    external: Type.Optional(ExternalSpec),
  },
  cel(EXACTLY_ONE_MOVER, {
    rule: 'has(self.external) || has(self.sourcePVC)',
    message: 'spec.sourcePVC is required: name the PVC to replicate',
  }),
);
export type ReplicationSourceSpec = Static<typeof ReplicationSourceSpec>;

export const ReplicationSourceStatus = Type.Object({
  ...CommonStatus,
  ...PublishedMoverStatus,
});
export type ReplicationSourceStatus = Static<typeof ReplicationSourceStatus>;

export interface ReplicationSource {
  apiVersion: 'scribe.backube/v1alpha1';
  kind: 'ReplicationSource';
  metadata: V1ObjectMeta;
  spec: ReplicationSourceSpec;
  status?: ReplicationSourceStatus;
}
