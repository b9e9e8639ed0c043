/**
 * A Prometheus summary whose memory per series is bounded: quantiles over the most recent
 * observations of a time window, plus _sum and _count since the process started. It serves
 * scribe_sync_duration_seconds, registered in prom-client's Registry like any other metric.
 *
 * Why not prom-client's Summary: it keeps a t-digest per age bucket, adds every observation to
 * each of them, and a digest grows by one centroid per observation until 2,500 before it
 * compresses. That is ~50 KiB per series after a thousand syncs, up to six times as much across
 * bucket rotations: at 1,000 CRs syncing every few minutes, hundreds of MiB for one metric, and
 * it was the operator's heap growth between 1,000 and 10,000 cycles. Here a series holds at most
 * `maxSamples` observations (8 bytes of value and 8 of time each), and the quantiles are exact
 * over them, nearest-rank, as the seed's example shows (3 syncs: the 0.9 and 0.99 quantiles are
 * the longest one). A CR syncing more often than `maxSamples` times per window has its quantiles
 * taken over its latest `maxSamples` syncs.
 */
import type { Registry } from 'prom-client';

/** One sample line as prom-client's Registry renders it. */
interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/** Settings of a windowed summary. */
export interface WindowedSummaryOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  percentiles: readonly number[];
  /** Observations older than this do not count towards the quantiles. */
  maxAgeSeconds: number;
  /** Observations kept per series at most, the most recent. */
  maxSamples: number;
  registers: Registry[];
  /** Epoch ms; tests move it. */
  clock?: () => number;
}

/** One label set's observations: a ring of the latest values and their times, and the running totals. */
interface Series<L extends string> {
  labels: Record<L, string>;
  values: number[];
  times: number[];
  /** Index in the ring of the oldest observation once the ring is full. */
  next: number;
  sum: number;
  count: number;
}

/** A summary metric that prom-client's Registry renders (it calls `get()`). */
export class WindowedSummary<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'summary' as const;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, Series<L>>();
  private readonly clock: () => number;

  constructor(private readonly options: WindowedSummaryOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.clock = options.clock ?? Date.now;
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  /** Records one observation for the label set. */
  observe(labels: Record<L, string>, value: number): void {
    const key = this.keyOf(labels);
    let series = this.series.get(key);
    if (!series) {
      series = { labels: { ...labels }, values: [], times: [], next: 0, sum: 0, count: 0 };
      this.series.set(key, series);
    }
    const now = this.clock();
    if (series.values.length < this.options.maxSamples) {
      series.values.push(value);
      series.times.push(now);
    } else {
      series.values[series.next] = value;
      series.times[series.next] = now;
      series.next = (series.next + 1) % this.options.maxSamples;
    }
    series.sum += value;
    series.count++;
  }

  /** Forgets a label set (its CR is gone). */
  remove(labels: Record<L, string>): void {
    this.series.delete(this.keyOf(labels));
  }

  /** Forgets every label set. */
  reset(): void {
    this.series.clear();
  }

  /** The samples prom-client's Registry renders: quantiles of the window, then _sum and _count. */
  async get(): Promise<{ name: string; help: string; type: 'summary'; values: Sample[]; aggregator: 'sum' }> {
    const since = this.clock() - this.options.maxAgeSeconds * 1000;
    const values: Sample[] = [];
    for (const series of this.series.values()) {
      const recent = series.values.filter((_, i) => (series.times[i] as number) > since).sort((a, b) => a - b);
      for (const quantile of this.options.percentiles)
        values.push({ labels: { quantile, ...series.labels }, value: nearestRank(recent, quantile) });
      values.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  private keyOf(labels: Record<L, string>): string {
    return this.options.labelNames.map((name) => labels[name]).join('\u0000');
  }
}

/** The nearest-rank quantile of sorted values; NaN when there are none (as Prometheus' Go client reports). */
export function nearestRank(sorted: readonly number[], quantile: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(quantile * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}
