/**
 * What rsync's error lines say about the files of one transfer, and the message for files the
 * source could not read (pure).
 *
 * An unprivileged mover meets two kinds of file errors, both with rsync exit code 23 ("partial
 * transfer due to error"), which mean opposite things:
 * - the sender (the source) could not read a file or directory (`Permission denied (13)`): the
 *   copy misses data, so the attempt fails, naming the files and the ways out (decision 17);
 * - the receiver (the destination) could not set an attribute (mode, times, ACL, xattr) of an
 *   entry it does not own (`Operation not permitted (1)`): every byte arrived, and only what its
 *   user may not do was left undone. The volume's root is always such an entry for an
 *   unprivileged destination (the provisioner owns it; fsGroup only gives the group), so
 *   failing for it would fail every unprivileged sync. These are counted and reported, not failed.
 * Anything else rsync reports (a write that failed, a file it could not create) fails as before.
 */
import { listUnreadable, MAX_UNREADABLE_NAMED, unreadableMessage } from '../permissions.js';

/** What one line of rsync's output says about a file. */
export type FileError =
  { kind: 'unreadable'; path: string } | { kind: 'unpreserved'; path: string } | { kind: 'other'; line: string };

const DENIED = ': Permission denied (13)';
const NOT_PERMITTED = ': Operation not permitted (1)';

/** The sender's read failures: its own messages, tagged [sender] since rsync 3.2.4 (untagged before). */
const UNREADABLE: RegExp[] = [
  /^rsync: (?:\[sender\] )?send_files failed to open "(.*)"$/,
  /^rsync: (?:\[sender\] )?opendir "(.*)" failed$/,
  /^rsync: (?:\[sender\] )?(?:readlink_stat\(|link_stat )"(.*)"\)? failed$/,
  /^rsync: \[sender\] .*?"(.*)"/,
  /^rsync: \[sender\] (.*)$/,
];

/** The receiver's and generator's failures to set an attribute on an entry its user does not own. */
const UNPRESERVED: RegExp[] = [
  /^rsync: \[(?:generator|receiver)\] failed to set (?:times|permissions) on "(.*)"$/,
  /^rsync: \[(?:generator|receiver)\] (?:chown|chgrp|lchown) "(.*)" failed$/,
  /^rsync: \[(?:generator|receiver)\] set_acl: sys_acl_set_file\((.*), ACL_TYPE_\w+\)$/,
  /^rsync: \[(?:generator|receiver)\] rsync_xal_set: l(?:set|remove)xattr\("(.*)","[^"]*"\) failed$/,
];

/** What `line` says about a file; undefined for anything that is not one of rsync's error messages. */
export function fileErrorOf(line: string): FileError | undefined {
  const text = line.trim();
  // "rsync error: …" and "rsync warning: …" sum the run up; the messages before them are the facts.
  if (!text.startsWith('rsync: ')) return undefined;
  if (text.endsWith(DENIED)) {
    const message = text.slice(0, -DENIED.length);
    for (const pattern of UNREADABLE) {
      const path = pattern.exec(message)?.[1];
      if (path !== undefined) return { kind: 'unreadable', path };
    }
  }
  if (text.endsWith(NOT_PERMITTED)) {
    const message = text.slice(0, -NOT_PERMITTED.length);
    for (const pattern of UNPRESERVED) {
      const path = pattern.exec(message)?.[1];
      if (path !== undefined) return { kind: 'unpreserved', path };
    }
  }
  return { kind: 'other', line: text };
}

/** How many paths of each kind a tally keeps (the rest are counted). */
const KEPT_PATHS = 20;
/** How many paths of each kind a tally remembers to count each once. */
const MAX_REMEMBERED = 100_000;

/** Counts of one kind of file error, with the first paths. */
export interface PathCount {
  count: number;
  paths: string[];
}

/** The file errors of one rsync run. */
export interface FileErrors {
  unreadable: PathCount;
  unpreserved: PathCount;
  /** Any other error message of rsync's: the first one, for the record. */
  other: { count: number; first?: string };
  /** Whom the source ran as ("uid 999"), for the message; absent when unknown. */
  reader?: string;
}

