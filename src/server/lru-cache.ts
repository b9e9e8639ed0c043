/**
 * The authentication caches' store: the `lru-cache` library's bounded LRU with an expiry per
 * entry, and concurrent lookups of one key sharing one computation (its `fetch`), so that
 * neither a flood of requests with one token nor one of random tokens can multiply API calls or
 * grow memory. This adapter only fixes the shape the caches use: each computation says how long
 * its own answer is kept (an allowed review longer than a refused one).
 */
import { LRUCache } from 'lru-cache';

/** Settings of an ExpiringLru. */
export interface ExpiringLruOptions {
  /** At most this many entries are kept; the least recently used one goes first. */
  maxEntries: number;
  clock?: () => number;
}

/** What one lookup brings to the shared fetch: how to compute the value and how long to keep it. */
interface Computation<V> {
  compute: () => Promise<V>;
  ttlOf: (value: V) => number;
}

/** A bounded LRU map of values that expire, with in-flight sharing of their computation. */
export class ExpiringLru<V extends NonNullable<unknown>> {
  private readonly cache: LRUCache<string, V, Computation<V>>;

  constructor(options: ExpiringLruOptions) {
    if (!(options.maxEntries >= 1)) throw new Error('an ExpiringLru needs maxEntries >= 1');
    const clock = options.clock;
    this.cache = new LRUCache<string, V, Computation<V>>({
      // A bound by count through maxSize rather than `max`, which allocates storage for `max`
      // entries up front (the effects adapter's 50,000 would be ~1.5 MiB before its first entry).
      maxSize: options.maxEntries,
      sizeCalculation: () => 1,
      // Every entry is given its own time to live; this default only turns expiry on.
      ttl: 1,
      // Read the clock on every check rather than once per millisecond (a test's clock jumps).
      ttlResolution: 0,
      ...(clock ? { perf: { now: clock } } : {}),
      fetchMethod: async (_key, _stale, { context, options: fetchOptions }) => {
        const value = await context.compute();
        // The library reads a ttl of 0 as "never expires": a value not to keep expires at once.
        fetchOptions.ttl = Math.max(1, context.ttlOf(value));
        return value;
      },
    });
  }

  /** How many entries are held. */
  get size(): number {
    return this.cache.size;
  }

  /** The live value of `key`, marking it most recently used; undefined when absent or expired. */
  get(key: string): V | undefined {
    return this.cache.get(key);
  }

  /** Stores `value` for `ttlMs` (nothing when it is not positive), evicting the least recently used when full. */
  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs > 0) this.cache.set(key, value, { ttl: ttlMs });
    else this.cache.delete(key);
  }

  /**
   * The cached value of `key`, else the one `compute` gives, kept for `ttlOf(value)` ms.
   * Concurrent calls for a key share one `compute`; a rejection is not cached.
   */
  async getOrCompute(key: string, compute: () => Promise<V>, ttlOf: (value: V) => number): Promise<V> {
    const value = await this.cache.fetch(key, { context: { compute, ttlOf } });
    if (value === undefined) throw new Error(`the cache computed no value for ${key}`);
    return value;
  }
}
