/**
 * What rclone moved, from its log (-v): one INFO line per file copied, e.g.
 *
 *   2024/06/10 12:00:00 INFO  : docs/a.txt: Copied (new)
 *   2024/06/10 12:00:00 INFO  : big.bin: Multi-thread Copied (replaced existing)
 *   2024/06/10 12:00:00 INFO  : link.rclonelink: Copied (new)
 *
 * Each counts as one file; its bytes are the size of the file in the volume (the one read on
 * the source, the one written on the destination), which is what rclone transferred: for a
 * symlink (`--links`: `name.rclonelink`) its target's length, the size lstat reports.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';

const COPIED =
  /^(?:\d{4}\/\d{2}\/\d{2} )?(?:\d{2}:\d{2}:\d{2}(?:\.\d+)? )?INFO\s*: (.+?): (?:Multi-thread )?Copied \([^)]*\)(?: to: (.+))?$/;

/** The file a log line says rclone copied: its path at the source and at the destination. */
export function copiedFile(line: string): { source: string; destination: string } | undefined {
  const match = COPIED.exec(line.trimEnd());
  if (!match) return undefined;
  const source = match[1] as string;
  return { source, destination: match[2] ?? source };
}

const LINK_SUFFIX = '.rclonelink';

/**
 * The size of `path` (relative to `root`, as rclone names it) in the volume; a `.rclonelink`
 * that is not a file there is the symlink without the suffix. 0 when it is gone (changed while
 * being copied).
 */
export function volumeFileSize(root: string, path: string): number {
  const stat = lstatSync(join(root, path), { throwIfNoEntry: false });
  if (stat) return stat.size;
  if (!path.endsWith(LINK_SUFFIX)) return 0;
  return lstatSync(join(root, path.slice(0, -LINK_SUFFIX.length)), { throwIfNoEntry: false })?.size ?? 0;
}