/**
 * Tallies rsync's error lines as they come, over the whole run (the kept tail of the output may
 * no longer hold an error printed early in a long transfer, and a missed read error would pass
 * a copy that misses files).
 */
export class FileErrorTally {
  readonly errors: FileErrors;
  /** The paths counted so far, so a path rsync names twice counts once (bounded for huge runs). */
  private readonly seen = { unreadable: new Set<string>(), unpreserved: new Set<string>() };

  constructor(reader?: string) {
    this.errors = {
      unreadable: { count: 0, paths: [] },
      unpreserved: { count: 0, paths: [] },
      other: { count: 0 },
      ...(reader === undefined ? {} : { reader }),
    };
  }

  /** Takes one line of rsync's output (stdout or stderr). */
  observe(line: string): void {
    const error = fileErrorOf(line);
    if (error === undefined) return;
    if (error.kind === 'other') {
      this.errors.other.count++;
      this.errors.other.first ??= error.line;
      return;
    }
    const tally = this.errors[error.kind];
    const seen = this.seen[error.kind];
    if (seen.has(error.path)) return;
    if (seen.size < MAX_REMEMBERED) seen.add(error.path);
    tally.count++;
    if (tally.paths.length < KEPT_PATHS) tally.paths.push(error.path);
  }
}

/** Tallies every line of `output` at once. */
export function tallyFileErrors(output: string, reader?: string): FileErrors {
  const tally = new FileErrorTally(reader);
  for (const line of output.split('\n')) tally.observe(line);
  return tally.errors;
}

/** The unreadable paths: the first MAX_UNREADABLE_NAMED named, the rest counted (permissions.ts). */
function unreadableList(errors: FileErrors): string {
  const { count, paths } = errors.unreadable;
  if (count <= paths.length) return listUnreadable(paths) ?? '';
  return `${listUnreadable(paths.slice(0, MAX_UNREADABLE_NAMED)) ?? ''}; and ${count - Math.min(paths.length, MAX_UNREADABLE_NAMED)} more`;
}

/** What the sync comes to when files could not be read. */
const UNREADABLE_CONSEQUENCE = 'the sync failed';

/**
 * The source's message for files it could not read, in the words every mover uses
 * (permissions.ts): the ways out and the files first, as the condition shows about 300
 * characters of it.
 */
export function unreadableReport(errors: FileErrors): string {
  const who = errors.reader === undefined ? 'rsync' : `rsync as ${errors.reader}`;
  return unreadableMessage(who, unreadableList(errors), UNREADABLE_CONSEQUENCE);
}

/** How many entries a warning names. */
const UNPRESERVED_NAMED = 3;

/** The source's one-line note of the attributes the destination's user could not set. */
export function unpreservedReport(errors: FileErrors): string {
  const { count, paths } = errors.unpreserved;
  const named =
    paths.slice(0, UNPRESERVED_NAMED).join('; ') +
    (count > UNPRESERVED_NAMED ? `; and ${count - UNPRESERVED_NAMED} more` : '');
  return `the destination's user could not set the modes, times, ACLs or xattrs of ${count} entr${count === 1 ? 'y' : 'ies'} it does not own (their data arrived; a privileged destination preserves them): ${named}`;
}

const REPORTED = /\brsync(?: as [^:]*)?: could not read files \(.*$/m;

/**
 * The message for a source that could not read files, from its log or status summary: the
 * source's own report (unreadableReport: the ways out, moverSecurityContext or the namespace
 * annotation scribe.backube/privileged-movers, then the files), else one made from rsync's own
 * lines; undefined when the log shows no unreadable file. For the operator's explanation of a
 * failed rsync mover (mover.ts explainRsyncFailure).
 */
export function explainUnreadableFiles(logs: string): string | undefined {
  const reported = REPORTED.exec(logs)?.[0];
  if (reported !== undefined) return reported.replace(/ \(exit code \d+\)$/, '');
  const errors = tallyFileErrors(logs);
  return errors.unreadable.count === 0 ? undefined : unreadableReport(errors);
}
