/**
 * Builds a file tree with everything a volume may hold, and snapshots a tree for comparison:
 * contents (SHA-256), types, modes, owners, mtimes (ns), link targets, hard-link groups, ACLs and
 * user extended attributes (the last two through getfacl/getfattr, when the file system has them).
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** Size of the sparse file: large, almost all holes. */
export const SPARSE_SIZE = 256 * 1024 * 1024;

/** Deterministic pseudo-random bytes (so a failing run can be reproduced). */
export function bytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0, counter = 0; offset < length; offset += 32, counter++)
    createHash('sha256').update(`${seed}:${counter}`).digest().copy(out, offset);
  return out;
}

/** Sets mtime (and atime) to `seconds` since the epoch with a fractional part, on the entry itself. */
export function setTime(path: string, seconds: number): void {
  const isLink = lstatSync(path).isSymbolicLink();
  if (isLink) lutimesSync(path, seconds, seconds);
  else utimesSync(path, seconds, seconds);
}

/** Whether POSIX ACLs and user xattrs can be set in `dir` (tools present, file system supports them). */
export function probeFeatures(dir: string): { acl: boolean; xattr: boolean } {
  const probe = join(dir, '.probe');
  writeFileSync(probe, '');
  const acl =
    spawnSync('setfacl', ['-m', 'u:1234:r', probe]).status === 0 && spawnSync('getfacl', ['-n', probe]).status === 0;
  const xattr =
    spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', probe]).status === 0 &&
    spawnSync('getfattr', ['-d', probe]).status === 0;
  spawnSync('rm', ['-f', probe]);
  return { acl, xattr };
}

