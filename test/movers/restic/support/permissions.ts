/**
 * Shared by the restic and rclone tests of issue 20 (movers and file ownership): an
 * application's files as a database leaves them, with a POSIX ACL and extended attributes; a
 * comparable dump of those attributes; and an entrypoint run as another user (setpriv), as a
 * mover pod's process would be.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRIVILEGED_DESTINATION_CAPABILITIES, PRIVILEGED_SOURCE_CAPABILITIES } from '../../../../machines/privilege.js';
import { parseGetfattr } from '../../../../src/movers/rclone/tree.js';
import { REPO_ROOT } from './movers.js';

/** The application's user, owner of its files. */
export const APP = 999;
/** The default unprivileged mover's user. */
export const NOBODY = 65534;
/** File capabilities cap_net_bind_service=ep (struct vfs_cap_data, revision 2), as setcap writes them. */
export const NET_BIND_SERVICE = '0x0100000200040000000000000000000000000000';

/** Runs a command; throws with its stderr when it fails. */
export function tool(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

/**
 * The application's files under `root`: db/ (0700) with table.ibd (0600, an ACL entry for user
 * 1234, user.scribe=test) and settings.cnf (0640, an empty user.empty), README (0644, a binary
 * user.binary, and file capabilities with `capability`), all owned by APP; db has user.dir.
 */
export function applicationFiles(root: string, options: { capability?: boolean } = {}): void {
  const p = (...parts: string[]) => join(root, ...parts);
  mkdirSync(p('db'));
  writeFileSync(p('db', 'table.ibd'), 'rows of the table\n');
  writeFileSync(p('db', 'settings.cnf'), 'setting = on\n');
  writeFileSync(p('README'), 'for everyone\n');
  tool('setfattr', ['-n', 'user.scribe', '-v', 'test', p('db', 'table.ibd')]);
  tool('setfattr', ['-n', 'user.empty', p('db', 'settings.cnf')]);
  tool('setfattr', ['-n', 'user.binary', '-v', '0x00ff0a3d', p('README')]);
  tool('setfattr', ['-n', 'user.dir', '-v', 'of the directory', p('db')]);
  for (const path of ['db', 'db/table.ibd', 'db/settings.cnf', 'README']) chownSync(p(path), APP, APP);
  // After chown, which drops file capabilities.
  if (options.capability) tool('setfattr', ['-n', 'security.capability', '-v', NET_BIND_SERVICE, p('README')]);
  chmodSync(p('db', 'table.ibd'), 0o600);
  chmodSync(p('db', 'settings.cnf'), 0o640);
  chmodSync(p('db'), 0o700);
  // `setfacl -m u:1234:r` on the 0600 file: the mask becomes r, so stat shows 0640.
  tool('setfacl', ['-m', 'u:1234:r', p('db', 'table.ibd')]);
}

/** Extended attributes (user.*, security.capability) and ACLs (system.posix_acl_*) by relative path, base64. */
export function attributes(root: string): Record<string, Record<string, string>> {
  const pattern = '^(user\\.|security\\.capability$|system\\.posix_acl)';
  const result = spawnSync('getfattr', ['-R', '-P', '-h', '-d', '-e', 'base64', '-m', pattern, '.'], {
    cwd: root,
    encoding: 'latin1',
  });
  if (result.status !== 0) throw new Error(`getfattr: ${result.stderr}`);
  return Object.fromEntries(parseGetfattr(result.stdout));
}

/** A directory owned by `uid`, mode 0755 (a volume the kubelet gives the mover, or its run directory). */
export function ownedDir(path: string, uid: number): string {
  mkdirSync(path, { mode: 0o755 });
  chmodSync(path, 0o755);
  chownSync(path, uid, uid);
  return path;
}

/** A copy of a tool that every user may run (the cached builds are under root's home). */
export function toolForAnyone(from: string, dir: string): string {
  const to = join(dir, from.split('/').at(-1) as string);
  copyFileSync(from, to);
  chmodSync(to, 0o755);
  return to;
}

/**
 * Runs src/movers/<mover>/<name>.ts to completion as `uid` with no supplementary groups, HOME
 * and TMPDIR in `home` (which that user must own). As root (0) it holds only the capabilities a
 * privileged mover of `side` gets (machines/privilege.ts), as in its pod.
 */
export async function runAs(
  uid: number,
  mover: 'restic' | 'rclone',
  name: 'source' | 'destination',
  env: Record<string, string>,
  home: string,
): Promise<{ code: number; output: string }> {
  const command = [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'src', 'movers', mover, `${name}.ts`)];
  const capabilities = name === 'source' ? PRIVILEGED_SOURCE_CAPABILITIES : PRIVILEGED_DESTINATION_CAPABILITIES;
  const drop =
    uid === 0
      ? ['--bounding-set', `-all,${capabilities.map((c) => `+${c.toLowerCase()}`).join(',')}`]
      : ['--reuid', String(uid), '--regid', String(uid), '--clear-groups'];
  const child = spawn('setpriv', [...drop, ...command], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: home, TMPDIR: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  return { code, output };
}
