/** The ReplicationDestination kind: where a copy lands and how it is preserved. */
import { Type, type Static } from '@sinclair/typebox';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import {
  CommonStatus,
  DestinationVolumeOptions,
  EXACTLY_ONE_MOVER,
  ExternalSpec,
  PublishedMoverStatus,
  MoverPodOptions,
  RcloneOptions,
  ResticCacheOptions,
  RsyncConnectionOptions,
  Trigger,
  destinationCapacityRule,
  DESTINATION_RSYNC_LISTENS,
} from './common.js';
import { cel, StringEnum, StringMap, Timestamp } from './schema-helpers.js';

export const ReplicationDestinationSpec = Type.Object(
  {
    trigger: Type.Optional(Trigger),
    paused: Type.Optional(Type.Boolean({ description: 'When true no new synchronization starts.' })),
    rsync: Type.Optional(
      Type.Object(
        {
          ...DestinationVolumeOptions,
          ...RsyncConnectionOptions,
          ...MoverPodOptions,
          serviceAnnotations: Type.Optional(
            StringMap({
              description:
                "Annotations of the destination's Service (a cloud load balancer's settings, say). Applied when Scribe creates the Service; an existing Service keeps its annotations (docs/mover-pods.md).",
            }),
          ),
        },
        cel(destinationCapacityRule('rsync'), DESTINATION_RSYNC_LISTENS),
      ),
    ),
    rclone: Type.Optional(
      Type.Object(
        { ...DestinationVolumeOptions, ...RcloneOptions, ...MoverPodOptions },
        cel(destinationCapacityRule('rclone')),
      ),
    ),
    restic: Type.Optional(
      Type.Object(
        {
          ...DestinationVolumeOptions,
          ...ResticCacheOptions,
          ...MoverPodOptions,
          restoreAsOf: Type.Optional(
            Timestamp({ description: 'Restore the newest snapshot taken at or before this time.' }),
          ),
          previous: Type.Optional(
            Type.Integer({ minimum: 0, description: 'Skip this many of the newest matching snapshots.' }),
          ),
          enableFileDeletion: Type.Optional(
            Type.Boolean({
              default: false,
              description:
                'When true, files in the volume that the restored snapshot lacks are deleted, so the volume equals the snapshot; when false they are kept.',
            }),
          ),
        },
        cel(destinationCapacityRule('restic')),
      ),
    ),
    external: Type.Optional(ExternalSpec),
  },
  cel(EXACTLY_ONE_MOVER),
);
export type ReplicationDestinationSpec = Static<typeof ReplicationDestinationSpec>;

export const LatestImage = Type.Object({
  apiGroup: Type.Optional(Type.String()),
  kind: StringEnum(['VolumeSnapshot', 'PersistentVolumeClaim'] as const),
  name: Type.String(),
});
export type LatestImage = Static<typeof LatestImage>;

export const ReplicationDestinationStatus = Type.Object({
  ...CommonStatus,
  latestImage: Type.Optional(LatestImage),
  ...PublishedMoverStatus,
});
export type ReplicationDestinationStatus = Static<typeof ReplicationDestinationStatus>;

export interface ReplicationDestination {
  apiVersion: 'scribe.backube/v1alpha1';
  kind: 'ReplicationDestination';
  metadata: V1ObjectMeta;
  spec: ReplicationDestinationSpec;
  status?: ReplicationDestinationStatus;
}
