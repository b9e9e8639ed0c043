/**
 * The rclone mover against raw rclone, in the same run on the same generated tree, into MinIO on
 * loopback.
 *
 *   npm run bench:rclone -- [--size-mib N] [--files N] [--runs N] [--seed N] [--variant tsx,compiled] [--live-volume] [--keep]
 *
 * Each side writes to its own path of the bucket, a fresh one for every full run.
 *
 * Raw: `rclone sync TREE scribe-s3:bench/PATH --exclude /lost+found/** --exclude
 * /.scribe-rclone-metadata.json --config C --links --verbose` (the very argument list the mover
 * builds, src/movers/rclone/args.ts). Timed apart and not part of the raw figure, what the
 * mover does besides: building its metadata record (walking the tree with lstat, getfacl over
 * every file; the mover's own functions, run in this process) and `rclone copyto` of the record
 * beside the data. Mover: the source entrypoint (src/movers/rclone/source.ts): record, sync,
 * record upload; through tsx and compiled with esbuild, as in bench/rsync.ts. Each full (empty
 * path) and incremental (after ~1% of the files changed, 0.1% deleted and as many added),
 * `--runs` times, interleaved.
 *
 * The ratio that counts is mover / raw `rclone sync`, per median. At the end the rclone
 * destination entrypoint copies every side's path into an empty directory, which must equal
 * the tree (contents by checksum, mtimes, modes, owners, symlinks; rclone keeps no hard links).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { remotePath, uploadArgs, uploadRecordArgs, type RcloneArgsConfig } from '../src/movers/rclone/args.js';
import { serializeRecord } from '../src/movers/rclone/record.js';
import { readAcls, readEntries } from '../src/movers/rclone/tree.js';
import { runStandalone, type Benchmark } from './scaffold/benchmark.js';
import { isMain, markdownTable, median, mib, ratio, seconds } from './scaffold/common.js';
import { measureStartup, moverLaunchers, type Launcher } from './scaffold/entrypoints.js';
import * as moverBench from './scaffold/mover-bench.js';
import type { MoverBenchResult, Side, TreeBenchOptions, Variant } from './scaffold/mover-bench.js';
import * as moverRuns from './scaffold/mover-runs.js';
import { MemorySampler } from './scaffold/proc.js';

/** Settings of one rclone benchmark run. */
export interface RcloneBenchOptions extends TreeBenchOptions {
  /**
   * Run the mover as for copyMethod None (record read before the sync) instead of as for a Clone
   * or Snapshot (SCRIBE_VOLUME_POINT_IN_TIME: record read while rclone syncs); the tree does not
   * change during a run either way.
   */
  liveVolume: boolean;
}

export const RCLONE_DEFAULTS: RcloneBenchOptions = { ...moverBench.TREE_DEFAULTS, liveVolume: false };

const BUCKET = 'bench';
const SECTION = 'scribe-s3';

/** One raw run's figures (milliseconds, bytes). */
export interface RawRcloneRun {
  syncMs: number;
  /** rclone's own `Elapsed time` of the sync. */
  syncReportedMs: number;
  /** The mover's record built in this process (lstat walk, getfacl, JSON). */
  recordMs: number;
  recordBytes: number;
  /** `rclone copyto` of the record. */
  recordUploadMs: number;
  treePeakRss: number;
}

/** One mover run's figures. */
export interface MoverRcloneRun {
  ms: number;
  /** rclone's own `Elapsed time` of the sync, as the mover echoed it. */
  syncReportedMs: number;
  ownPeakRss: number;
  treePeakRss: number;
}

/** Everything the benchmark measured. */
export interface RcloneBenchResult extends MoverBenchResult<RawRcloneRun, MoverRcloneRun> {
  options: MoverBenchResult<RawRcloneRun, MoverRcloneRun>['options'] & { liveVolume: boolean };
  /** Spawn to exit of an entrypoint that stops at once on a configuration error: node and module loading. */
  startupMs: Partial<Record<Variant, number[]>>;
  /** The destination entrypoint copying each side's path back, checked equal to the tree. */
  restoreMs: Partial<Record<Side, number>>;
}

