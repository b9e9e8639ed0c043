/**
 * Saying that a mover could not read some of the files it was to copy (pure, any mover). Such an
 * attempt always fails (decision 17: a copy that misses files is never reported as a success),
 * and its message names the files and the ways out, the way out first: a condition's message is
 * cut after about 300 characters, and a long list of files must not push it out.
 */

/** The namespace annotation that runs a namespace's movers as root (machines/privilege.ts). */
const PRIVILEGED_MOVERS_ANNOTATION = 'scribe.backube/privileged-movers';

/**
 * The two ways out of unreadable files: run the mover as their owner, or as root. Said for a
 * mover that runs unprivileged, which is the only one that meets unreadable files.
 */
export const UNREADABLE_WAYS_OUT = `run the mover as the files' owner with moverSecurityContext, or annotate the namespace ${PRIVILEGED_MOVERS_ANNOTATION}: "true" to run it as root; docs/permissions.md`;

/** How many unreadable files a failure names (the rest are counted). */
export const MAX_UNREADABLE_NAMED = 5;

/**
 * The first `max` of `items` joined with "; ", then "; and N more" for the rest of `total`
 * (`total` may exceed items.length when only the first ones were kept).
 */
export function nameSome(items: readonly string[], total = items.length, max = MAX_UNREADABLE_NAMED): string {
  const named = items.slice(0, max);
  const more = Math.max(total, items.length) - named.length;
  return named.join('; ') + (more > 0 ? `; and ${more} more` : '');
}
