/**
 * The restic mover's spec sections and published status, as TypeBox schemas and their static
 * types: the API (src/api) builds the CRDs from them and the mover reads the CR through them.
 * Pure: TypeBox and the API's shared parts only.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  AccessModes,
  CustomCA,
  DestinationVolumeOptions,
  destinationCapacityRule,
  MoverPodOptions,
  SourceVolumeOptions,
} from '../../api/common.js';
import { cel, ObjectName, Quantity, Timestamp } from '../../api/schema-helpers.js';

/** The repository and restic's cache, the same on both sides. */
export const ResticCacheOptions = {
  customCA: Type.Optional(CustomCA),
  repository: ObjectName({ description: 'Secret with RESTIC_REPOSITORY, RESTIC_PASSWORD and backend credentials.' }),
  cacheCapacity: Type.Optional(Quantity({ default: '1Gi' })),
  cacheStorageClassName: Type.Optional(ObjectName()),
  cacheAccessModes: Type.Optional(AccessModes),
};

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

/** spec.restic of a ReplicationSource. */
export const ResticSourceOptions = Type.Object({
  ...SourceVolumeOptions,
  ...ResticCacheOptions,
  ...MoverPodOptions,
  pruneIntervalDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 7 })),
  retain: Type.Optional(ResticRetain),
});
export type ResticSourceOptions = Static<typeof ResticSourceOptions>;

/** spec.restic of a ReplicationDestination. */
export const ResticDestinationOptions = Type.Object(
  {
    ...DestinationVolumeOptions,
    ...ResticCacheOptions,
    ...MoverPodOptions,
    restoreAsOf: Type.Optional(Timestamp({ description: 'Restore the newest snapshot taken at or before this time.' })),
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
);
export type ResticDestinationOptions = Static<typeof ResticDestinationOptions>;

/** status.restic: when the repository was last pruned. */
export const ResticPublished = Type.Object({ lastPruned: Type.Optional(Timestamp()) });

/** The restic mover's schemas, as the API's catalog of mover schemas takes them. */
export const RESTIC_SCHEMAS = {
  kind: 'restic',
  source: ResticSourceOptions,
  destination: ResticDestinationOptions,
  published: ResticPublished,
} as const;
