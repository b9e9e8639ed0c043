/**
 * A small least-recently-used cache whose entries expire, with concurrent lookups of one key
 * sharing one computation. The authentication caches use it so that neither a flood of
 * requests with one token nor one of random tokens can multiply API calls or grow memory.
 */

/** Settings of an ExpiringLru. */
export interface ExpiringLruOptions {
  /** At most this many entries are kept; the least recently used one goes first. */
  maxEntries: number;
  clock?: () => number;
}

/** A bounded LRU map of values that expire, with in-flight sharing of their computation. */
export class ExpiringLru<V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private readonly pending = new Map<string, Promise<V>>();
  private readonly clock: () => number;

  constructor(private readonly options: ExpiringLruOptions) {
    if (!(options.maxEntries >= 1)) throw new Error('an ExpiringLru needs maxEntries >= 1');
    this.clock = options.clock ?? Date.now;
  }

  /** How many entries are held (expired ones included until they are evicted). */
  get size(): number {
    return this.entries.size;
  }

  /** The live value of `key`, marking it most recently used; undefined when absent or expired. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expires <= this.clock()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` for `ttlMs`, evicting expired entries, then the least recently used, when full. */
  set(key: string, value: V, ttlMs: number): void {
    const now = this.clock();
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      for (const [k, entry] of this.entries) if (entry.expires <= now) this.entries.delete(k);
    }
    while (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    if (ttlMs > 0) this.entries.set(key, { value, expires: now + ttlMs });
  }

  /**
   * The cached value of `key`, else the one `compute` gives, kept for `ttlOf(value)` ms.
   * Concurrent calls for a key share one `compute`; a rejection is not cached.
   */
  async getOrCompute(key: string, compute: () => Promise<V>, ttlOf: (value: V) => number): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const computing = compute()
      .then((value) => {
        this.set(key, value, ttlOf(value));
        return value;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, computing);
    return computing;
  }
}
