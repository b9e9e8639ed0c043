/**
 * Entrypoint of the restic destination mover: restores a snapshot into the volume. Files the
 * snapshot lacks are kept unless SCRIBE_ENABLE_FILE_DELETION is true (enableFileDeletion,
 * decision 20): the volume may be the user's own PVC. lost+found is left alone either way.
 *
 * Environment. The repository Secret's keys pass through to restic, never printed (see source.ts):
 *   RESTIC_REPOSITORY, RESTIC_PASSWORD, AWS_* …                                      (required)
 * Scribe's settings:
 *   SCRIBE_DATA_DIR             the volume to restore into                             (/data)
 *   SCRIBE_CACHE_DIR            restic's --cache-dir, created if missing               (/cache)
 *   SCRIBE_RESTIC_HOST          only snapshots recorded with this host name count     (scribe)
 *   SCRIBE_RESTORE_AS_OF        RFC 3339: restore the newest snapshot taken at or before it
 *   SCRIBE_PREVIOUS             skip this many of the newest matching snapshots           (0)
 *   SCRIBE_ENABLE_FILE_DELETION true: delete files the snapshot lacks, so the volume
 *                               equals the snapshot                                   (false)
 *   SCRIBE_REPOSITORY_TIMEOUT_SECONDS  deadline for opening the repository and listing (120)
 *   SCRIBE_RESTIC_LIMIT_DOWNLOAD_KIB   restic --limit-download                          (none)
 *   SCRIBE_RESTIC               restic executable, name on PATH or path               (restic)
 *
 * The repository is never initialized here; it is opened with `unlock`, which removes a killed
 * earlier attempt's stale lock (pid-gap.ts). Before anything in the volume is touched the
 * repository is opened and a snapshot chosen; when none matches the restore fails (an empty
 * volume must never pass for a successful restore, VolSync issue 1211). A snapshot of an empty
 * volume holds the volume's directory rather than its contents (layout.ts); what is restored is
 * that directory's contents, so such a restore writes nothing and, with file deletion, empties
 * the volume (which restic does not do for an empty tree, so the mover does; layout.ts).
 *
 * Output: restic's output (redacted), `scribe restic restore: …` lines, `scribe progress: …`
 * every 5 s while the restore runs and once when it ends (files and bytes written, from
 * restic's JSON status lines, which are not printed themselves; see status.ts), restic's JSON
 * summary of the restore, a summary block and a final `scribe restic restore: result: …` line.
 *
 * Exit code: 0 success; 1 configuration error or other failure; 4 no snapshot matches;
 * 10 the repository does not exist; 11 locked; 12 wrong password; 124 repository unreachable;
 * 128+n on signal n.
 */
import { restoreArgs, snapshotsArgs, unlockArgs } from './args.js';
import { destinationConfig } from './config.js';
import { emptyVolume, restoredTreeWasEmpty, restoreSource } from './layout.js';
import { EXIT } from './outcome.js';
import { leavePidGap } from './pid-gap.js';
import { MoverFailure, ResticSession } from './session.js';
import { noSnapshotReason, parseSnapshots, selectSnapshot } from './snapshots.js';

const session = new ResticSession('restore', process.env);

async function restore(): Promise<string> {
  const config = destinationConfig(process.env);
  session.prepareCache(config);
  // Opening with unlock removes the stale lock of a killed earlier attempt (as the backup does),
  // which would otherwise stay for 30 minutes and block the source's forget and prune.
  await session.restic(config, 'open repository', unlockArgs(config), { deadline: true });
  leavePidGap((message) => session.log(message));
  const listing = await session.restic(config, 'snapshots', snapshotsArgs(config), {
    deadline: true,
    echoStdout: false,
  });
  const snapshots = parseSnapshots(listing.stdout);
  const selection = {
    previous: config.previous,
    ...(config.restoreAsOf === undefined ? {} : { restoreAsOf: config.restoreAsOf }),
  };
  const chosen = selectSnapshot(snapshots, selection);
  if (chosen === undefined)
    throw new MoverFailure({
      code: EXIT.noSnapshot,
      message: `nothing to restore: ${noSnapshotReason(snapshots.length, selection)} (host ${config.host}); the volume was left untouched`,
    });
  const id = chosen.short_id ?? chosen.id.slice(0, 8);
  const source = restoreSource(chosen);
  session.log(
    `restoring snapshot ${id} taken at ${chosen.time} into ${config.dataDir}` +
      (source === chosen.id
        ? ''
        : ` (a snapshot of an empty volume: the contents of its ${source.slice(chosen.id.length + 1)})`) +
      (config.enableFileDeletion
        ? '; files the snapshot lacks are deleted (enableFileDeletion)'
        : '; files the snapshot lacks are kept (enableFileDeletion is false)'),
  );
  const restored = await session.restic(
    config,
    'restore',
    restoreArgs(config, source, { deleteExtraFiles: config.enableFileDeletion }),
    { progress: 'restore' },
  );
  if (config.enableFileDeletion && restoredTreeWasEmpty(restored.stdout)) {
    const deleted = emptyVolume(config.dataDir);
    session.log(
      `removed ${deleted.length} ${deleted.length === 1 ? 'entry' : 'entries'} of the volume, as the snapshot holds an empty volume (enableFileDeletion)`,
    );
  }
  return `restored snapshot ${id} taken at ${chosen.time}`;
}

session.run(restore).then((code) => process.exit(code));