/** Runs the benchmark and returns its figures. */
export async function runRcloneBench(options: RcloneBenchOptions): Promise<RcloneBenchResult> {
  const startupMs: Partial<Record<Variant, number[]>> = {};
  let restoreMs: Partial<Record<Side, number>> = {};
  const result = await moverBench.runMoverBench<RawRcloneRun, MoverRcloneRun>('rclone', options, async (context) => {
    const { work, tree, log } = context;
    const { binary: rclone, s3 } = await moverRuns.toolAndS3(context, 'rclone', BUCKET);
    const configFile = join(work, 'rclone.conf');
    writeFileSync(
      configFile,
      [
        `[${SECTION}]`,
        'type = s3',
        'provider = Minio',
        `access_key_id = ${s3.accessKey}`,
        `secret_access_key = ${s3.secretKey}`,
        `endpoint = ${s3.endpoint}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const runDir = join(work, 'run');
    mkdirSync(runDir);
    const launchers = await moverLaunchers('rclone', options.variants, join(work, 'compiled'));
    const moverEnv = (destPath: string, dataDir: string) => ({
      SCRIBE_RCLONE_CONFIG: configFile,
      SCRIBE_RCLONE_CONFIG_SECTION: SECTION,
      SCRIBE_RCLONE_DEST_PATH: destPath,
      SCRIBE_DATA_DIR: dataDir,
      SCRIBE_RUN_DIR: runDir,
      SCRIBE_RCLONE: rclone,
      ...(options.liveVolume ? {} : { SCRIBE_VOLUME_POINT_IN_TIME: 'true' }),
    });
    for (const variant of options.variants)
      startupMs[variant] = await measureStartup(
        launchers[variant],
        { ...moverEnv(`${BUCKET}/unused`, tree.root), SCRIBE_RCLONE_CONFIG: join(work, 'no-such-rclone.conf') },
        variant,
        log,
      );
    // Each side's path in the bucket, a fresh one for every full run.
    const destPaths = new Map<Side, string>();
    const destOf = (side: Side) => destPaths.get(side) as string;
    return {
      freshDestination: (side, run) => {
        destPaths.set(side, `${BUCKET}/run${run}-${side}`);
      },
      raw: () =>
        rawCycle(rclone, {
          configFile,
          remote: remotePath(SECTION, destOf('raw')),
          dataDir: tree.root,
          recordFile: join(work, 'record.json'),
        }),
      mover: (variant) => moverCycle(launchers[variant], moverEnv(destOf(variant), tree.root)),
      describeRaw: (raw) =>
        `sync ${seconds(raw.syncMs)} (record ${seconds(raw.recordMs)}, ${mib(raw.recordBytes)}, upload ${seconds(raw.recordUploadMs)})`,
      describeMover: (mover) => `${seconds(mover.ms)} (rclone sync reported ${seconds(mover.syncReportedMs)})`,
      // Every side's path, copied back by the destination entrypoint, must equal the tree.
      verify: async (sides) => {
        restoreMs = await moverRuns.verifyRestores({
          context,
          launchers,
          sides,
          env: (side, target) => moverEnv(destOf(side), target),
          what: (side) => `the ${side} side's path`,
          verified: 'copies back to the tree',
          hardLinks: false,
        });
      },
    };
  });
  return { ...result, options: { ...result.options, liveVolume: options.liveVolume }, startupMs, restoreMs };
}

/** rclone's last `Elapsed time:` in milliseconds (a Go duration such as 1m2.5s or 850ms). */
function reportedElapsedMs(output: string): number {
  const match = [...output.matchAll(/Elapsed time:\s+(\S+)/g)].pop()?.[1];
  if (match === undefined) return Number.NaN;
  let ms = 0;
  for (const [, value, unit] of match.matchAll(/([\d.]+)(h|ms|m|s)/g))
    ms += Number(value) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[unit as 'h' | 'm' | 's' | 'ms'];
  return ms;
}

async function rawCycle(rclone: string, config: RcloneArgsConfig & { recordFile: string }): Promise<RawRcloneRun> {
  const sampler = new MemorySampler();
  try {
    // What the mover does first, here in this process: the record of the tree as it is before the upload.
    const recordStart = performance.now();
    const entries = readEntries(config.dataDir);
    const record = serializeRecord(entries, readAcls(config.dataDir, entries), new Date());
    writeFileSync(config.recordFile, record);
    const recordMs = performance.now() - recordStart;
    const sync = await moverRuns.runRawTool('rclone', rclone, uploadArgs(config), { sampler });
    const upload = await moverRuns.runRawTool('rclone', rclone, uploadRecordArgs(config, config.recordFile));
    return {
      syncMs: sync.wallMs,
      syncReportedMs: reportedElapsedMs(sync.output),
      recordMs,
      recordBytes: Buffer.byteLength(record),
      recordUploadMs: upload.wallMs,
      treePeakRss: sampler.treePeak.get('raw') ?? 0,
    };
  } finally {
    sampler.stop();
  }
}

async function moverCycle(launch: Launcher, env: Record<string, string>): Promise<MoverRcloneRun> {
  const { proc, ownPeakRss, treePeakRss } = await moverRuns.runSourceEntrypoint('rclone', launch, env);
  return { ms: proc.wallMs, syncReportedMs: reportedElapsedMs(proc.output), ownPeakRss, treePeakRss };
}

