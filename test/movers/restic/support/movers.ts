/**
 * Shared by the restic and rclone mover tests: runs an entrypoint as a real process (tsx, as the
 * local runtime does), builds a file tree with what a volume may hold and reads a tree back for
 * comparison. Waits are for conditions with timeouts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The repository root (tsx resolves from here). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** True when the tests run as root (needed to give the test tree files of other owners). */
export const IS_ROOT = process.getuid?.() === 0;

/** A fresh temporary directory, removed by `cleanup`. */
export function tempDir(cleanup: (() => void)[], prefix = 'scribe-mover-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A running entrypoint with its combined output. */
export interface Entrypoint {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number>;
}

/** Starts src/movers/<mover>/<name>.ts; `detached` puts it (and its tools) in its own process group. */
export function startEntrypoint(
  mover: 'restic' | 'rclone',
  name: 'source' | 'destination',
  env: Record<string, string>,
  detached = false,
): Entrypoint {
  const script = join(REPO_ROOT, 'src', 'movers', mover, `${name}.ts`);
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 143))),
  );
  return { child, output: () => output, exited };
}

/**
 * A stand-in for a container's init: a subreaper that runs the command in its own session and
 * reaps every descendant, exiting with the command's status. Without it, tools orphaned by
 * killing the mover would stay zombies here (this machine's PID 1 does not reap), and restic
 * counts a lock whose PID is a zombie as live.
 */
const REAPER = `
import ctypes, os, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
pid = os.fork()
if pid == 0:
    os.setsid()
    os.execvp(sys.argv[1], sys.argv[1:])
print(f"scribe-test-reaper: child {pid}", file=sys.stderr, flush=True)
status = 0
while True:
    try:
        done, raw = os.wait()
    except ChildProcessError:
        break
    if done == pid:
        status = os.waitstatus_to_exitcode(raw)
sys.exit(status if status >= 0 else 128 - status)
`;

/**
 * Starts an entrypoint under the reaper; `killGroup()` SIGKILLs the entrypoint's whole process
 * group (the mover and its tools), as the death of a Pod would.
 */
export function startReaped(
  mover: 'restic' | 'rclone',
  name: 'source' | 'destination',
  env: Record<string, string>,
): Entrypoint & { killGroup(): Promise<void> } {
  const script = join(REPO_ROOT, 'src', 'movers', mover, `${name}.ts`);
  const child = spawn('python3', ['-c', REAPER, process.execPath, '--import', 'tsx', script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  return {
    child,
    output: () => output,
    exited,
    async killGroup() {
      await waitUntil('the reaper to report its child', () => /scribe-test-reaper: child \d+/.test(output), 10_000);
      const pid = Number(/scribe-test-reaper: child (\d+)/.exec(output)?.[1]);
      process.kill(-pid, 'SIGKILL');
    },
  };
}

/** Runs an entrypoint to completion. */
export async function runEntrypoint(
  mover: 'restic' | 'rclone',
  name: 'source' | 'destination',
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const proc = startEntrypoint(mover, name, env);
  const code = await proc.exited;
  return { code, output: proc.output() };
}

/** The summary block an entrypoint printed (the lines after `…: summary:`). */
export function summaryOf(output: string): string {
  const at = output.lastIndexOf(': summary:\n');
  return at < 0 ? '' : output.slice(at + ': summary:\n'.length).trim();
}

/** Polls `condition` every 50 ms until it holds; throws after `timeoutMs`. */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Deterministic pseudo-random bytes. */
export function bytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0, counter = 0; offset < length; offset += 32, counter++)
    createHash('sha256').update(`${seed}:${counter}`).digest().copy(out, offset);
  return out;
}

/**
 * Checks that POSIX ACLs can be set and read in `dir` and returns true; fails the test with a
 * clear message when they cannot, so that a round trip never passes without checking ACLs (CI
 * runs on a file system with ACLs and the Debian package "acl").
 */
export function aclSupported(dir: string): boolean {
  const probe = join(dir, '.acl-probe');
  writeFileSync(probe, '');
  const set = spawnSync('setfacl', ['-m', 'u:1234:r', probe], { encoding: 'utf8' });
  const read = spawnSync('getfacl', ['-n', probe], { encoding: 'utf8' });
  rmSync(probe);
  const why =
    set.status !== 0 ? set.stderr || set.error?.message : read.status !== 0 ? read.stderr || read.error?.message : '';
  expect(
    why,
    `POSIX ACLs must work in ${dir} (setfacl/getfacl of the Debian package "acl", a file system with ACLs) to check that they are replicated`,
  ).toBe('');
  return true;
}

const BASE_TIME = 1_700_000_000;

