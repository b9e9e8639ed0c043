/** Retry timing of failed cycles: capped exponential backoff. */

/** First retry delay. */
export const RETRY_INITIAL_MS = 10_000;
/** Longest retry delay: a broken destination is retried at least every five minutes. */
export const RETRY_MAX_MS = 5 * 60_000;
/** How long a working state may go without progress before Synchronizing turns Stalled. */
export const STALL_AFTER_MS = 10 * 60_000;

/** Delay before retry number `attempt` (1-based): 10s, 20s, 40s, ... capped at 5 min. */
export function retryDelayMs(attempt: number): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(RETRY_INITIAL_MS * 2 ** exponent, RETRY_MAX_MS);
}

/**
 * After this many failed attempts of one cycle, the next retry takes a new point-in-time copy
 * (source, copyMethod Clone or Snapshot) instead of reusing the cycle's: what the user fixed in
 * the source volume since then (data written, a file made readable) must reach the retry.
 */
export const RETAKE_COPY_EVERY = 3;
