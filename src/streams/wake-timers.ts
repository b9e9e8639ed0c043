/**
 * One timer per key, for the work queue's requeues (a CR's next cron tick, retry or deadline) and
 * back-offs. A new request replaces the old one, so an idle operator holds one timer per CR at
 * most and does no polling.
 */

/** Longest delay Node's setTimeout accepts; later wake-ups are re-armed in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Keyed, replaceable wake-up timers. */
export class WakeTimers<K extends string> {
  private readonly timers = new Map<K, { at: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly onWake: (key: K) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Wakes `key` at `at` (epoch ms), replacing any earlier request for the key. */
  schedule(key: K, at: number): void {
    const existing = this.timers.get(key);
    if (existing?.at === at) return;
    this.cancel(key);
    const delay = Math.max(0, at - this.now());
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        if (at > this.now()) this.schedule(key, at);
        else this.onWake(key);
      },
      Math.min(delay, MAX_TIMEOUT_MS),
    );
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Forgets the wake-up of `key`. */
  cancel(key: K): void {
    const existing = this.timers.get(key);
    if (existing) clearTimeout(existing.timer);
    this.timers.delete(key);
  }

  /** When `key` will be woken, if at all. */
  scheduledAt(key: K): number | undefined {
    return this.timers.get(key)?.at;
  }

  /** Number of armed timers. */
  get size(): number {
    return this.timers.size;
  }

  /** Cancels every timer. */
  clear(): void {
    for (const key of [...this.timers.keys()]) this.cancel(key);
  }
}