/** Runs a tool and throws with its stderr on failure. */
export function tool(command: string, args: string[], cwd?: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

/** Builds the test tree under `root` (which must exist). */
export function buildTree(root: string, options: { owners: boolean; acl: boolean; xattr: boolean }): void {
  const p = (...parts: string[]) => join(root, ...parts);
  mkdirSync(p('docs/nested/deeper/deepest'), { recursive: true });
  mkdirSync(p('empty-dir'));
  mkdirSync(p('private'), { mode: 0o700 });
  mkdirSync(p('shared'));
  mkdirSync(p('lost+found'));
  writeFileSync(p('lost+found/#1234'), 'file system debris, never copied');
  writeFileSync(p('small.txt'), 'hello, volume\n');
  writeFileSync(p('empty'), '');
  writeFileSync(p('docs/empty-too'), '');
  writeFileSync(p('docs/random-1MiB.bin'), bytes(1, 1024 * 1024));
  writeFileSync(p('docs/nested/odd-size.bin'), bytes(2, 4097));
  writeFileSync(p('docs/nested/deeper/deepest/leaf.txt'), 'deep\n');
  writeFileSync(p('name with spaces & ünïcödé'), 'unicode\n');
  writeFileSync(p('-leading-dash'), 'dash\n');
  writeFileSync(p('private/secret.db'), bytes(3, 10_000), { mode: 0o600 });
  writeFileSync(p('script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(p('no-access'), 'locked\n');
  chmodSync(p('no-access'), 0o000);
  writeFileSync(p('setuid-tool'), 'suid\n');
  chmodSync(p('setuid-tool'), 0o4755);
  chmodSync(p('shared'), 0o1777);

  // A large sparse file: data at both ends, a hole in between.
  const fd = openSync(p('sparse.img'), 'w');
  writeSync(fd, Buffer.from('head'), 0, 4, 0);
  writeSync(fd, Buffer.from('tail'), 0, 4, SPARSE_SIZE - 4);
  closeSync(fd);

  // Hard links: one inode under three names in different directories.
  writeFileSync(p('docs/hard-original'), bytes(4, 3000));
  linkSync(p('docs/hard-original'), p('hard-second'));
  linkSync(p('docs/hard-original'), p('docs/nested/hard-third'));

  symlinkSync('small.txt', p('link-relative'));
  symlinkSync('/nonexistent/absolute/target', p('link-absolute-dangling'));
  symlinkSync('docs/nested', p('link-to-dir'));
  symlinkSync('../../small.txt', p('docs/nested/link-up'));

  tool('mkfifo', [p('fifo')]);

  if (options.owners) {
    lchownSync(p('small.txt'), 1234, 5678);
    lchownSync(p('docs'), 2000, 2000);
    lchownSync(p('link-relative'), 4321, 8765);
    lchownSync(p('private/secret.db'), 999, 999);
  }
  if (options.acl) {
    tool('setfacl', ['-m', 'u:1234:rwx,g:5678:r', p('small.txt')]);
    tool('setfacl', ['-d', '-m', 'u:1234:rwx', p('shared')]);
    tool('setfacl', ['-m', 'u:4242:rx', p('docs/nested')]);
  }
  if (options.xattr) {
    tool('setfattr', ['-n', 'user.scribe.origin', '-v', 'source-volume', p('small.txt')]);
    tool('setfattr', ['-n', 'user.scribe.binary', '-v', '0x00ff10', p('docs/random-1MiB.bin')]);
    tool('setfattr', ['-n', 'user.scribe.dir', '-v', 'yes', p('docs')]);
  }

  // Times last, deepest first, so creating entries does not move a directory's mtime again.
  // Fractional seconds: Node passes times as doubles, so about a microsecond survives.
  let t = 1_600_000_000.123456;
  for (const path of walk(root).reverse()) setTime(join(root, path), (t += 3601.5));
}

/** Relative paths of every entry under `root`, parents before children, root as ".". */
export function walk(root: string): string[] {
  const out = ['.'];
  const visit = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const child = rel === '.' ? name : `${rel}/${name}`;
      out.push(child);
      if (lstatSync(join(root, child)).isDirectory()) visit(child);
    }
  };
  visit('.');
  return out;
}

/** One entry of a snapshot. */
export interface EntrySnapshot {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'other';
  mode: string;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  target?: string;
  mtimeNs?: string;
  hardLinks?: string[];
}

/** Snapshot of a tree, keyed by relative path; `ignore` names top-level entries left out. */
export function snapshotTree(root: string, ignore: string[] = []): Record<string, EntrySnapshot> {
  const paths = walk(root).filter((path) => !ignore.some((name) => path === name || path.startsWith(`${name}/`)));
  const byInode = new Map<string, string[]>();
  const stats = new Map(paths.map((path) => [path, lstatSync(join(root, path), { bigint: true })]));
  for (const [path, st] of stats)
    if (!st.isDirectory() && st.nlink > 1n) byInode.set(`${st.ino}`, [...(byInode.get(`${st.ino}`) ?? []), path]);

  const out: Record<string, EntrySnapshot> = {};
  for (const [path, st] of stats) {
    const full = join(root, path);
    const type = st.isFile()
      ? 'file'
      : st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isFIFO()
            ? 'fifo'
            : 'other';
    const entry: EntrySnapshot = {
      type,
      mode: (Number(st.mode) & 0o7777).toString(8),
      uid: Number(st.uid),
      gid: Number(st.gid),
    };
    // rsync does not set the times of special files; everything else keeps its mtime to the ns.
    if (type !== 'fifo') entry.mtimeNs = st.mtimeNs.toString();
    if (type === 'file') {
      entry.size = Number(st.size);
      entry.sha256 = createHash('sha256').update(readFileSync(full)).digest('hex');
      const group = byInode.get(`${st.ino}`);
      if (group !== undefined) entry.hardLinks = [...group].sort();
    }
    if (type === 'symlink') entry.target = readlinkSync(full);
    out[path] = entry;
  }
  return out;
}

/** ACLs of every entry that has more than the base entries, keyed by relative path (getfacl text). */
export function aclSnapshot(root: string, ignore: string[] = []): Record<string, string> {
  return parseFileBlocks(tool('getfacl', ['-R', '-P', '-s', '-n', '.'], root), ignore);
}

/** user.* extended attributes of every entry that has any, keyed by relative path (getfattr text). */
export function xattrSnapshot(root: string, ignore: string[] = []): Record<string, string> {
  return parseFileBlocks(tool('getfattr', ['-R', '-P', '-h', '-d', '-m', '^user\\.', '-e', 'hex', '.'], root), ignore);
}

/** Splits getfacl/getfattr output ("# file: ./x" blocks) into path → block text. */
function parseFileBlocks(text: string, ignore: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const block of text.split(/\n\n+/)) {
    const match = /^# file: (.*)$/m.exec(block);
    if (match?.[1] === undefined) continue;
    const path = match[1].replace(/^\.\/?/, '') || '.';
    if (ignore.some((name) => path === name || path.startsWith(`${name}/`))) continue;
    out[path] = block
      .split('\n')
      .filter((line) => !line.startsWith('# file:'))
      .join('\n')
      .trim();
  }
  return out;
}
