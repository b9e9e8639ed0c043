/**
 * Reading a volume into record entries and ACL text (the source), and walking the destination
 * (to remove what the record does not list). lost+found at the root is skipped: it belongs to
 * the file system.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync, type BigIntStats, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { RECORD_NAME, type RecordEntry } from './record.js';

/**
 * Relative paths of everything under `root` (not following symlinks), root "." first. The
 * directory entries' types come with the listing (node falls back to lstat where the file
 * system does not report them), which spares an lstat per entry.
 */
export function listTree(root: string): string[] {
  const out = ['.'];
  const byName = (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const visit = (relative: string) => {
    const absolute = relative === '.' ? root : join(root, relative);
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

/** The record entries of the tree under `root`. */
export function readEntries(root: string): RecordEntry[] {
  return listTree(root).map((path) => {
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
    return entry;
  });
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
