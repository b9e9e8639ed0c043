/**
 * The restic mover as the operator runs it: a backup Job at the source, a restore Job at the
 * destination, each with restic's documented keys of the repository Secret as environment
 * (secret-env.ts: never the whole Secret) and a cache PVC `scribe-cache-<src|dest>-<cr>` kept between
 * syncs (pure builders and reader, like the other movers).
 */
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject, MoverCycle, MoverFacts, MoverPlan, ObjectRef } from '../../../machines/mover.js';
import { objectLabels } from '../../../machines/naming.js';
import type { ObservedMover } from '../../../machines/observation.js';
import { moverPlacement } from '../../../machines/placement.js';
import { formatTimestamp } from '../../../machines/time.js';
import type { MoverRuntime } from '../catalog.js';
import { cycleData, identityOf, moverJob, readMoverJob } from '../job.js';
import { describeIdentity } from '../../../machines/privilege.js';
import { EXIT } from './outcome.js';
import { secretKeyEnv } from './secret-env.js';
import { ALLOW_COMMANDS_ENV } from '../commands.js';
import type { ResticDestinationOptions, ResticSourceOptions } from './options.js';
import { exitExplainer } from '../runtime/exit-codes.js';
import { missingSecret, moverJobRef, withExplainedFailure } from '../runtime/mover-job.js';
import { customCAMount } from '../custom-ca.js';
import { cacheNameOf, hostNameOf, jobName } from './names.js';

/** The CR's spec.restic; only a restic CR is built or read. */
function spec(cr: ScribeCr): ResticSourceOptions | ResticDestinationOptions {
  const restic = cr.kind === 'ReplicationSource' ? cr.spec.restic : cr.spec.restic;
  if (!restic) throw new Error(`${cr.kind} ${cr.metadata.name ?? ''} has no spec.restic`);
  return restic;
}

/**
 * Environment of the restic entrypoints from the CR and the namespace (the Secret's allowed keys
 * are added by build). Every SCRIBE_* variable is the operator's.
 */
function resticEnv(cr: ScribeCr, facts: MoverFacts): Array<{ name: string; value: string }> {
  const env = [
    { name: 'SCRIBE_DATA_DIR', value: '/data' },
    { name: 'SCRIBE_CACHE_DIR', value: '/cache' },
    // Repositories reached through a program (rclone:, sftp:) only where movers may be privileged.
    { name: ALLOW_COMMANDS_ENV, value: facts.privilegedNamespace ? 'true' : 'false' },
    // Snapshots keep the entrypoints' constant host tag, so a destination restores what any
    // source wrote (the seed: one repository per volume); the pod's stable hostname (below)
    // is what lets restic recognise a killed run's lock as stale.
  ];
  const add = (name: string, value: string | number | undefined) => {
    if (value !== undefined) env.push({ name, value: String(value) });
  };
  if (cr.kind === 'ReplicationSource') {
    const source = cr.spec.restic;
    for (const key of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
      add(`SCRIBE_RETAIN_${key.toUpperCase()}`, source?.retain?.[key]);
    }
    add('SCRIBE_RETAIN_WITHIN', source?.retain?.within);
    add('SCRIBE_PRUNE_INTERVAL_DAYS', source?.pruneIntervalDays ?? 7);
    // Never pruned yet: count from the CR's creation, so the first backup is not also a prune.
    const status = cr.status as { restic?: { lastPruned?: string } } | undefined;
    const created = cr.metadata.creationTimestamp as unknown as string | undefined; // JSON, not a Date
    add('SCRIBE_LAST_PRUNED', status?.restic?.lastPruned ?? created);
  } else {
    const destination = cr.spec.restic;
    add('SCRIBE_RESTORE_AS_OF', destination?.restoreAsOf);
    add('SCRIBE_PREVIOUS', destination?.previous);
    // Decision 20: a restore deletes nothing unless asked to (the volume may be the user's own).
    add('SCRIBE_ENABLE_FILE_DELETION', destination?.enableFileDeletion === true ? 'true' : 'false');
  }
  return env;
}

function build(cr: ScribeCr, cycle: MoverCycle, facts: MoverFacts): MoverPlan {
  const restic = spec(cr);
  const name = jobName(cr);
  const cache: KubeObject = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: cacheNameOf(cr), labels: objectLabels() },
    spec: {
      // Decision 12: cache settings fall back to the CR's, then to the source volume's.
      accessModes: restic.cacheAccessModes ?? restic.accessModes ?? facts.volume?.accessModes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: String(restic.cacheCapacity ?? '1Gi') } },
      ...((restic.cacheStorageClassName ?? restic.storageClassName ?? facts.volume?.storageClassName)
        ? {
            storageClassName: restic.cacheStorageClassName ?? restic.storageClassName ?? facts.volume?.storageClassName,
          }
        : {}),
    },
  };
  const identity = identityOf(cr, facts, restic.moverSecurityContext);
  const job = moverJob({
    mover: 'restic',
    name,
    entrypoint: cr.kind === 'ReplicationSource' ? 'restic-source' : 'restic-destination',
    cycleId: cycle.cycleId,
    attempt: cycle.attempt,
    env: [...resticEnv(cr, facts), ...customCAMount(restic.customCA).env, ...secretKeyEnv(restic.repository)],
    hostname: hostNameOf(cr),
    data: cycleData(cr, cycle),
    volumes: [
      { name: 'cache', mountPath: '/cache', source: { persistentVolumeClaim: { claimName: cache.metadata.name } } },
      ...customCAMount(restic.customCA).volumes,
    ],
    identity,
    placement: moverPlacement(cr, facts.mounted, facts.volumeUsers ?? []),
    section: restic,
  });
  return {
    objects: [cache, job],
    temporary: [moverJobRef(name)],
    notice: describeIdentity(identity),
  };
}