/** The figures as Markdown: parameters, a table per phase, and the ratios. */
export function formatRcloneResult(result: RcloneBenchResult): string {
  const lines = [...moverBench.describeTree(result)];
  lines.push(
    "Raw: `rclone sync` with the mover's arguments (`--links --verbose`, the two excludes); mover: the source entrypoint (record of the tree, the same sync, `rclone copyto` of the record). A fresh path per full run. " +
      (result.options.liveVolume
        ? 'Mover as for copyMethod None (`--live-volume`): the record is read before the sync.'
        : 'Mover as for copyMethod Clone or Snapshot (SCRIBE_VOLUME_POINT_IN_TIME=true): the record is read while rclone syncs; `--live-volume` for copyMethod None.'),
  );
  lines.push('');
  const rows: string[][] = [];
  const ratios: Record<string, number> = {};
  for (const phase of moverBench.PHASES) {
    const raws = result.raw[phase];
    const sync = raws.map((r) => r.syncMs);
    const steps = raws.map((r) => r.recordMs + r.syncMs + r.recordUploadMs);
    rows.push([phase, '**raw rclone sync**', `**${seconds(median(sync))}**`, moverBench.allRuns(sync)]);
    rows.push(
      moverRuns.timesRow(
        phase,
        'raw rclone sync: Elapsed time reported by rclone',
        raws.map((r) => r.syncReportedMs),
      ),
      moverRuns.timesRow(
        phase,
        "the mover's record, built in the benchmark's process (lstat walk, getfacl, JSON)",
        raws.map((r) => r.recordMs),
      ),
      moverRuns.timesRow(
        phase,
        `raw rclone copyto of that record (${mib(raws[0]?.recordBytes ?? 0)})`,
        raws.map((r) => r.recordUploadMs),
      ),
    );
    for (const [variant, runs] of Object.entries(result.mover)) {
      const mover = runs[phase].map((r) => r.ms);
      ratios[`${phase} (${variant})`] = median(mover) / median(sync);
      rows.push(
        moverRuns.timesRow(phase, `mover ${variant}: source entrypoint`, mover),
        moverRuns.timesRow(
          phase,
          `mover ${variant}: sync Elapsed time reported by rclone`,
          runs[phase].map((r) => r.syncReportedMs),
        ),
      );
      rows.push([phase, `**ratio ${variant} / raw sync**`, `**${ratio(median(mover) / median(sync))}**`, '']);
      rows.push([
        phase,
        `${variant}: mover − raw (record + sync + record upload), medians`,
        seconds(median(mover) - median(steps)),
        '',
      ]);
    }
  }
  lines.push(markdownTable(['phase', 'what', 'median', 'all runs (s)'], rows));
  lines.push('');
  const other = moverRuns.startupRows(result.startupMs);
  for (const [side, ms] of Object.entries(result.restoreMs))
    other.push([`copy of the ${side} side's path back (destination entrypoint), verified`, seconds(ms)]);
  other.push(...moverRuns.sourceMemoryRows(result.mover, 'node + rclone + getfacl'), [
    'raw: rclone sync peak RSS',
    moverBench.peakMiB(moverBench.bothPhases(result.raw).map((r) => r.treePeakRss)),
  ]);
  lines.push(markdownTable(['other figures (peak RSS: max over all runs, sampled every 100 ms)', 'value'], other));
  lines.push('');
  lines.push(moverBench.goalLine(1.1, 'source entrypoint / raw rclone sync, medians', ratios));
  return lines.join('\n');
}

/** Parses the command line of `npm run bench:rclone`. */
export function parseRcloneArgs(args: string[]): RcloneBenchOptions {
  const { values } = parseArgs({ args, options: { ...moverBench.TREE_FLAGS, 'live-volume': { type: 'boolean' } } });
  return {
    ...RCLONE_DEFAULTS,
    ...moverBench.treeOptionsFrom(values, RCLONE_DEFAULTS),
    liveVolume: values['live-volume'] ?? false,
  };
}

/** `npm run bench:rclone`, and its part of `npm run bench`. */
export const RCLONE_BENCHMARK: Benchmark<RcloneBenchOptions> = moverBench.treeBenchmark({
  name: 'rclone',
  title: 'rclone mover vs raw rclone',
  parse: parseRcloneArgs,
  run: async (options) => formatRcloneResult(await runRcloneBench(options)),
  needs: { objectStorage: true },
});

if (isMain(import.meta.url)) runStandalone(RCLONE_BENCHMARK, process.argv.slice(2));
