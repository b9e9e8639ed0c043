/**
 * The rsync mover's spec sections and published status, as TypeBox schemas and their static
 * types: the API (src/api) builds the CRDs from them and the mover reads the CR through them.
 * Pure: TypeBox and the API's shared parts only.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  DestinationVolumeOptions,
  destinationCapacityRule,
  MoverPodOptions,
  SourceVolumeOptions,
} from '../../api/common.js';
import { cel, ObjectName, StringEnum, StringMap } from '../../api/schema-helpers.js';

/**
 * Decision 16: data direction comes from the kind. A source only sends, so it connects to its
 * destination's address; a destination only receives, so it listens and has no address. The
 * reverse topologies (a listening source, a pulling destination) are refused, not guessed at.
 */
export const SOURCE_RSYNC_CONNECTS = {
  rule: 'has(self.address)',
  message:
    "spec.rsync.address is required: a ReplicationSource only sends, to its ReplicationDestination's status.rsync.address",
};
export const DESTINATION_RSYNC_LISTENS = {
  rule: '!has(self.address)',
  message:
    'spec.rsync.address is not allowed: a ReplicationDestination only receives; it listens for its source and never connects out',
};

/** rsync connection options shared by both sides (seed: address, port, sshUser, path, sshKeys). */
export const RsyncConnectionOptions = {
  sshKeys: Type.Optional(ObjectName({ description: 'Secret holding the SSH keys; generated when absent.' })),
  serviceType: Type.Optional(StringEnum(['ClusterIP', 'LoadBalancer'] as const, { default: 'ClusterIP' })),
  address: Type.Optional(
    Type.String({ minLength: 1, maxLength: 253, description: 'Address of the remote ssh server.' }),
  ),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 22 })),
  path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^/', default: '/' })),
  sshUser: Type.Optional(
    Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z_][a-z0-9_-]*[$]?$', default: 'root' }),
  ),
};

/** spec.rsync of a ReplicationSource. */
export const RsyncSourceOptions = Type.Object(
  { ...SourceVolumeOptions, ...RsyncConnectionOptions, ...MoverPodOptions },
  cel(SOURCE_RSYNC_CONNECTS),
);
export type RsyncSourceOptions = Static<typeof RsyncSourceOptions>;

/** spec.rsync of a ReplicationDestination. */
export const RsyncDestinationOptions = Type.Object(
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
);
export type RsyncDestinationOptions = Static<typeof RsyncDestinationOptions>;

/** status.rsync: where a destination listens and which key Secret its source needs. */
export const RsyncPublished = Type.Object({
  address: Type.Optional(Type.String()),
  port: Type.Optional(Type.Integer()),
  sshKeys: Type.Optional(Type.String()),
});

/** The rsync mover's schemas, as the API's catalog of mover schemas takes them. */
export const RSYNC_SCHEMAS = {
  kind: 'rsync',
  source: RsyncSourceOptions,
  destination: RsyncDestinationOptions,
  published: RsyncPublished,
} as const;
