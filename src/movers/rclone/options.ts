/**
 * The rclone mover's spec sections and published status, as TypeBox schemas and their static
 * types: the API (src/api) builds the CRDs from them and the mover reads the CR through them.
 * Pure: TypeBox and the API's shared parts only.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  CustomCA,
  DestinationVolumeOptions,
  destinationCapacityRule,
  MoverPodOptions,
  SourceVolumeOptions,
} from '../../api/common.js';
import { cel, ObjectName } from '../../api/schema-helpers.js';

/** Where rclone copies to and from, the same on both sides. */
export const RcloneOptions = {
  customCA: Type.Optional(CustomCA),
  rcloneConfigSection: Type.String({ minLength: 1, maxLength: 253, description: 'Section of rclone.conf to use.' }),
  rcloneDestPath: Type.String({ minLength: 1, maxLength: 1024, description: 'Remote path (bucket/prefix).' }),
  rcloneConfig: ObjectName({ description: 'Secret whose rclone.conf key holds the rclone configuration.' }),
};

/** spec.rclone of a ReplicationSource. */
export const RcloneSourceOptions = Type.Object({ ...SourceVolumeOptions, ...RcloneOptions, ...MoverPodOptions });
export type RcloneSourceOptions = Static<typeof RcloneSourceOptions>;

/** spec.rclone of a ReplicationDestination. */
export const RcloneDestinationOptions = Type.Object(
  { ...DestinationVolumeOptions, ...RcloneOptions, ...MoverPodOptions },
  cel(destinationCapacityRule('rclone')),
);
export type RcloneDestinationOptions = Static<typeof RcloneDestinationOptions>;

/** status.rclone: nothing yet. */
export const RclonePublished = Type.Object({});

/** The rclone mover's schemas, as the API's catalog of mover schemas takes them. */
export const RCLONE_SCHEMAS = {
  kind: 'rclone',
  source: RcloneSourceOptions,
  destination: RcloneDestinationOptions,
  published: RclonePublished,
} as const;
