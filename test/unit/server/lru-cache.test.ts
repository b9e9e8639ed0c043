/** The expiring LRU behind the authentication caches: bounds, recency, expiry, sharing. */
import { describe, expect, it } from 'vitest';
import { ExpiringLru } from '../../../src/server/lru-cache.js';

describe('ExpiringLru', () => {
  it('keeps at most maxEntries, evicting the least recently used', () => {
    const cache = new ExpiringLru<number>({ maxEntries: 3, clock: () => 0 });
    for (const key of ['a', 'b', 'c']) cache.set(key, key.charCodeAt(0), 1000);
    expect(cache.get('a')).toBe(97); // a is now the most recently used
    cache.set('d', 100, 1000);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([97, 99, 100]);
    for (let i = 0; i < 1000; i++) cache.set(`flood-${i}`, i, 1000);
    expect(cache.size).toBe(3);
  });

  it('forgets an entry once its time is up, each after its own time', () => {
    let now = 1000;
    const cache = new ExpiringLru<string>({ maxEntries: 2, clock: () => now });
    cache.set('short', 'x', 10);
    cache.set('long', 'y', 1000);
    now = 1011;
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBe('y');
    cache.set('never', 'z', 0);
    expect(cache.get('never')).toBeUndefined();
    now = 2001;
    expect(cache.get('long')).toBeUndefined();
  });

  it('shares one computation among concurrent lookups, caches its value, and never a rejection', async () => {
    const cache = new ExpiringLru<string>({ maxEntries: 10, clock: () => 0 });
    let calls = 0;
    const compute = () => {
      calls++;
      return Promise.resolve('v');
    };
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.getOrCompute('k', compute, () => 1000)));
    expect(values).toEqual(Array(100).fill('v'));
    expect(await cache.getOrCompute('k', compute, () => 1000)).toBe('v');
    expect(calls).toBe(1);

    let failures = 0;
    const failing = () => {
      failures++;
      return Promise.reject(new Error('API server unreachable'));
    };
    await expect(cache.getOrCompute('f', failing, () => 1000)).rejects.toThrow('unreachable');
    await expect(cache.getOrCompute('f', failing, () => 1000)).rejects.toThrow('unreachable');
    expect(failures).toBe(2);
  });
});
