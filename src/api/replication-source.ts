/** The ReplicationSource kind: what to copy, when, and with which mover. */
import { Type, type Static } from '@sinclair/typebox';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { CommonStatus, ExternalSpec, Trigger } from './common.js';
import { exactlyOneMover, MOVER_SCHEMAS, moverSections, type MoverSchemas } from './movers.js';
import { cel, ObjectName, StringMap } from './schema-helpers.js';

export { ResticRetain } from '../movers/restic/options.js';

/** The spec schema of a ReplicationSource with a section for each of `movers`. */
export function replicationSourceSpec<const M extends readonly MoverSchemas[]>(movers: M) {
  return Type.Object(
    {
      sourcePVC: Type.Optional(ObjectName({ description: 'The PVC to replicate, in the same namespace.' })),
      trigger: Type.Optional(Trigger),
      paused: Type.Optional(Type.Boolean({ description: 'When true no new synchronization starts.' })),
      ...moverSections(movers, 'source'),
      external: Type.Optional(ExternalSpec),
    },
    cel(exactlyOneMover(movers), {
      rule: 'has(self.external) || has(self.sourcePVC)',
      message: 'spec.sourcePVC is required: name the PVC to replicate',
    }),
  );
}

/** The status schema of a ReplicationSource with what each of `movers` publishes. */
export function replicationSourceStatus<const M extends readonly MoverSchemas[]>(movers: M) {
  return Type.Object({
    ...CommonStatus,
    ...moverSections(movers, 'published'),
    external: Type.Optional(StringMap()),
  });
}

export const ReplicationSourceSpec = replicationSourceSpec(MOVER_SCHEMAS);
export type ReplicationSourceSpec = Static<typeof ReplicationSourceSpec>;

export const ReplicationSourceStatus = replicationSourceStatus(MOVER_SCHEMAS);
export type ReplicationSourceStatus = Static<typeof ReplicationSourceStatus>;

export interface ReplicationSource {
  apiVersion: 'scribe.backube/v1alpha1';
  kind: 'ReplicationSource';
  metadata: V1ObjectMeta;
  spec: ReplicationSourceSpec;
  status?: ReplicationSourceStatus;
}
