/**
 * The rclone mover as the operator runs it: the source syncs the volume to
 * `<rcloneConfigSection>:<rcloneDestPath>`, the destination syncs it back; rclone.conf comes
 * from the rcloneConfig Secret, mounted as a file.
 */
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject, MoverCycle, MoverFacts, MoverPlan, ObjectRef } from '../../../machines/mover.js';
import type { ObservedMover } from '../../../machines/observation.js';
import { moverPlacement } from '../../../machines/placement.js';
import { readsPointInTimeCopy } from '../../../machines/cycle.js';
import type { MoverRuntime } from '../catalog.js';
import { cycleData, identityOf, moverJob, readMoverJob } from '../job.js';
import { describeIdentity } from '../../../machines/privilege.js';
import type { RcloneDestinationOptions, RcloneSourceOptions } from './options.js';
import { exitExplainer } from '../runtime/exit-codes.js';
import { missingSecret, moverJobRef, withExplainedFailure } from '../runtime/mover-job.js';
import { customCAMount } from '../custom-ca.js';
import { ALLOW_COMMANDS_ENV } from '../commands.js';
import { jobName } from './names.js';

/** The CR's spec.rclone; only an rclone CR is built or read. */
function spec(cr: ScribeCr): RcloneSourceOptions | RcloneDestinationOptions {
  const rclone = cr.kind === 'ReplicationSource' ? cr.spec.rclone : cr.spec.rclone;
  if (!rclone) throw new Error(`${cr.kind} ${cr.metadata.name ?? ''} has no spec.rclone`);
  return rclone;
}

function build(cr: ScribeCr, cycle: MoverCycle, facts: MoverFacts): MoverPlan {
  const rclone = spec(cr);
  const name = jobName(cr);
  const identity = identityOf(cr, facts, rclone.moverSecurityContext);
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
      // rclone.conf's options that run programs only where movers may be privileged (commands.ts).
      { name: ALLOW_COMMANDS_ENV, value: facts.privilegedNamespace ? 'true' : 'false' },
      ...customCAMount(rclone.customCA).env,
      ...(readsPointInTimeCopy(cr) ? [{ name: 'SCRIBE_VOLUME_POINT_IN_TIME', value: 'true' }] : []),
    ],
    data: cycleData(cr, cycle),
    volumes: [
      {
        name: 'rclone-config',
        mountPath: '/rclone-config',
        readOnly: true,
        source: { secret: { secretName: rclone.rcloneConfig, defaultMode: 0o600 } },
      },
      ...customCAMount(rclone.customCA).volumes,
    ],
    identity,
    placement: moverPlacement(cr, facts.mounted, facts.volumeUsers ?? []),
    section: rclone,
  });
  return {
    objects: [job],
    temporary: [moverJobRef(name)],
    notice: describeIdentity(identity),
  };
}

/**
 * A failed mover's output said in terms of the field to fix, when it tells: an rcloneConfig
 * Secret without rclone.conf, or a rcloneConfigSection that rclone.conf does not have.
 */
export function explainRcloneFailure(cr: ScribeCr, logs: string): { field: string; message: string } | undefined {
  const rclone = spec(cr);
  if (/cannot read the rclone configuration/.test(logs))
    return {
      field: 'spec.rclone.rcloneConfig',
      message: `Secret "${rclone.rcloneConfig}" has no key "rclone.conf"; it must hold the rclone configuration under that key`,
    };
  const command = /rclone\.conf runs a program: ([^;\n]*)/.exec(logs);
  if (command)
    return {
      field: 'spec.rclone.rcloneConfig',
      message: `rclone.conf of Secret "${rclone.rcloneConfig}" has options that run a program: ${command[1]}; only a namespace annotated scribe.backube/privileged-movers=true allows them`,
    };
  const section = /rclone\.conf has no section \[[^\]\n]*\] \(SCRIBE_RCLONE_CONFIG_SECTION\); it has: ([^;\n]*)/.exec(
    logs,
  );
  if (section)
    return {
      field: 'spec.rclone.rcloneConfigSection',
      message: `rclone.conf of Secret "${rclone.rcloneConfig}" has no section [${rclone.rcloneConfigSection}]; it has: ${section[1]}`,
    };
  return undefined;
}

/** What the rclone entrypoints' exit codes mean: 1 is every failure of theirs. */
export const explainRcloneExit = exitExplainer({ 1: 'rclone failed (see latestMoverStatus.logs)' });

function read(cr: ScribeCr, objects: readonly KubeObject[]): ObservedMover {
  const observed = readMoverJob(
    jobName(cr),
    objects,
    explainRcloneExit,
    missingSecret('spec.rclone.rcloneConfig', spec(cr).rcloneConfig),
  );
  return withExplainedFailure(observed, (failed) => explainRcloneFailure(cr, failed.logs ?? ''));
}

function temporaryObjects(cr: ScribeCr): ObjectRef[] {
  return [moverJobRef(jobName(cr))];
}

/** The rclone mover. */
export const rcloneMover: MoverRuntime = {
  kind: 'rclone',
  matches: (cr) => (cr.spec as { rclone?: unknown }).rclone !== undefined,
  build,
  read,
  temporaryObjects,
};
