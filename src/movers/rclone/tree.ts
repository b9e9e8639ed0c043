/**
 * Reading a volume into record entries, ACL text and extended attributes (the source), and
 * walking the destination (to remove what the record does not list, to compare its extended
 * attributes). lost+found at the root is skipped: it belongs to the file system.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, lstatSync, readdirSync, readlinkSync, type BigIntStats, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { listUnreadable } from '../permissions.js';
import { isRecordedXattr, RECORDED_XATTRS, RECORD_NAME, type RecordEntry, type XattrRecord } from './record.js';

/**
 * The source's user may not read some entries (files it may not open, directories it may not
 * list or enter): `problems` says which ("open /data/db/t1: permission denied"), each once.
 */
export class UnreadableEntries extends Error {
  constructor(readonly problems: string[]) {
    super(listUnreadable(problems) ?? 'unreadable entries');
  }
}

/**
 * Relative paths of everything under `root` (not following symlinks), root "." first. The
 * directory entries' types come with the listing (node falls back to lstat where the file
 * system does not report them), which spares an lstat per entry. With `unreadable`, a
 * directory that may not be listed or entered is reported there (and not descended into)
 * instead of failing the walk.
 */
export function listTree(root: string, unreadable?: string[]): string[] {
  const out = ['.'];
  const byName = (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const visit = (relative: string) => {
    const absolute = relative === '.' ? root : join(root, relative);
    if (unreadable && !mayRead(absolute, constants.R_OK | constants.X_OK)) {
      unreadable.push(`open ${absolute}: permission denied`);
      return;
    }
    for (const entry of readdirSync(absolute, { withFileTypes: true }).sort(byName)) {
      const name = entry.name;
      if (relative === '.' && (name === 'lost+found' || name === RECORD_NAME)) continue;
      const child = relative === '.' ? name : `${relative}/${name}`;
      out.push(child);
      if (entry.isDirectory()) visit(child);
    }
  };
  visit('.');
  return out;
}

function entryType(stat: BigIntStats): RecordEntry['type'] {
  if (stat.isDirectory()) return 'dir';
  if (stat.isFile()) return 'file';
  if (stat.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** Whether this process may access `path` so (access(2): its user, groups and capabilities, ACLs). */
function mayRead(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES') return false;
    throw error;
  }
}

/**
 * The record entries of the tree under `root`. Every regular file must be readable and every
 * directory listable by this process, or nothing is recorded: UnreadableEntries names them (a
 * copy that misses files is never a success).
 */
export function readEntries(root: string): RecordEntry[] {
  const unreadable: string[] = [];
  const entries = listTree(root, unreadable).map((path) => {
    const absolute = path === '.' ? root : join(root, path);
    const stat = lstatSync(absolute, { bigint: true });
    const entry: RecordEntry = {
      path,
      type: entryType(stat),
      mode: Number(stat.mode & 0o7777n),
      uid: Number(stat.uid),
      gid: Number(stat.gid),
      mtimeNs: stat.mtimeNs.toString(),
    };
    if (entry.type === 'symlink') entry.target = readlinkSync(absolute);
    if (entry.type === 'file' && !mayRead(absolute, constants.R_OK))
      unreadable.push(`open ${absolute}: permission denied`);
    return entry;
  });
  if (unreadable.length) throw new UnreadableEntries(unreadable);
  return entries;
}

/**
 * The extended ACLs of `entries` as getfacl prints them (only entries that have more than the
 * base ACL), or null when getfacl is not installed.
 */
export function readAcls(root: string, entries: RecordEntry[]): string | null {
  const paths = entries.filter((e) => e.type === 'dir' || e.type === 'file').map((e) => e.path);
  const result = spawnSync('getfacl', ['-P', '-n', '--skip-base', '-'], {
    cwd: root,
    input: paths.join('\n'),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) return null;
  // getfacl exits 1 when a file system lacks ACL support: then there are none to keep.
  if (result.status !== 0 && /Operation not supported/.test(result.stderr)) return '';
  if (result.status !== 0) throw new Error(`getfacl failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** The paths getfacl text (readAcls) has ACLs for. */
export function aclPaths(acl: string): Set<string> {
  return new Set(
    Buffer.from(acl, 'utf8')
      .toString('latin1')
      .split('\n')
      .filter((line) => line.startsWith('# file: '))
      .map((line) => unescapeAttrText(line.slice('# file: '.length))),
  );
}

/**
 * The extended attributes of the tree under `root` that a record carries (RECORDED_XATTRS:
 * user.* and security.capability; ACLs travel as getfacl text, readAcls), by path, values in
 * base64; only entries that have some. Null when getfattr is not installed. Symlinks are not
 * followed; lost+found at the root and the record itself are left out.
 */
export function readXattrs(root: string, paths?: ReadonlySet<string>): XattrRecord | null {
  // Bytes as latin1 characters, one each, until the escapes are undone (unescapeAttrText).
  const result = spawnSync('getfattr', ['-R', '-P', '-h', '-d', '-e', 'base64', '-m', RECORDED_XATTRS, '.'], {
    cwd: root,
    encoding: 'latin1',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) return null;
  // Like getfacl: a file system without extended attributes has none to keep.
  if (result.status !== 0 && /Operation not supported/.test(result.stderr)) return {};
  if (result.status !== 0) throw new Error(`getfattr failed: ${result.stderr.trim()}`);
  const out: XattrRecord = {};
  for (const [path, attrs] of parseGetfattr(result.stdout)) {
    if (path === 'lost+found' || path.startsWith('lost+found/') || path === RECORD_NAME) continue;
    if (paths && !paths.has(path)) continue;
    const kept = Object.entries(attrs).filter(([name]) => isRecordedXattr(name));
    if (kept.length) out[path] = Object.fromEntries(kept);
  }
  return out;
}

/**
 * Parses `getfattr -d -e base64` output read as latin1 (a character per byte): `# file: PATH`
 * then `NAME=0sBASE64` lines, a blank line between files. getfattr escapes newline, carriage
 * return and backslash in paths and names as \ooo; a value without `=` is empty.
 */
export function parseGetfattr(text: string): [string, Record<string, string>][] {
  const out: [string, Record<string, string>][] = [];
  let current: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = {};
      out.push([unescapeAttrText(line.slice('# file: '.length)), current]);
    } else if (current && line !== '' && !line.startsWith('#')) {
      const at = line.indexOf('=');
      const name = unescapeAttrText(at < 0 ? line : line.slice(0, at));
      const value = at < 0 ? '' : line.slice(at + 1);
      current[name] = value.startsWith('0s')
        ? value.slice(2)
        : Buffer.from(value.replace(/^"|"$/g, '')).toString('base64');
    }
  }
  return out;
}

/** getfattr's (and getfacl's) \ooo escapes (octal bytes) undone in latin1 text, the bytes read as UTF-8. */
export function unescapeAttrText(text: string): string {
  return Buffer.from(
    text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))),
    'latin1',
  ).toString('utf8');
}

/** A path or name escaped as getfattr writes it, as latin1 text (a character per byte) for setfattr --restore. */
export function escapeAttrText(text: string): string {
  return Buffer.from(text, 'utf8')
    .toString('latin1')
    .replace(/[\\\n\r=]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}
