/**
 * A fourth mover, defined only here: `copy` copies the volume with `cp -a` through a PVC of the
 * namespace (spec.copy.store): the source copies its volume into the store, the destination
 * copies the store into its volume. It is one module, like src/movers/<name>/index.ts, and joins
 * a catalog with catalogWith(copy): the CRDs, validation, the controller and `scribe mover` take
 * it from there (test/unit/movers/fourth-mover.test.ts, test/integration/api/fourth-mover.test.ts).
 * The shipped catalog does not list it, and the shipped image does not hold it: its Jobs run in
 * an image derived from it (image.ts; test/e2e/fourth-mover.test.ts runs it end to end).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ScribeCr } from '../../../machines/api.js';
import type {
  CommonMoverOptions,
  KubeObject,
  MoverCycle,
  MoverFacts,
  MoverPlan,
  ObjectRef,
} from '../../../machines/mover.js';
import { moverSections } from '../../../machines/mover.js';
import { moverPlacement } from '../../../machines/placement.js';
import { moverJobName } from '../../../src/movers/names.js';
import { describeIdentity, PRIVILEGED_DESTINATION_CAPABILITIES } from '../../../machines/privilege.js';
import {
  DestinationVolumeOptions,
  destinationCapacityRule,
  MoverPodOptions,
  SourceVolumeOptions,
} from '../../../src/api/common.js';
import { cel, ObjectName } from '../../../src/api/schema-helpers.js';
import type { MoverDescriptor } from '../../../src/movers/descriptor.js';
import { cycleData, identityOf, moverJob, readMoverJob } from '../../../src/movers/job.js';
import { exitExplainer } from '../../../src/movers/runtime/exit-codes.js';
import { COPY_SUMMARY } from './summary.js';

const StoreOption = { store: ObjectName({ description: 'The PVC the copies go through.' }) };

/** spec.copy of a ReplicationSource. */
export const CopySourceOptions = Type.Object({ ...SourceVolumeOptions, ...StoreOption, ...MoverPodOptions });
/** spec.copy of a ReplicationDestination. */
export const CopyDestinationOptions = Type.Object(
  { ...DestinationVolumeOptions, ...StoreOption, ...MoverPodOptions },
  cel(destinationCapacityRule('copy')),
);
type CopyOptions = Static<typeof CopySourceOptions> | Static<typeof CopyDestinationOptions>;

/** Where the entrypoints find the store. */
export const STORE_DIR = '/store';

/** Whether a mover section is a copy section (the API server checked it against the schemas above). */
function isCopyOptions(section: CommonMoverOptions | undefined): section is CopyOptions {
  return section !== undefined && 'store' in section && typeof section.store === 'string';
}

/** The CR's spec.copy (the API's static types know the shipped movers only). */
function options(cr: ScribeCr): CopyOptions | undefined {
  const section = moverSections(cr).find(([kind]) => kind === 'copy')?.[1];
  return isCopyOptions(section) ? section : undefined;
}

function required(cr: ScribeCr): CopyOptions {
  const copy = options(cr);
  if (!copy) throw new Error(`${cr.kind} ${cr.metadata.name ?? ''} has no valid spec.copy`);
  return copy;
}

/** The Job of a CR: scribe-copy-<src|dest>-<cr>. */
function jobName(cr: ScribeCr): string {
  return moverJobName('copy', cr);
}

/** The store must be another PVC than the volume: copying a volume into itself loses nothing but proves nothing. */
function validate(cr: ScribeCr): Array<{ field: string; message: string }> {
  const copy = options(cr);
  if (!copy) return [];
  const volume =
    cr.kind === 'ReplicationSource'
      ? cr.spec.sourcePVC
      : (copy as Static<typeof CopyDestinationOptions>).destinationPVC;
  return copy.store === volume
    ? [{ field: 'spec.copy.store', message: `must be another PVC than the volume itself (${volume})` }]
    : [];
}

function build(cr: ScribeCr, cycle: MoverCycle, facts: MoverFacts): MoverPlan {
  const copy = required(cr);
  const name = jobName(cr);
  const side = cr.kind === 'ReplicationSource' ? 'source' : 'destination';
  // The source writes the store as a destination writes its volume: privileged, it keeps owners,
  // modes and times there with the destination's capabilities.
  const identity = identityOf(
    cr,
    facts,
    copy.moverSecurityContext,
    side === 'source' ? PRIVILEGED_DESTINATION_CAPABILITIES : [],
  );
  const job = moverJob({
    mover: 'copy',
    name,
    entrypoint: `copy-${side}`,
    cycleId: cycle.cycleId,
    attempt: cycle.attempt,
    env: [
      { name: 'SCRIBE_DATA_DIR', value: '/data' },
      { name: 'SCRIBE_STORE_DIR', value: STORE_DIR },
    ],
    data: cycleData(cr, cycle),
    volumes: [
      {
        name: 'store',
        mountPath: STORE_DIR,
        // The destination only reads the store.
        readOnly: side === 'destination',
        source: { persistentVolumeClaim: { claimName: copy.store } },
      },
    ],
    identity,
    placement: moverPlacement(cr, facts.mounted, facts.volumeUsers ?? []),
    section: copy,
  });
  return {
    objects: [job],
    temporary: [{ apiVersion: 'batch/v1', kind: 'Job', name }],
    notice: describeIdentity(identity),
  };
}

const explainExit = exitExplainer({ 1: 'cp -a failed (see latestMoverStatus.logs)' });

function temporaryObjects(cr: ScribeCr): ObjectRef[] {
  return [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName(cr) }];
}

/** The copy mover. */
export const copy: MoverDescriptor = {
  kind: 'copy',
  matches: (cr) => moverSections(cr).some(([kind]) => kind === 'copy'),
  build,
  read: (cr, objects: readonly KubeObject[]) => readMoverJob(jobName(cr), objects, explainExit),
  temporaryObjects,
  schemas: {
    kind: 'copy',
    source: CopySourceOptions,
    destination: CopyDestinationOptions,
    published: Type.Object({}),
  },
  validate,
  names: { job: jobName },
  entrypoints: {
    source: new URL('./source.js', import.meta.url).href,
    destination: new URL('./destination.js', import.meta.url).href,
  },
  // Not part of the shipped image (image.ts adds its bundles to a derived one).
  bundled: [],
  summary: COPY_SUMMARY,
  explainExit,
};
