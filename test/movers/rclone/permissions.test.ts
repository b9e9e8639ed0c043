/**
 * Issue 20 with the real rclone, a real S3 server (MinIO) and real files: an application's
 * files (owner 999, modes 0600 and 0640 in a 0700 directory, a POSIX ACL, user.* extended
 * attributes, file capabilities) replicated by movers running as root (a privileged namespace:
 * only its side's capabilities), as the files' owner (moverSecurityContext runAsUser 999) and
 * as the default user 65534, each a real process of that user (setpriv), as in a mover pod.
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS_HINT } from '../../../src/movers/permissions.js';
import { RECORD_NAME } from '../../../src/movers/rclone/record.js';
import { escapeAttrText, readXattrs } from '../../../src/movers/rclone/tree.js';
import { aclSupported, describeTree, summaryOf } from '../restic/support/movers.js';
import { permissionRuns } from '../../support/permission-runs.js';
import {
  APP,
  applicationFiles,
  attributes,
  NET_BIND_SERVICE,
  NOBODY,
  runAs as runEntrypointAs,
  tool,
} from '../restic/support/permissions.js';

const runs = permissionRuns('rclone');
/** A directory owned by `uid` (the volume the kubelet gives the mover). */
const newDir = runs.newDir;

/** Runs an rclone entrypoint as `uid` (0: root), with a run directory of its own. */
function runAs(uid: number, name: 'source' | 'destination', env: Record<string, string>) {
  const home = newDir('run', uid);
  return runEntrypointAs(uid, 'rclone', name, { SCRIBE_RUN_DIR: home, ...env }, home);
}

function moverEnv(dataDir: string, destPath: string, extra: Record<string, string> = {}): Record<string, string> {
  const config = `${runs.fresh('rclone')}.conf`;
  writeFileSync(
    config,
    `[scribe-s3]\ntype = s3\nprovider = Minio\naccess_key_id = ${runs.s3.accessKey}\nsecret_access_key = ${runs.s3.secretKey}\nendpoint = ${runs.s3.endpoint}\n`,
    { mode: 0o644 },
  );
  return {
    SCRIBE_RCLONE_CONFIG: config,
    SCRIBE_RCLONE_CONFIG_SECTION: 'scribe-s3',
    SCRIBE_RCLONE_DEST_PATH: destPath,
    SCRIBE_DATA_DIR: dataDir,
    SCRIBE_RCLONE: runs.tool,
    RCLONE_RETRIES: '1',
    RCLONE_LOW_LEVEL_RETRIES: '1',
    ...extra,
  };
}

/** The objects under `destPath` on the S3 server (names). */
function remoteObjects(env: Record<string, string>): string[] {
  const listing = tool(runs.tool, [
    'lsf',
    '-R',
    '--files-only',
    '--config',
    env.SCRIBE_RCLONE_CONFIG as string,
    `scribe-s3:${env.SCRIBE_RCLONE_DEST_PATH}`,
  ]);
  return listing.split('\n').filter((line) => line !== '');
}

describe('reading and writing extended attributes with getfattr and setfattr', () => {
  it('reads what a record carries, by path, with odd names escaped as getfattr does', () => {
    const root = newDir('xattrs');
    const names = ['plain', 'with space', 'new\nline', 'back\\slash', 'eq=1', 'é'];
    for (const name of names) {
      writeFileSync(join(root, name), name);
      tool('setfattr', ['-n', 'user.name', '-v', name, join(root, name)]);
    }
    tool('setfattr', ['-n', 'security.capability', '-v', NET_BIND_SERVICE, join(root, 'plain')]);
    tool('setfacl', ['-m', 'u:1234:r', join(root, 'plain')]);
    // A dangling symlink is read as itself (getfattr -h), not followed.
    symlinkSync('nowhere', join(root, 'dangling'));
    mkdirSync(join(root, 'lost+found'));
    tool('setfattr', ['-n', 'user.debris', '-v', 'x', join(root, 'lost+found')]);
    const read = readXattrs(root);
    expect(Object.keys(read ?? {}).sort()).toEqual([...names].sort());
    for (const name of names) expect(Buffer.from(read?.[name]?.['user.name'] ?? '', 'base64').toString()).toBe(name);
    // ACLs travel as getfacl text, not here; file capabilities do.
    expect(Object.keys(read?.plain ?? {}).sort()).toEqual(['security.capability', 'user.name']);
    expect(escapeAttrText('a\nb\\c=d é')).toBe(Buffer.from('a\\012b\\134c\\075d é').toString('latin1'));
  });
});

