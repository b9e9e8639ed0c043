import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { nearestRank, WindowedSummary } from '../../../src/metrics/windowed-summary.js';

const LABELS = { obj_name: 'dsrc', obj_namespace: 'srcns', role: 'source', method: 'rsync' };

function summary(options: { maxSamples?: number; clock?: () => number } = {}) {
  const registry = new Registry();
  const metric = new WindowedSummary({
    name: 'scribe_sync_duration_seconds',
    help: 'Duration of the synchronization interval in seconds',
    labelNames: ['obj_name', 'obj_namespace', 'role', 'method'] as const,
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 24 * 60 * 60,
    maxSamples: options.maxSamples ?? 256,
    registers: [registry],
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { registry, metric };
}

/** The sample lines of the exposition text for `labels`, name{quantile} → value. */
async function samples(registry: Registry): Promise<Record<string, number>> {
  const text = await registry.metrics();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(scribe_sync_duration_seconds\w*)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const quantile = /quantile="([\d.]+)"/.exec(match[2] ?? '')?.[1];
    out[`${match[1]}${quantile ? `@${quantile}` : ''}`] = Number(match[3]);
  }
  return out;
}

describe('WindowedSummary (scribe_sync_duration_seconds)', () => {
  it("renders the seed's example: three syncs, the 0.9 and 0.99 quantiles are the longest one", async () => {
    const { registry, metric } = summary();
    for (const value of [11.547060835, 12.013468222, 9.756509957]) metric.observe(LABELS, value);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE scribe_sync_duration_seconds summary');
    expect(text).toContain(
      'scribe_sync_duration_seconds{quantile="0.5",obj_name="dsrc",obj_namespace="srcns",role="source",method="rsync"} 11.547060835',
    );
    expect(await samples(registry)).toEqual({
      'scribe_sync_duration_seconds@0.5': 11.547060835,
      'scribe_sync_duration_seconds@0.9': 12.013468222,
      'scribe_sync_duration_seconds@0.99': 12.013468222,
      scribe_sync_duration_seconds_sum: 33.317039014,
      scribe_sync_duration_seconds_count: 3,
    });
  });

  it('drops observations older than the window from the quantiles, not from _sum and _count', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const { registry, metric } = summary({ clock: () => now });
    metric.observe(LABELS, 100);
    now += 23 * 3600 * 1000;
    metric.observe(LABELS, 5);
    expect((await samples(registry))['scribe_sync_duration_seconds@0.99']).toBe(100);
    now += 2 * 3600 * 1000; // the first is 25 h old now
    expect(await samples(registry)).toMatchObject({
      'scribe_sync_duration_seconds@0.99': 5,
      scribe_sync_duration_seconds_sum: 105,
      scribe_sync_duration_seconds_count: 2,
    });
    now += 24 * 3600 * 1000;
    expect((await samples(registry))['scribe_sync_duration_seconds@0.5']).toBeNaN();
  });

  it('keeps the latest maxSamples observations: quantiles as if only those had been made', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        async (values, maxSamples) => {
          const { registry, metric } = summary({ maxSamples });
          for (const value of values) metric.observe(LABELS, value);
          const latest = values.slice(-maxSamples).sort((a, b) => a - b);
          const got = await samples(registry);
          for (const q of [0.5, 0.9, 0.99])
            expect(got[`scribe_sync_duration_seconds@${q}`]).toBe(nearestRank(latest, q));
          expect(got.scribe_sync_duration_seconds_count).toBe(values.length);
          expect(got.scribe_sync_duration_seconds_sum).toBe(values.reduce((a, b) => a + b, 0));
        },
      ),
    );
  });

  it('nearest rank: the smallest value with at least a q share of the values at or below it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (values, q) => {
          const sorted = [...values].sort((a, b) => a - b);
          const v = nearestRank(sorted, q);
          expect(sorted.filter((x) => x <= v).length / sorted.length).toBeGreaterThanOrEqual(q - 1e-12);
          expect(sorted.filter((x) => x < v).length / sorted.length).toBeLessThan(q);
        },
      ),
    );
  });

  it('forgets a removed label set', async () => {
    const { registry, metric } = summary();
    metric.observe(LABELS, 1);
    metric.remove(LABELS);
    expect(await samples(registry)).toEqual({});
  });
});
