/**
 * Entrypoint of the restic source mover: backs the volume up into the repository, applies the
 * retention policy, and prunes when due.
 *
 * Environment. The repository Secret's keys arrive as they are and go to restic only (never
 * printed; values of *PASSWORD*, *SECRET*, *TOKEN*, *KEY* … variables and URL credentials are
 * redacted from every line):
 *   RESTIC_REPOSITORY, RESTIC_PASSWORD   the repository and its password            (required)
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, … any other variable restic's back ends read
 * Scribe's settings (defaults are the container's layout):
 *   SCRIBE_DATA_DIR             the volume to back up                                   (/data)
 *   SCRIBE_CACHE_DIR            restic's --cache-dir (the cache PVC), created if missing (/cache)
 *   SCRIBE_RESTIC_HOST          host name recorded in snapshots and used to select them (scribe)
 *   SCRIBE_RETAIN_LAST, _HOURLY, _DAILY, _WEEKLY, _MONTHLY, _YEARLY   counts (0 = no rule)
 *   SCRIBE_RETAIN_WITHIN        e.g. 3w15h (weeks become days for restic)
 *                               With no retain rule at all nothing is forgotten: every snapshot is kept.
 *   SCRIBE_PRUNE_INTERVAL_DAYS  days between prunes                                      (7)
 *   SCRIBE_LAST_PRUNED          RFC 3339 time of the last prune (status.restic.lastPruned);
 *                               unset = never pruned, so a prune runs
 *   SCRIBE_REPOSITORY_TIMEOUT_SECONDS  how long opening the repository may take before it
 *                               counts as unreachable (restic itself retries for 15 min)  (120)
 *   SCRIBE_RESTIC_LIMIT_UPLOAD_KIB     restic --limit-upload                             (none)
 *   SCRIBE_RESTIC               restic executable, name on PATH or path               (restic)
 *
 * Steps: `backup .` from the data directory excluding lost+found (an empty volume: the data
 * directory itself from its parent, tagged, as restic cannot save a snapshot with nothing at its
 * root; layout.ts), which opens the repository
 * itself (the deadline holds until its first output line, which restic prints only once the
 * repository is open); when restic says the repository does not exist (exit 10) it is
 * initialized and the backup runs again (a wrong password or an unreachable endpoint is an
 * error, never a reason to initialize); `forget` with the policy; `prune` when due. A step that
 * finds the repository locked (a killed earlier attempt's stale lock) removes stale locks with
 * `restic unlock` and runs once more (session.ts). Every restic call spends about half a
 * second deriving the repository key (scrypt), so a cycle makes only the calls a user would:
 * backup and forget (bench/restic.ts).
 *
 * Output: restic's output (redacted), `scribe restic backup: …` lines for each step,
 * `scribe progress: …` every 5 s while the backup runs and once when it ends (files and bytes
 * restic has read, from its JSON status lines, which are not printed themselves; status.ts and
 * ../runtime/progress.ts: what `kubectl scribe sync` shows), restic's JSON summary of the backup,
 * `scribe restic: lastPruned=<RFC 3339>` after a prune, a summary block for
 * status.latestMoverStatus (summary.ts) and a final `scribe restic backup: result: …` line.
 *
 * Exit code: 0 success; 1 configuration error or other failure; 3 some files could not be read
 * (restic saved an incomplete snapshot, which is forgotten at once, so that no restore picks a
 * copy that missed files; the policy's forget and prune skipped; ../permissions.ts); 11 locked by a live restic; 12 wrong
 * password; 124 repository unreachable; 128+n on signal n.
 */
import { forgetArgs, forgetSnapshotArgs, backupArgs, initArgs, pruneArgs } from './args.js';
import { sourceConfig } from './config.js';
import { backupTarget, isEmptyVolume } from './layout.js';
import { EXIT, explainFailure } from './outcome.js';
import { isPruneDue, lastPrunedLine } from './prune.js';
import { keepFlags } from './retain.js';
import { MoverFailure, ResticSession } from './session.js';
import { forgetCounts } from './summary.js';

const session = new ResticSession('backup', process.env);

async function backup(): Promise<string> {
  const config = sourceConfig(process.env);
  session.prepareCache(config);
  const empty = isEmptyVolume(config.dataDir);
  const target = backupTarget(config.dataDir, empty);
  session.log(
    empty
      ? `backing up ${config.dataDir}: the volume is empty, so its directory is saved as the snapshot's one entry (tag ${target.tags.join(',')})`
      : `backing up ${config.dataDir}`,
  );
  const runBackup = (allowMissing: boolean) =>
    session.resticClearingStaleLocks(config, 'backup', backupArgs(config, target), {
      cwd: target.cwd,
      progress: 'backup',
      deadline: 'until-output',
      allow: [EXIT.partialBackup, ...(allowMissing ? [EXIT.noRepository] : [])],
    });
  let backedUp = await runBackup(true);
  if (backedUp.status === EXIT.noRepository) {
    session.log('the repository does not exist yet; initializing it');
    await session.restic(config, 'init', initArgs(config), { deadline: true });
    session.log('initialized a new repository');
    backedUp = await runBackup(false);
  }
  if (backedUp.status === EXIT.partialBackup) {
    // restic saved what it could read: that snapshot goes, or the next restore would take it.
    const failure = explainFailure('backup', backedUp.status, backedUp.stderr, false);
    const id = snapshotId(backedUp.stdout);
    if (id !== undefined) {
      await session.resticClearingStaleLocks(
        config,
        'forget of the incomplete snapshot',
        forgetSnapshotArgs(config, id),
      );
      session.log(`forgot the incomplete snapshot ${id.slice(0, 8)}`);
    }
    throw new MoverFailure(failure);
  }

  const forget = forgetArgs(config, config.retain);
  if (forget === undefined) session.log('forget skipped: no retain policy, every snapshot is kept');
  else {
    const result = await session.resticClearingStaleLocks(config, 'forget', [...forget, '--json'], {
      echoStdout: false,
    });
    const { kept, removed } = forgetCounts(result.stdout);
    session.log(`forget: kept ${kept}, removed ${removed} snapshot(s) (${keepFlags(config.retain).join(' ')})`);
  }

  const now = new Date();
  if (isPruneDue(config.lastPruned, config.pruneIntervalDays, now)) {
    session.log('prune: due, running');
    await session.resticClearingStaleLocks(config, 'prune', pruneArgs(config));
    session.print(lastPrunedLine(now));
  } else
    session.log(`prune: not due (last ${config.lastPruned?.toISOString()}, every ${config.pruneIntervalDays} days)`);
  return 'backup succeeded';
}

/** The id of the snapshot a `backup --json` saved (its summary object), if it says one. */
function snapshotId(stdout: string): string | undefined {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.includes('"snapshot_id"')) continue;
    try {
      const id = (JSON.parse(line) as { snapshot_id?: unknown }).snapshot_id;
      if (typeof id === 'string' && /^[0-9a-f]{64}$/.test(id)) return id;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

session.run(backup).then((code) => process.exit(code));
