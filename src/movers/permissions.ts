/**
 * How a mover says that its user may not read the volume's files (pure; docs/permissions.md).
 * Shared by restic (which names the files in its JSON errors) and rclone (whose source checks
 * every entry before it sends anything): the attempt fails, never a partial success, and the
 * message names the files and the two ways out.
 *
 * The message puts the way out and the files first: the Synchronizing condition shows the
 * mover's failure line cut after 300 characters (machines/mover-output.ts), and the movers'
 * summaries keep their result line (which carries this message) up to RESULT_LINE_MAX.
 */

/** The namespace annotation that runs a namespace's movers as root with capabilities. */
export const PRIVILEGED_MOVERS_ANNOTATION = 'scribe.backube/privileged-movers';

/** Unreadable files are the mover's user's problem, not the tool's: how to change that user. */
export const PERMISSIONS_HINT = `run the mover as the files' owner (moverSecurityContext) or as root (namespace annotation ${PRIVILEGED_MOVERS_ANNOTATION}: "true"); docs/permissions.md`;

/** The longest result line a mover's summary keeps: as much as the condition shows. */
export const RESULT_LINE_MAX = 300;

/** How many unreadable files a failure names (the rest are counted). */
export const MAX_UNREADABLE_NAMED = 5;

/**
 * One list of what could not be read ("open /data/x: permission denied", …): each once, the
 * first MAX_UNREADABLE_NAMED named and the rest counted; undefined for an empty list.
 */
export function listUnreadable(problems: readonly string[]): string | undefined {
  const unique = [...new Set(problems)];
  if (!unique.length) return undefined;
  const more = unique.length - MAX_UNREADABLE_NAMED;
  return unique.slice(0, MAX_UNREADABLE_NAMED).join('; ') + (more > 0 ? `; and ${more} more` : '');
}

/**
 * The message of a failure caused by files the mover's user may not read: `who` ("restic
 * backup", "rclone source") could not read `files` (listUnreadable's list), so `consequence`.
 */
export function unreadableMessage(who: string, files: string, consequence: string): string {
  return `${who}: could not read files (${PERMISSIONS_HINT}): ${files}; ${consequence}`;
}