/** What the restic entrypoints' exit codes mean (outcome.ts). */
export const explainResticExit = exitExplainer({
  [EXIT.failed]: 'restic failed (see latestMoverStatus.logs)',
  [EXIT.partialBackup]: 'some files could not be read: the incomplete snapshot is not kept',
  [EXIT.noSnapshot]: 'no snapshot matches: nothing was restored (check restoreAsOf and previous)',
  [EXIT.noRepository]: 'the repository or its bucket does not exist',
  [EXIT.locked]: 'the repository is locked by another restic process',
  [EXIT.wrongPassword]: 'RESTIC_PASSWORD does not open the repository',
  [EXIT.unreachable]: "the repository's back end did not answer",
});

/**
 * A failed mover's output said in terms of the repository Secret (spec.restic.repository), when
 * the failure is the Secret's: a required key it lacks, a password that does not open the
 * repository, a repository or back end that is not there.
 */
export function explainResticFailure(
  cr: ScribeCr,
  code: number | undefined,
  logs: string,
): { field: string; message: string } | undefined {
  const repository = spec(cr).repository;
  if (/RESTIC_REPOSITORY and RESTIC_PASSWORD are not set/.test(logs))
    return {
      field: 'spec.restic.repository',
      message: `Secret "${repository}" does not exist or holds neither RESTIC_REPOSITORY nor RESTIC_PASSWORD; it must hold both and the back end's credentials`,
    };
  if (/RESTIC_REPOSITORY runs a program/.test(logs))
    return {
      field: 'spec.restic.repository',
      message: `RESTIC_REPOSITORY of Secret "${repository}" names a repository reached through a program (rclone: or sftp:), which only a namespace annotated scribe.backube/privileged-movers=true allows`,
    };
  const unset = /(RESTIC_REPOSITORY|RESTIC_PASSWORD) must be set/.exec(logs);
  if (unset)
    return {
      field: 'spec.restic.repository',
      message: `Secret "${repository}" has no ${unset[1]} key; it must hold RESTIC_REPOSITORY, RESTIC_PASSWORD and the back end's credentials`,
    };
  const byCode: Record<number, string> = {
    [EXIT.wrongPassword]: `RESTIC_PASSWORD of Secret "${repository}" does not open the repository (it is never re-initialized)`,
    [EXIT.noRepository]: `the repository that RESTIC_REPOSITORY of Secret "${repository}" names does not exist`,
    [EXIT.unreachable]: `the back end that RESTIC_REPOSITORY of Secret "${repository}" names did not answer`,
  };
  const message = code === undefined ? undefined : byCode[code];
  return message === undefined ? undefined : { field: 'spec.restic.repository', message };
}

function read(cr: ScribeCr, objects: readonly KubeObject[]): ObservedMover {
  let observed = withExplainedFailure(
    readMoverJob(jobName(cr), objects, explainResticExit, missingSecret('spec.restic.repository', spec(cr).repository)),
    (failed) => explainResticFailure(cr, failed.exitCode, failed.logs ?? ''),
  );
  const pruned = /lastPruned=(\S+)/.exec(observed.logs ?? '')?.[1];
  if (pruned && observed.phase === 'succeeded') observed = { ...observed, published: { lastPruned: pruned } };
  return cr.kind === 'ReplicationDestination' ? withRestoredSnapshotTime(observed) : observed;
}

/**
 * A restore's summary says when the restored snapshot was taken ("restored snapshot <id> taken
 * at <time>"): the time of the source's data in the destination's image (status.images).
 */
export function withRestoredSnapshotTime(observed: ObservedMover): ObservedMover {
  const taken = /restored snapshot \S+ taken at (\S+?);?(?:\s|$)/.exec(observed.logs ?? '')?.[1];
  const ms = taken === undefined ? Number.NaN : Date.parse(taken);
  if (observed.phase !== 'succeeded' || Number.isNaN(ms)) return observed;
  return { ...observed, sourceSyncTime: formatTimestamp(ms) };
}

function temporaryObjects(cr: ScribeCr): ObjectRef[] {
  return [moverJobRef(jobName(cr))];
}

/** The restic mover. */
export const resticMover: MoverRuntime = {
  kind: 'restic',
  matches: (cr) => (cr.spec as { restic?: unknown }).restic !== undefined,
  build,
  read,
  temporaryObjects,
};
