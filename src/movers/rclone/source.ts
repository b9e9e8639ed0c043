/**
 * Entrypoint of the rclone source mover: makes `<section>:<destPath>` equal the volume
 * (`rclone sync`), then uploads the metadata record (ownership, permissions, mtimes, symlinks,
 * empty directories, ACLs, extended attributes; format in record.ts) beside the data. One source feeds any number of
 * destinations, which only read.
 *
 * Environment (defaults are the container's layout):
 *   SCRIBE_RCLONE_CONFIG          rclone.conf from the rcloneConfig Secret (mounted file)
 *                                                              (/rclone-config/rclone.conf)
 *   SCRIBE_RCLONE_CONFIG_SECTION  rcloneConfigSection: the remote's section   (required)
 *   SCRIBE_RCLONE_DEST_PATH       rcloneDestPath: bucket and path on the remote (required)
 *   SCRIBE_DATA_DIR               the volume to send                               (/data)
 *   SCRIBE_RUN_DIR                writable parent of the private run directory (config copy,
 *                                 record, rclone cache); the root fs is read-only (os.tmpdir())
 *   SCRIBE_RCLONE                 rclone executable, name on PATH or path        (rclone)
 *   SCRIBE_VOLUME_POINT_IN_TIME   true when the volume is a clone or snapshot that nothing
 *                                 writes to (copyMethod Clone or Snapshot)       (false)
 *   RCLONE_*                      passed to rclone as its own options (e.g. RCLONE_RETRIES,
 *                                 RCLONE_LOW_LEVEL_RETRIES, RCLONE_CONTIMEOUT, RCLONE_BWLIMIT)
 * Secret values of rclone.conf (keys, passwords, tokens) are redacted from every line printed.
 *
 * Output: rclone's log (-v), `scribe rclone source: …` lines, `scribe progress: …` every 5 s
 * while the data is synced and once when it is (files uploaded and their sizes, from rclone's
 * `Copied` lines; progress.ts and ../runtime/progress.ts: what `kubectl scribe sync` shows), a summary
 * block for status.latestMoverStatus (summary.ts) ending with `scribe rclone source: result: …`.
 *
 * Every file must be readable and every directory listable by the mover's user: otherwise the
 * run fails naming them and the ways out (../permissions.ts), having sent nothing (a live
 * volume, whose record is read first) or with rclone stopped and the record not uploaded (a
 * point-in-time copy), never as a success that missed files.
 *
 * Exit code: 0 success; 1 configuration error, unreadable files or rclone failure (its exit
 * code is in the message); 128+n on signal n.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadArgs, uploadRecordArgs } from './args.js';
import { rcloneConfig } from './config.js';
import { serializeRecord } from './record.js';
import { RcloneFailure, RcloneSession } from './session.js';
import { readAcls, readEntries, readXattrs, UnreadableEntries } from './tree.js';
import { unreadableMessage } from '../permissions.js';
import { signalRunningTools } from '../runtime/process.js';
import { booleanEnv } from '../runtime/env.js';

const session = new RcloneSession('source', process.env);

async function send(): Promise<string> {
  const config = rcloneConfig(process.env, tmpdir());
  const settings = session.prepare(config);
  await session.probe(config, settings);
  const readRecord = (consequence: string) => {
    let entries;
    try {
      entries = readEntries(config.dataDir);
    } catch (error) {
      if (!(error instanceof UnreadableEntries)) throw error;
      throw new RcloneFailure(unreadableMessage('rclone source', error.message, consequence));
    }
    const acl = readAcls(config.dataDir, entries);
    if (acl === null) session.log('getfacl is not installed: ACLs are not recorded (Debian: acl)');
    const xattrs = readXattrs(config.dataDir, new Set(entries.map((entry) => entry.path)));
    if (xattrs === null) session.log('getfattr is not installed: extended attributes are not recorded (Debian: attr)');
    return { entries, acl, xattrs };
  };
  // A live volume's record is read before the upload, so it never describes files newer than the
  // data sent. A point-in-time copy cannot change, so its record is read while rclone syncs.
  const pointInTime = booleanEnv(process.env, 'SCRIBE_VOLUME_POINT_IN_TIME', false);
  const before = pointInTime ? undefined : readRecord('nothing was sent');
  session.log(`syncing ${config.dataDir} to ${config.remote}`);
  const sync = session.rclone(config, 'sync', uploadArgs(settings), { progress: true });
  let record: ReturnType<typeof readRecord>;
  try {
    record = before ?? readRecord('the sync was stopped and the record not uploaded');
  } catch (error) {
    // Not left running behind a failed run: the sync is stopped and waited for.
    signalRunningTools('SIGTERM');
    await sync.catch(() => undefined);
    throw error;
  }
  await sync;
  const { entries, acl, xattrs } = record;
  const recordFile = join(settings.runDir, 'record.json');
  writeFileSync(recordFile, serializeRecord(entries, acl, new Date(), xattrs));
  await session.rclone(config, 'upload of the metadata record', uploadRecordArgs(settings, recordFile));
  rmSync(recordFile, { force: true });
  const acls = acl === null ? 'not recorded' : `${(acl.match(/^# file: /gm) ?? []).length} with ACLs`;
  const attrs = xattrs === null ? 'not recorded' : `${Object.keys(xattrs).length} with extended attributes`;
  session.log(`record uploaded: ${entries.length} entries, ${acls}, ${attrs}`);
  return `synchronized ${entries.length} entries to ${config.remote}`;
}

session.run(send).then((code) => process.exit(code));
