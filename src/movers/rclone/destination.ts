/**
 * Entrypoint of the rclone destination mover: makes the volume equal `<section>:<destPath>`
 * (`rclone sync` from the remote, which it never writes to), then re-applies ownership,
 * permissions, empty directories, symlinks, ACLs, extended attributes and mtimes from the
 * source's metadata record.
 *
 * Environment: as the source (see source.ts): SCRIBE_RCLONE_CONFIG,
 * SCRIBE_RCLONE_CONFIG_SECTION, SCRIBE_RCLONE_DEST_PATH, SCRIBE_DATA_DIR (the volume to fill),
 * SCRIBE_RUN_DIR, SCRIBE_RCLONE, RCLONE_*. Ownership is set only when running as root.
 *
 * The record is fetched before the volume is touched: when it is missing (nothing replicated
 * yet, wrong bucket) or the remote is unreachable, the run fails and the volume is unchanged.
 *
 * Output: rclone's log (-v), `scribe rclone destination: …` lines, `scribe progress: …` every
 * 5 s while the data is synced and once when it is (files written and their sizes, from
 * rclone's `Copied` lines; see progress.ts), a summary block ending with
 * `scribe rclone destination: result: …`.
 *
 * Exit code: 0 success; 1 configuration error, rclone failure (its exit code is in the
 * message), a missing or malformed record, or a failure applying it; 128+n on signal n.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyRecord } from './apply.js';
import { downloadArgs, downloadRecordArgs } from './args.js';
import { rcloneConfig } from './config.js';
import { parseRecord, RECORD_NAME } from './record.js';
import { RcloneFailure, RcloneSession } from './session.js';

const session = new RcloneSession('destination', process.env);

async function receive(): Promise<string> {
  const config = rcloneConfig(process.env, tmpdir());
  const settings = session.prepare(config);
  const recordFile = join(settings.runDir, 'record.json');
  await session.probe(config, settings);
  try {
    await session.rclone(config, `fetch of ${RECORD_NAME}`, downloadRecordArgs(settings, recordFile));
  } catch (error) {
    throw new RcloneFailure(
      `${(error as Error).message} (has the source synchronized to ${config.remote} yet? the volume was left untouched)`,
    );
  }
  // copyto of a missing object in an existing bucket copies nothing and succeeds.
  if (!existsSync(recordFile))
    throw new RcloneFailure(
      `no ${RECORD_NAME} at ${config.remote}: the source has not synchronized there yet, or rcloneDestPath is wrong; the volume was left untouched`,
    );
  const record = parseRecord(readFileSync(recordFile, 'utf8'));
  session.log(`fetched the record of ${record.entries.length} entries made at ${record.createdAt}`);
  await session.rclone(config, 'sync', downloadArgs(settings), { progress: true });
  const report = applyRecord(config.dataDir, record, settings.runDir, process.getuid?.() === 0);
  session.log(
    `applied the record: ${report.removed} removed, ${report.created} created, ACLs ${report.aclsApplied ? 'restored' : 'none'}` +
      `, extended attributes ${report.xattrsSet} set, ${report.xattrsRemoved} removed` +
      (report.ownershipSkipped ? '; ownership not set (not running as root)' : '') +
      (report.xattrsSkipped ? `; ${report.xattrsSkipped} security.capability not set (not running as root)` : '') +
      (report.rootSkipped ? "; the volume root's mode and times left as they are (another user's)" : ''),
  );
  return `synchronized ${record.entries.length} entries from ${config.remote}`;
}

session.run(receive).then((code) => process.exit(code));