describe('rclone movers and file ownership (issue 20)', () => {
  it('privileged (root): the destination gets the same owners, modes, ACL, extended attributes and file capabilities', async () => {
    const source = newDir('source');
    expect(aclSupported(source)).toBe(true);
    applicationFiles(source, { capability: true });
    const env = moverEnv(source, 'permissions/as-root');
    const sent = await runAs(0, 'source', env);
    expect(sent.code, sent.output).toBe(0);
    expect(summaryOf(sent.output)).toMatch(/record uploaded: 5 entries, 1 with ACLs, 4 with extended attributes/);
    const dest = newDir('dest');
    const got = await runAs(0, 'destination', { ...env, SCRIBE_DATA_DIR: dest });
    expect(got.code, got.output).toBe(0);
    expect(summaryOf(got.output)).toMatch(/ACLs restored, extended attributes 5 set, 0 removed/);
    expect(describeTree(dest, { acl: true })).toEqual(describeTree(source, { acl: true }));
    expect(attributes(dest)).toEqual(attributes(source));
    expect(Object.keys(attributes(dest).README ?? {})).toContain('security.capability');

    // A later sync makes attributes and ACLs equal again: changed, removed, added; an ACL removed
    // from a file rclone does not rewrite, and a directory's new default ACL, which a file
    // rclone rewrites there takes at the destination but did not have at the source.
    tool('setfattr', ['-n', 'user.scribe', '-v', 'changed', join(source, 'db', 'table.ibd')]);
    tool('setfattr', ['-x', 'user.dir', join(source, 'db')]);
    tool('setfattr', ['-n', 'user.new', '-v', 'new', join(source, 'db', 'settings.cnf')]);
    tool('setfacl', ['-b', join(source, 'db', 'table.ibd')]);
    tool('setfacl', ['-d', '-m', 'u:1234:rx', join(source, 'db')]);
    writeFileSync(join(source, 'db', 'settings.cnf'), 'setting = off\n');
    expect((await runAs(0, 'source', env)).code).toBe(0);
    const again = await runAs(0, 'destination', { ...env, SCRIBE_DATA_DIR: dest });
    expect(again.code, again.output).toBe(0);
    expect(summaryOf(again.output)).toMatch(/extended attributes 3 set, 1 removed/);
    expect(attributes(dest)).toEqual(attributes(source));
    expect(describeTree(dest, { acl: true })).toEqual(describeTree(source, { acl: true }));
  });

  it("as the files' owner (runAsUser 999): contents, modes, ACL and user.* attributes match; no capability", async () => {
    const source = newDir('source');
    applicationFiles(source, { capability: true });
    const env = moverEnv(source, 'permissions/as-owner');
    const sent = await runAs(APP, 'source', env);
    expect(sent.code, sent.output).toBe(0);
    const dest = newDir('dest', APP);
    const got = await runAs(APP, 'destination', { ...env, SCRIBE_DATA_DIR: dest });
    expect(got.code, got.output).toBe(0);
    expect(summaryOf(got.output)).toMatch(/ACLs restored, extended attributes 4 set.*1 security\.capability not set/);
    expect(describeTree(dest, { acl: true, includeRoot: false })).toEqual(
      describeTree(source, { acl: true, includeRoot: false }),
    );
    const { README: readme, ...rest } = attributes(source);
    const { 'security.capability': capability, ...userAttrs } = readme ?? {};
    expect(capability).toBeDefined();
    expect(attributes(dest)).toEqual({ ...rest, README: userAttrs });

    // A volume whose root is another user's (writable through its group, as the kubelet makes it
    // with fsGroup): the root keeps its own mode and ACLs, everything inside is restored.
    tool('setfacl', ['-m', 'u:1234:rx', source]);
    expect((await runAs(APP, 'source', env)).code).toBe(0);
    const shared = newDir('dest');
    chmodSync(shared, 0o777);
    const intoShared = await runAs(APP, 'destination', { ...env, SCRIBE_DATA_DIR: shared });
    expect(intoShared.code, intoShared.output).toBe(0);
    expect(summaryOf(intoShared.output)).toMatch(/the volume root's mode and times left as they are/);
    expect(describeTree(shared, { acl: true, includeRoot: false })).toEqual(
      describeTree(source, { acl: true, includeRoot: false }),
    );

    // Read-only files of the owner's get their changed attributes too (write permission is lent).
    tool('setfattr', ['-n', 'user.scribe', '-v', 'changed', join(source, 'db', 'table.ibd')]);
    chmodSync(join(source, 'db', 'table.ibd'), 0o400);
    expect((await runAs(APP, 'source', env)).code).toBe(0);
    const again = await runAs(APP, 'destination', { ...env, SCRIBE_DATA_DIR: dest });
    expect(again.code, again.output).toBe(0);
    expect(attributes(dest)['db/table.ibd']).toEqual(attributes(source)['db/table.ibd']);
    expect(describeTree(dest, { acl: true, includeRoot: false })).toEqual(
      describeTree(source, { acl: true, includeRoot: false }),
    );
  });

  it.each([
    ['a live volume: nothing is sent', {}, /nothing was sent/],
    [
      'a point-in-time copy: the sync is stopped',
      { SCRIBE_VOLUME_POINT_IN_TIME: 'true' },
      /the sync was stopped and the record not uploaded/,
    ],
  ])(
    'as the default user 65534 the attempt fails naming the unreadable files and both ways out: %s',
    async (_, extra, consequence) => {
      const source = newDir('source');
      applicationFiles(source);
      const env = moverEnv(source, `permissions/as-nobody-${basename(source)}`, extra);
      const sent = await runAs(NOBODY, 'source', env);
      expect(sent.code, sent.output).toBe(1);
      // The whole message in the log; the summary's result line (what the condition shows) keeps
      // the way out and the file, cut after 300 characters (this test's paths are long).
      const message = `rclone source: could not read files (${PERMISSIONS_HINT}): open ${join(source, 'db')}: permission denied; `;
      expect(sent.output).toContain(`scribe rclone source: error: ${message}`);
      expect(sent.output.slice(sent.output.indexOf(message) + message.length)).toMatch(consequence);
      const result = summaryOf(sent.output).split('\n').at(-1) ?? '';
      expect(result).toMatch(/^scribe rclone source: result: failed: rclone source: could not read files/);
      expect(result).toMatch(/moverSecurityContext.*scribe\.backube\/privileged-movers: "true"/);
      expect(result).toContain(`open ${join(source, 'db')}`);
      // Never a partial success: no record describes a copy that missed files.
      expect(remoteObjects(env)).not.toContain(RECORD_NAME);

      // A readable directory with an unreadable file names the file.
      chmodSync(join(source, 'db'), 0o755);
      const file = await runAs(NOBODY, 'source', env);
      expect(file.code).toBe(1);
      // The files in reading order (settings.cnf is 0640 and 65534 not in group 999), README not.
      expect(file.output).toContain(
        `open ${join(source, 'db', 'settings.cnf')}: permission denied; open ${join(source, 'db', 'table.ibd')}: permission denied;`,
      );
      expect(file.output).not.toMatch(/could not read files.*README/);
      expect(remoteObjects(env)).not.toContain(RECORD_NAME);
    },
  );
});
