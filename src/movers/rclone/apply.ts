/**
 * Making the destination volume match the record after `rclone sync`: removes what the record
 * does not list (empty directories rclone leaves), creates empty directories and missing
 * symlinks, then sets ownership, extended attributes (after ownership: a chown drops file
 * capabilities), permissions, ACLs and, last and children first, mtimes (each of the earlier
 * steps would change a directory's mtime).
 *
 * Not running as root, the mover sets what an owner may: modes, user.* attributes and ACLs of
 * the files it owns (all that rclone wrote); not owners, and not security.capability.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ancestors, depth, type MetadataRecord, type RecordEntry } from './record.js';
import { aclPaths, escapeAttrText, listTree, readAcls, readXattrs } from './tree.js';

/** What apply did, for the log. */
export interface ApplyReport {
  removed: number;
  created: number;
  ownershipSkipped: boolean;
  /** The volume's root belongs to another user: its mode and times were left as they are. */
  rootSkipped: boolean;
  aclsApplied: boolean;
  /** Extended attributes set and removed (user.*, and security.capability as root). */
  xattrsSet: number;
  xattrsRemoved: number;
  /** Recorded extended attributes this mover may not set (security.capability, not root). */
  xattrsSkipped: number;
}

/** Applies `record` to the tree under `root`. `runDir` holds the files for setfacl and setfattr. */
export function applyRecord(root: string, record: MetadataRecord, runDir: string, isRoot: boolean): ApplyReport {
  const wanted = new Map(record.entries.map((e) => [e.path, e]));
  // Fifos, sockets and devices: rclone carries none, so there is nothing to set on them.
  const entries = record.entries.filter((e) => e.type !== 'other');
  const report: ApplyReport = {
    removed: 0,
    created: 0,
    ownershipSkipped: false,
    rootSkipped: false,
    aclsApplied: false,
    xattrsSet: 0,
    xattrsRemoved: 0,
    xattrsSkipped: 0,
  };
  // An unprivileged mover may set only what it owns; the volume's root is the volume's (made by
  // the storage driver, given fsGroup by the kubelet), like a mount point's on any restore.
  const rootStat = lstatSync(root);
  const settable = (entry: RecordEntry) => entry.path !== '.' || isRoot || rootStat.uid === process.getuid?.();
  report.rootSkipped = entries.some((entry) => !settable(entry));
  // Deepest first, so a directory's contents go before it.
  for (const path of listTree(root).reverse()) {
    if (path === '.' || wanted.has(path)) continue;
    rmSync(join(root, path), { recursive: true, force: true });
    report.removed++;
  }
  for (const entry of entries) assertNotThroughSymlink(root, entry.path);
  for (const entry of entries) report.created += ensureEntry(root, entry) ? 1 : 0;
  for (const entry of entries) {
    const path = join(root, entry.path);
    const stat = lstatSync(path);
    if (stat.uid !== entry.uid || stat.gid !== entry.gid) {
      if (isRoot) lchownSync(path, entry.uid, entry.gid);
      else report.ownershipSkipped = true;
    }
  }
  Object.assign(report, applyXattrs(root, record, runDir, isRoot, entries.filter(settable)));
  for (const entry of entries)
    if (entry.type !== 'symlink' && settable(entry)) chmodSync(join(root, entry.path), entry.mode);
  if (record.acl !== null) removeStaleAcls(root, record.acl, entries.filter(settable));
  if (record.acl !== null && record.acl.trim() !== '') {
    const aclFile = join(runDir, 'acl.txt');
    // setfacl --restore also gives each file the owner and group of its `# owner:` and `# group:`
    // lines, which only root may: ownership is apply's (above), so they are left out.
    // The volume's root, when it is another user's, keeps its ACLs as it keeps its mode.
    const acl = report.rootSkipped ? record.acl.replace(/^# file: \.\n(?:.+\n)*\n?/m, '') : record.acl;
    assertAclsOfListedEntries(acl, entries);
    writeFileSync(aclFile, acl.replace(/^# (owner|group): .*\n/gm, ''));
    const result = spawnSync('setfacl', [`--restore=${aclFile}`], { cwd: root, encoding: 'utf8' });
    if (result.error) throw new Error('the source recorded ACLs, but setfacl is not installed here (Debian: acl)');
    if (result.status !== 0) throw new Error(`setfacl --restore failed: ${result.stderr.trim()}`);
    report.aclsApplied = true;
  }
  for (const entry of [...entries].sort((a, b) => depth(b.path) - depth(a.path)))
    if (settable(entry)) setMtime(root, entry);
  return report;
}

/**
 * Refuses an entry the volume reaches through a symlink (one planted in the volume before this
 * sync, say): chown, chmod and setfacl would follow it out of the volume.
 */
function assertNotThroughSymlink(root: string, path: string): void {
  for (const ancestor of ancestors(path))
    if (lstatSync(join(root, ancestor), { throwIfNoEntry: false })?.isSymbolicLink())
      throw new Error(`the volume reaches ${JSON.stringify(path)} through the symlink ${JSON.stringify(ancestor)}`);
}

/**
 * `setfacl --restore` sets the ACLs of whatever paths its text names: only the record's own
 * files and directories, which assertNotThroughSymlink checked, may be among them.
 */
function assertAclsOfListedEntries(acl: string, entries: RecordEntry[]): void {
  const listed = new Set(entries.filter((entry) => entry.type !== 'symlink').map((entry) => entry.path));
  for (const path of aclPaths(acl))
    if (!listed.has(path))
      throw new Error(
        `the metadata record's ACLs name a path it does not list as a file or directory: ${JSON.stringify(path)}`,
      );
}

/** Creates a missing directory or symlink (rclone cannot carry empty directories); true when it did. */
function ensureEntry(root: string, entry: RecordEntry): boolean {
  const path = join(root, entry.path);
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (entry.type === 'dir') {
    if (stat?.isDirectory()) return false;
    if (stat) rmSync(path, { force: true });
    mkdirSync(path);
    return true;
  }
  if (entry.type === 'symlink' && entry.target !== undefined) {
    if (stat?.isSymbolicLink() && readlinkSync(path) === entry.target) return false;
    if (stat) rmSync(path, { recursive: true, force: true });
    symlinkSync(entry.target, path);
    return true;
  }
  if (!stat) throw new Error(`${entry.path} is in the metadata record but rclone did not bring it`);
  return false;
}

function setMtime(root: string, entry: RecordEntry): void {
  const path = join(root, entry.path);
  const ns = BigInt(entry.mtimeNs);
  // Seconds as a double: sub-microsecond precision for present-day times.
  const seconds = Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
  if (entry.type === 'symlink') lutimesSync(path, seconds, seconds);
  else utimesSync(path, seconds, seconds);
}

/**
 * Makes the recorded extended attributes of `entries` (files and directories) the volume's:
 * sets what differs and removes what the record does not have, among the names this mover may
 * set (user.*; security.capability as root). A record without attributes (null: the source had
 * no getfattr) changes nothing.
 */
function applyXattrs(
  root: string,
  record: MetadataRecord,
  runDir: string,
  isRoot: boolean,
  entries: RecordEntry[],
): Pick<ApplyReport, 'xattrsSet' | 'xattrsRemoved' | 'xattrsSkipped'> {
  const counts = { xattrsSet: 0, xattrsRemoved: 0, xattrsSkipped: 0 };
  const recorded = record.xattrs;
  if (recorded === null || recorded === undefined) return counts;
  const settable = (name: string) => name.startsWith('user.') || (isRoot && name === 'security.capability');
  const targets = entries.filter((e) => e.type === 'dir' || e.type === 'file');
  const current = readXattrs(root, new Set(targets.map((e) => e.path)));
  if (current === null) {
    if (Object.keys(recorded).length === 0) return counts;
    throw new Error('the source recorded extended attributes, but getfattr is not installed here (Debian: attr)');
  }
  const restore: string[] = [];
  const removals: [string, string][] = [];
  for (const entry of targets) {
    const want = recorded[entry.path] ?? {};
    const have = current[entry.path] ?? {};
    const lines: string[] = [];
    for (const [name, value] of Object.entries(want)) {
      if (!settable(name)) counts.xattrsSkipped++;
      else if (have[name] !== value) lines.push(`${escapeAttrText(name)}=${value === '' ? '""' : `0s${value}`}`);
    }
    const stale = Object.keys(have).filter((name) => settable(name) && !(name in want));
    if (!lines.length && !stale.length) continue;
    // user.* attributes need write permission, even the owner's: a file restored read-only
    // gets it back until the modes are set, right after.
    const path = join(root, entry.path);
    const mode = lstatSync(path).mode;
    if (!isRoot && (mode & 0o200) === 0) chmodSync(path, (mode & 0o7777) | 0o200);
    if (lines.length) restore.push(`# file: ${escapeAttrText(entry.path)}`, ...lines, '');
    counts.xattrsSet += lines.length;
    for (const name of stale) removals.push([entry.path, name]);
  }
  if (restore.length) {
    const file = join(runDir, 'xattrs.txt');
    writeFileSync(file, `${restore.join('\n')}\n`, 'latin1');
    const result = spawnSync('setfattr', [`--restore=${file}`], { cwd: root, encoding: 'utf8' });
    if (result.error)
      throw new Error('the source recorded extended attributes, but setfattr is not installed here (Debian: attr)');
    if (result.status !== 0) throw new Error(`setfattr --restore failed: ${result.stderr.trim()}`);
  }
  for (const [path, name] of removals) {
    const result = spawnSync('setfattr', ['-h', '-x', name, join(root, path)], { encoding: 'utf8' });
    if (result.status !== 0)
      throw new Error(`setfattr -x ${name} failed: ${result.stderr.trim() || result.error?.message}`);
  }
  counts.xattrsRemoved = removals.length;
  return counts;
}

/**
 * Removes the ACLs, access and default, of the entries the record lists without any: one the
 * source removed from a file rclone did not rewrite, or one a file rclone wrote took from its
 * directory's default ACL. (setfacl --restore replaces the ACLs of the entries it lists.)
 */
function removeStaleAcls(root: string, recorded: string, entries: RecordEntry[]): void {
  const current = readAcls(root, entries);
  if (!current) return;
  const wanted = aclPaths(recorded);
  const stale = [...aclPaths(current)].filter((path) => !wanted.has(path));
  for (let i = 0; i < stale.length; i += 500) {
    const paths = stale.slice(i, i + 500).map((path) => join(root, path));
    const result = spawnSync('setfacl', ['-b', '-k', '--', ...paths], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`setfacl -b -k failed: ${result.stderr.trim() || result.error?.message}`);
  }
}
