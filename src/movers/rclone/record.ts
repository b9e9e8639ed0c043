/**
 * The metadata record the rclone source uploads beside the data (pure parts). Object storage
 * keeps contents, mtimes and (with --links) symlinks, but not ownership, permissions, empty
 * directories or ACLs, so the source records them and the destination re-applies them.
 *
 * Format (JSON, object `.scribe-rclone-metadata.json` at the root of rcloneDestPath):
 *   { "format": "scribe-rclone-metadata", "version": 1, "createdAt": RFC 3339,
 *     "entries": [ { "path": "." | "dir/file" (relative, "/"-separated),
 *                    "type": "dir" | "file" | "symlink" | "other",
 *                    "mode": permission bits incl. setuid/setgid/sticky (number),
 *                    "uid": number, "gid": number,
 *                    "mtimeNs": nanoseconds since the epoch (decimal string),
 *                    "target": symlink target (symlinks only) } … ],
 *     "acl": `getfacl -P -n --skip-base` output for the entries that have extended or default
 *            ACLs (relative paths), applied with `setfacl --restore`; "" when there are none,
 *            null when getfacl was unavailable at the source,
 *     "xattrs": { "dir/file": { "user.name": value in base64, … }, … }: the extended attributes
 *            RECORDED_XATTRS names (user.*, security.capability) of the entries that have some;
 *            {} when there are none, null when getfattr was unavailable at the source; absent
 *            in records of Scribe versions before it (read as null) }
 * Entries are sorted by path; the root "." comes first. lost+found at the root is never listed.
 */

/** Name of the record object at the root of the destination path (reserved: never synced as data). */
export const RECORD_NAME = '.scribe-rclone-metadata.json';

/**
 * The extended attributes a record carries (a getfattr -m pattern): user.* (settable by a file's
 * owner) and security.capability (file capabilities; settable with CAP_SETFCAP). POSIX ACLs
 * (system.posix_acl_*) travel as getfacl text; trusted.* and security.selinux need
 * CAP_SYS_ADMIN, which no mover has, and a label belongs to the destination's policy.
 */
export const RECORDED_XATTRS = '^(user\\.|security\\.capability$)';

/** Whether a record carries the extended attribute `name` (RECORDED_XATTRS). */
export function isRecordedXattr(name: string): boolean {
  return name.startsWith('user.') || name === 'security.capability';
}

/** Extended attributes by entry path, then by name; values in base64. */
export type XattrRecord = Record<string, Record<string, string>>;

/** One file system entry. */
export interface RecordEntry {
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: string;
  target?: string;
}

/** The whole record. */
export interface MetadataRecord {
  format: 'scribe-rclone-metadata';
  version: 1;
  createdAt: string;
  entries: RecordEntry[];
  acl: string | null;
  xattrs?: XattrRecord | null;
}

/** Serializes a record (entries sorted, so equal trees give equal records). */
export function serializeRecord(
  entries: RecordEntry[],
  acl: string | null,
  createdAt: Date,
  xattrs: XattrRecord | null = null,
): string {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
  const record: MetadataRecord = {
    format: 'scribe-rclone-metadata',
    version: 1,
    createdAt: createdAt.toISOString(),
    entries: sorted,
    acl,
    xattrs: xattrs === null ? null : Object.fromEntries(Object.entries(xattrs).sort(([a], [b]) => comparePaths(a, b))),
  };
  return `${JSON.stringify(record, null, 1)}\n`;
}

/** Parses and checks a record; throws with a reason when it is not one this version understands. */
export function parseRecord(text: string): MetadataRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`the metadata record is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const record = parsed as Partial<MetadataRecord>;
  if (record?.format !== 'scribe-rclone-metadata' || record.version !== 1 || !Array.isArray(record.entries))
    throw new Error('the metadata record is not a version 1 scribe-rclone-metadata record');
  for (const entry of record.entries) {
    if (typeof entry?.path !== 'string' || !isSafeRelativePath(entry.path))
      throw new Error(`the metadata record names an unsafe path: ${JSON.stringify(entry?.path)}`);
    if (!['dir', 'file', 'symlink', 'other'].includes(entry.type) || !/^\d+$/.test(String(entry.mtimeNs)))
      throw new Error(`the metadata record has a malformed entry for ${entry.path}`);
  }
  // A tree never lists anything below a symlink (nothing walks through one): an entry there
  // would make every later step (chown, chmod, ACLs) follow the link out of the volume.
  const links = new Set(record.entries.filter((entry) => entry.type === 'symlink').map((entry) => entry.path));
  for (const entry of record.entries) {
    const link = ancestors(entry.path).find((ancestor) => links.has(ancestor));
    if (link !== undefined)
      throw new Error(
        `the metadata record names ${JSON.stringify(entry.path)} beneath the symlink ${JSON.stringify(link)}`,
      );
  }
  if (record.xattrs !== undefined && record.xattrs !== null) {
    if (typeof record.xattrs !== 'object' || Array.isArray(record.xattrs))
      throw new Error('the metadata record has malformed extended attributes');
    const paths = new Set(record.entries.map((entry) => entry.path));
    for (const [path, attrs] of Object.entries(record.xattrs)) {
      if (!paths.has(path))
        throw new Error(`the metadata record has extended attributes for an unlisted path: ${JSON.stringify(path)}`);
      if (
        typeof attrs !== 'object' ||
        attrs === null ||
        Object.entries(attrs).some(
          ([name, value]) =>
            !isRecordedXattr(name) || typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value),
        )
      )
        throw new Error(`the metadata record has malformed extended attributes for ${path}`);
    }
  }
  return { ...(record as MetadataRecord), xattrs: record.xattrs ?? null };
}

/** True for "." or a relative "/"-separated path without "..", empty or absolute parts. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '.') return true;
  return (
    path !== '' &&
    !path.startsWith('/') &&
    path.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
  );
}

/** Orders paths so that a directory comes before everything inside it. */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '.') return -1;
  if (b === '.') return 1;
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++)
    if (pa[i] !== pb[i]) return (pa[i] as string) < (pb[i] as string) ? -1 : 1;
  return pa.length - pb.length;
}

/** The directories above a relative path, outermost first: "a/b/c" → ["a", "a/b"]. */
export function ancestors(path: string): string[] {
  if (path === '.') return [];
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Depth of a path ("." is 0), for applying mtimes children first. */
export function depth(path: string): number {
  return path === '.' ? 0 : path.split('/').length;
}
