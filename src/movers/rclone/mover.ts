/**
 * The rclone mover as the operator runs it: the source syncs the volume to
 * `<rcloneConfigSection>:<rcloneDestPath>`, the destination syncs it back; rclone.conf comes
 * from the rcloneConfig Secret, mounted as a file.
 */
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject, MoverCycle, MoverPlan, ObjectRef } from '../../../machines/mover.js';
import { rcloneDestinationName, rcloneSourceName } from '../../../machines/naming.js';
import type { ObservedMover } from '../../../machines/observation.js';
import type { MoverRuntime } from '../catalog.js';
import { moverJob, readMoverJob } from '../job.js';

interface RcloneSpec {
  rcloneConfigSection: string;
  rcloneDestPath: string;
  rcloneConfig: string;
}

const spec = (cr: ScribeCr) => (cr.spec as { rclone: RcloneSpec }).rclone;
const jobName = (cr: ScribeCr) =>
  cr.kind === 'ReplicationSource'
    ? rcloneSourceName(cr.metadata.name ?? '')
    : rcloneDestinationName(cr.metadata.name ?? '');

function build(cr: ScribeCr, cycle: MoverCycle): MoverPlan {
  const rclone = spec(cr);
  const name = jobName(cr);
  const job = moverJob({
    mover: 'rclone',
    name,
    entrypoint: cr.kind === 'ReplicationSource' ? 'rclone-source' : 'rclone-destination',
    cycleId: cycle.cycleId,
    attempt: cycle.attempt,
    env: [
      { name: 'SCRIBE_DATA_DIR', value: '/data' },
      { name: 'SCRIBE_RCLONE_CONFIG', value: '/rclone-config/rclone.conf' },
      { name: 'SCRIBE_RCLONE_CONFIG_SECTION', value: rclone.rcloneConfigSection },
      { name: 'SCRIBE_RCLONE_DEST_PATH', value: rclone.rcloneDestPath },
    ],
    volumes: [
      { name: 'data', mountPath: '/data', source: { persistentVolumeClaim: { claimName: cycle.volume } } },
      {
        name: 'rclone-config',
        mountPath: '/rclone-config',
        readOnly: true,
        source: { secret: { secretName: rclone.rcloneConfig, defaultMode: 0o600 } },
      },
    ],
  });
  return { objects: [job], temporary: [{ apiVersion: 'batch/v1', kind: 'Job', name }] };
}

function read(cr: ScribeCr, objects: readonly KubeObject[]): ObservedMover {
  const secret = spec(cr).rcloneConfig;
  return readMoverJob(
    jobName(cr),
    objects,
    (code) => (code === 1 ? 'rclone failed (see latestMoverStatus.logs)' : 'unexpected error'),
    (message) =>
      message.includes(secret)
        ? [{ field: 'spec.rclone.rcloneConfig', message: `Secret "${secret}" does not exist (${message})` }]
        : [],
  );
}

function temporaryObjects(cr: ScribeCr): ObjectRef[] {
  return [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName(cr) }];
}

/** The rclone mover. */
export const rcloneMover: MoverRuntime = {
  kind: 'rclone',
  matches: (cr) => (cr.spec as { rclone?: unknown }).rclone !== undefined,
  build,
  read,
  temporaryObjects,
};