/**
 * Builds a tree: nested and empty directories, modes (setgid, sticky, private), owners, a
 * symlink to a file, a dangling one and one to a directory, mtimes with milliseconds, ACLs
 * (access and default) when `acl`, and a lost+found that is never copied. Owners other than the
 * test's need root: run as anyone else, it fails rather than leave ownership unchecked.
 */
export function buildTree(root: string, options: { acl: boolean }): void {
  expect(IS_ROOT, 'this test must run as root to give files other owners and check that ownership is kept').toBe(true);
  const p = (...parts: string[]) => join(root, ...parts);
  mkdirSync(p('docs/nested/deeper'), { recursive: true });
  mkdirSync(p('empty-dir'));
  mkdirSync(p('private'));
  mkdirSync(p('shared'));
  mkdirSync(p('lost+found'));
  writeFileSync(p('lost+found/#1234'), 'file system debris, never copied');
  writeFileSync(p('small.txt'), 'hello, volume\n');
  writeFileSync(p('empty'), '');
  writeFileSync(p('docs/random.bin'), bytes(1, 300 * 1024));
  writeFileSync(p('docs/nested/odd-size.bin'), bytes(2, 4097));
  writeFileSync(p('docs/nested/deeper/leaf.txt'), 'deep\n');
  writeFileSync(p('private/secret.txt'), 'only for the owner\n');
  writeFileSync(p('shared/group.txt'), 'for the group\n');
  writeFileSync(p('run.sh'), '#!/bin/sh\necho hi\n');
  symlinkSync('small.txt', p('link-to-file'));
  symlinkSync('docs/nested', p('link-to-dir'));
  symlinkSync('does/not/exist', p('dangling-link'));
  chmodSync(p('private'), 0o700);
  chmodSync(p('private/secret.txt'), 0o600);
  chmodSync(p('shared'), 0o2775);
  chmodSync(p('empty-dir'), 0o1777);
  chmodSync(p('run.sh'), 0o755);
  chmodSync(p('small.txt'), 0o640);
  lchownSync(p('private'), 1001, 1001);
  lchownSync(p('private/secret.txt'), 1001, 1001);
  lchownSync(p('shared/group.txt'), 1002, 2000);
  lchownSync(p('link-to-file'), 1003, 1003);
  if (options.acl) {
    tool('setfacl', ['-m', 'u:1234:rw,g:2345:r', p('shared/group.txt')]);
    tool('setfacl', ['-d', '-m', 'u:1234:rwx', p('shared')]);
  }
  // mtimes last, children before parents (creating a child changes its parent's mtime).
  const entries = walk(root).reverse();
  entries.forEach((path, i) => setTime(join(root, path), BASE_TIME + i * 3600 + 0.123 + i / 1000));
}

/** Sets mtime and atime of the entry itself (not a symlink's target). */
export function setTime(path: string, seconds: number): void {
  if (lstatSync(path).isSymbolicLink()) lutimesSync(path, seconds, seconds);
  else utimesSync(path, seconds, seconds);
}

function tool(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

/** Relative paths under `root` (root itself as "."), skipping lost+found at the top. */
export function walk(root: string): string[] {
  const out = ['.'];
  const visit = (relative: string) => {
    for (const name of readdirSync(relative === '.' ? root : join(root, relative)).sort()) {
      if (relative === '.' && name === 'lost+found') continue;
      const child = relative === '.' ? name : `${relative}/${name}`;
      out.push(child);
      if (lstatSync(join(root, child)).isDirectory()) visit(child);
    }
  };
  visit('.');
  return out;
}

/** A comparable description of every entry: type, mode, owner, mtime (ms), content hash or link target, ACL. */
export function describeTree(root: string, options: { acl: boolean; includeRoot?: boolean }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const path of walk(root)) {
    if (path === '.' && options.includeRoot === false) continue;
    const full = path === '.' ? root : join(root, path);
    const stat = lstatSync(full, { bigint: true });
    const kind = stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'link' : 'file';
    const content =
      kind === 'file'
        ? createHash('sha256').update(readFileSync(full)).digest('hex').slice(0, 16)
        : kind === 'link'
          ? `-> ${readlinkSync(full)}`
          : '';
    const mode = kind === 'link' ? '' : (stat.mode & 0o7777n).toString(8);
    const owner = `${stat.uid}:${stat.gid}`;
    const mtimeMs = (stat.mtimeNs / 1_000_000n).toString();
    const acl =
      options.acl && kind !== 'link'
        ? tool('getfacl', ['-P', '-n', '--omit-header', '--skip-base', full]).trim().replace(/\n/g, ',')
        : '';
    out[path] = [kind, mode, owner, mtimeMs, content, acl].join(' ');
  }
  return out;
}
