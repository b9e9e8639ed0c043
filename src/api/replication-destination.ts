/** The ReplicationDestination kind: where a copy lands and how it is preserved. */
import { Type, type Static } from '@sinclair/typebox';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { CommonStatus, ExternalSpec, Trigger } from './common.js';
import { exactlyOneMover, MOVER_SCHEMAS, moverSections, type MoverSchemas } from './movers.js';
import { cel, StringEnum, StringMap, Timestamp } from './schema-helpers.js';

/** The spec schema of a ReplicationDestination with a section for each of `movers`. */
export function replicationDestinationSpec<const M extends readonly MoverSchemas[]>(movers: M) {
  return Type.Object(
    {
      trigger: Type.Optional(Trigger),
      paused: Type.Optional(Type.Boolean({ description: 'When true no new synchronization starts.' })),
      ...moverSections(movers, 'destination'),
      external: Type.Optional(ExternalSpec),
    },
    cel(exactlyOneMover(movers)),
  );
}

export const ReplicationDestinationSpec = replicationDestinationSpec(MOVER_SCHEMAS);
export type ReplicationDestinationSpec = Static<typeof ReplicationDestinationSpec>;

export const LatestImage = Type.Object({
  apiGroup: Type.Optional(Type.String()),
  kind: StringEnum(['VolumeSnapshot', 'PersistentVolumeClaim'] as const),
  name: Type.String(),
});
export type LatestImage = Static<typeof LatestImage>;

/** One image a copyMethod Snapshot destination keeps (status.images, oldest first). */
export const DestinationImage = Type.Object({
  apiGroup: StringEnum(['snapshot.storage.k8s.io'] as const),
  kind: StringEnum(['VolumeSnapshot'] as const),
  name: Type.String(),
  time: Timestamp({ description: "When the image was taken: the destination sync's completion." }),
  sourceSyncTime: Type.Optional(
    Timestamp({ description: "When the source's data in the image was taken, where the mover knows it." }),
  ),
});
export type DestinationImage = Static<typeof DestinationImage>;

/** The status schema of a ReplicationDestination with what each of `movers` publishes. */
export function replicationDestinationStatus<const M extends readonly MoverSchemas[]>(movers: M) {
  return Type.Object({
    ...CommonStatus,
    latestImage: Type.Optional(LatestImage),
    images: Type.Optional(
      Type.Array(DestinationImage, {
        description: 'The images kept (spec.<mover>.imagesToKeep), oldest first; the last is latestImage.',
      }),
    ),
    ...moverSections(movers, 'published'),
    external: Type.Optional(StringMap()),
  });
}

export const ReplicationDestinationStatus = replicationDestinationStatus(MOVER_SCHEMAS);
export type ReplicationDestinationStatus = Static<typeof ReplicationDestinationStatus>;

export interface ReplicationDestination {
  apiVersion: 'scribe.backube/v1alpha1';
  kind: 'ReplicationDestination';
  metadata: V1ObjectMeta;
  spec: ReplicationDestinationSpec;
  status?: ReplicationDestinationStatus;
}
