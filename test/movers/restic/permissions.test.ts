/**
 * Issue 20 with the real restic, a real S3 server (MinIO) and real files: an application's
 * files (owner 999, modes 0600 and 0640 in a 0700 directory, a POSIX ACL, user.* extended
 * attributes, file capabilities) backed up and restored by movers running as root (a privileged
 * namespace: only its side's capabilities), as the files' owner (moverSecurityContext runAsUser
 * 999) and as the default user 65534, each a real process of that user (setpriv), as in a
 * mover pod.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PERMISSIONS_HINT } from '../../../src/movers/permissions.js';
import { aclSupported, describeTree, summaryOf } from './support/movers.js';
import { permissionRuns } from '../../support/permission-runs.js';
import { APP, applicationFiles, attributes, NOBODY, runAs as runEntrypointAs } from './support/permissions.js';

const PASSWORD = 'correct horse battery staple';
const runs = permissionRuns('restic');
const newDir = runs.newDir;

function moverEnv(dataDir: string, repository: string): Record<string, string> {
  return {
    RESTIC_REPOSITORY: `s3:${runs.s3.endpoint}/permissions/${repository}`,
    RESTIC_PASSWORD: PASSWORD,
    AWS_ACCESS_KEY_ID: runs.s3.accessKey,
    AWS_SECRET_ACCESS_KEY: runs.s3.secretKey,
    SCRIBE_DATA_DIR: dataDir,
    SCRIBE_RESTIC: runs.tool,
  };
}

/** Runs a restic entrypoint as `uid` (0: root), with a home and cache of its own. */
function runAs(uid: number, name: 'source' | 'destination', env: Record<string, string>) {
  const home = newDir('home', uid);
  return runEntrypointAs(uid, 'restic', name, { SCRIBE_CACHE_DIR: join(home, 'cache'), ...env }, home);
}

/** The repository's snapshots (ids). */
function snapshots(env: Record<string, string>): string[] {
  const result = spawnSync(runs.tool, ['snapshots', '--json', '--no-cache'], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return (JSON.parse(result.stdout) as { id: string }[]).map((s) => s.id);
}

describe('restic movers and file ownership (issue 20)', () => {
  it('privileged (root): the restore has the same owners, modes, ACL, extended attributes and file capabilities', async () => {
    const source = newDir('source');
    expect(aclSupported(source)).toBe(true);
    applicationFiles(source, { capability: true });
    const env = moverEnv(source, 'as-root');
    const backup = await runAs(0, 'source', env);
    expect(backup.code, backup.output).toBe(0);
    const target = newDir('target');
    const restore = await runAs(0, 'destination', { ...env, SCRIBE_DATA_DIR: target });
    expect(restore.code, restore.output).toBe(0);
    expect(describeTree(target, { acl: true, includeRoot: false })).toEqual(
      describeTree(source, { acl: true, includeRoot: false }),
    );
    expect(attributes(target)).toEqual(attributes(source));
    expect(Object.keys(attributes(target).README ?? {})).toContain('security.capability');
    expect(Object.keys(attributes(target)['db/table.ibd'] ?? {})).toEqual(['system.posix_acl_access', 'user.scribe']);
  });

  it("as the files' owner (runAsUser 999): contents, modes, ACL and user.* attributes match; no capability", async () => {
    const source = newDir('source');
    applicationFiles(source, { capability: true });
    const env = moverEnv(source, 'as-owner');
    const backup = await runAs(APP, 'source', env);
    expect(backup.code, backup.output).toBe(0);
    const target = newDir('target', APP);
    const restore = await runAs(APP, 'destination', { ...env, SCRIBE_DATA_DIR: target });
    expect(restore.code, restore.output).toBe(0);
    expect(describeTree(target, { acl: true, includeRoot: false })).toEqual(
      describeTree(source, { acl: true, includeRoot: false }),
    );
    // restic leaves out, without an error, what only CAP_SETFCAP may set.
    const { README: readme, ...rest } = attributes(source);
    const { 'security.capability': capability, ...userAttrs } = readme ?? {};
    expect(capability).toBeDefined();
    expect(attributes(target)).toEqual({ ...rest, README: userAttrs });
  });

  it('as the default user 65534 the backup fails naming the unreadable files and both ways out, and keeps no snapshot', async () => {
    const source = newDir('source');
    applicationFiles(source);
    const env = moverEnv(source, 'as-nobody');
    const backup = await runAs(NOBODY, 'source', env);
    // README was readable: restic saved a snapshot without db/, which the mover forgets.
    expect(backup.code, backup.output).toBe(3);
    // The whole message in the log; the summary's result line (what the condition shows) keeps
    // the way out first, cut after 300 characters.
    const error = backup.output.split('\n').find((line) => line.startsWith('scribe restic backup: error: ')) ?? '';
    expect(error).toContain(`restic backup: could not read files (${PERMISSIONS_HINT}): `);
    expect(error).toContain(`open ${join(source, 'db')}: permission denied`);
    expect(error).toMatch(/the incomplete snapshot is not kept$/);
    const result = summaryOf(backup.output).split('\n').at(-1) ?? '';
    expect(result).toContain(
      `scribe restic backup: result: failed: restic backup: could not read files (${PERMISSIONS_HINT}): `,
    );
    // Here cut inside the directory's name; /data/db in a pod fits (test/unit/movers/permissions.test.ts).
    expect(result).toMatch(/docs\/permissions\.md\): (openfile for readdirnames failed: )?open \//);
    expect(backup.output).toMatch(/forgot the incomplete snapshot [0-9a-f]{8}/);
    expect(snapshots(env)).toEqual([]);
  });
});
