/**
 * Making the destination volume match the record after `rclone sync`: removes what the record
 * does not list (empty directories rclone leaves), creates empty directories and missing
 * symlinks, then sets ownership, permissions, ACLs and, last and children first, mtimes (each
 * of the earlier steps would change a directory's mtime).
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
import { depth, type MetadataRecord, type RecordEntry } from './record.js';
import { listTree } from './tree.js';

/** What apply did, for the log. */
export interface ApplyReport {
  removed: number;
  created: number;
  ownershipSkipped: boolean;
  /** The volume's root belongs to another user: its mode and times were left as they are. */
  rootSkipped: boolean;
  aclsApplied: boolean;
}

/** Applies `record` to the tree under `root`. `runDir` holds the ACL file for setfacl. */
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
  for (const entry of entries) report.created += ensureEntry(root, entry) ? 1 : 0;
  for (const entry of entries) {
    const path = join(root, entry.path);
    const stat = lstatSync(path);
    if (stat.uid !== entry.uid || stat.gid !== entry.gid) {
      if (isRoot) lchownSync(path, entry.uid, entry.gid);
      else report.ownershipSkipped = true;
    }
    if (entry.type !== 'symlink' && settable(entry)) chmodSync(path, entry.mode);
  }
  if (record.acl !== null && record.acl.trim() !== '') {
    const aclFile = join(runDir, 'acl.txt');
    writeFileSync(aclFile, record.acl);
    const result = spawnSync('setfacl', [`--restore=${aclFile}`], { cwd: root, encoding: 'utf8' });
    if (result.error) throw new Error('the source recorded ACLs, but setfacl is not installed here (Debian: acl)');
    if (result.status !== 0) throw new Error(`setfacl --restore failed: ${result.stderr.trim()}`);
    report.aclsApplied = true;
  }
  for (const entry of [...entries].sort((a, b) => depth(b.path) - depth(a.path)))
    if (settable(entry)) setMtime(root, entry);
  return report;
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
