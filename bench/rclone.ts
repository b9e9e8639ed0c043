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
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { remotePath, uploadArgs, uploadRecordArgs, type RcloneArgsConfig } from '../src/movers/rclone/args.js';
import { serializeRecord } from '../src/movers/rclone/record.js';
import { readAcls, readEntries } from '../src/movers/rclone/tree.js';
import { runStandalone, type Benchmark } from './scaffold/benchmark.js';
import { isMain, markdownTable, median, mib, ratio, seconds } from './scaffold/common.js';
import { measureStartup, moverLaunchers, type Launcher } from './scaffold/entrypoints.js';
import {
  allRuns,
  bothPhases,
  describeTree,
  goalLine,
  peakMiB,
  PHASES,
  runMoverBench,
  TREE_DEFAULTS,
  TREE_FLAGS,
  treeOptionsFrom,
  type MoverBenchResult,
  type Side,
  type TreeBenchOptions,
  type Variant,
} from './scaffold/mover-bench.js';
import { startBenchS3, toolBinary, verifyEqualTree } from './scaffold/object-storage.js';
import { MemorySampler } from './scaffold/proc.js';
import { podEnv, start } from './scaffold/processes.js';

/** Settings of one rclone benchmark run. */
export interface RcloneBenchOptions extends TreeBenchOptions {
  /**
   * Run the mover as for copyMethod None (record read before the sync) instead of as for a Clone
   * or Snapshot (SCRIBE_VOLUME_POINT_IN_TIME: record read while rclone syncs); the tree does not
   * change during a run either way.
   */
  liveVolume: boolean;
}

export const RCLONE_DEFAULTS: RcloneBenchOptions = { ...TREE_DEFAULTS, liveVolume: false };

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
  const restoreMs: Partial<Record<Side, number>> = {};
  const result = await runMoverBench<RawRcloneRun, MoverRcloneRun>(
    'rclone',
    options,
    async ({ work, tree, log, onStop }) => {
      const rclone = await toolBinary('rclone');
      const s3 = await startBenchS3(join(work, 's3'), BUCKET);
      onStop(() => s3.stop());
      log(`MinIO on ${s3.endpoint}`);
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
          const restorer = launchers.compiled ?? launchers.tsx;
          for (const side of sides) {
            const target = join(work, `restore-${side}`);
            mkdirSync(target);
            const proc = restorer('destination', moverEnv(destOf(side), target));
            const code = await proc.exited;
            if (code !== 0)
              throw new Error(`the destination of ${side} failed (${code}):\n${proc.output.slice(-4000)}`);
            restoreMs[side] = proc.wallMs;
            await verifyEqualTree(tree.root, target, `the copy of the ${side} side's path`, false);
            log(`verified: the ${side} side's path copies back to the tree (${seconds(proc.wallMs)})`);
            rmSync(target, { recursive: true, force: true });
          }
        },
      };
    },
  );
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

async function timedRclone(rclone: string, args: string[], sampler?: MemorySampler) {
  const proc = start(rclone, args, { env: podEnv({}) });
  sampler?.track('raw', proc.pid);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`rclone ${args[0]} exited with ${code}:\n${proc.output.slice(-4000)}`);
  return proc;
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
    const sync = await timedRclone(rclone, uploadArgs(config), sampler);
    const upload = await timedRclone(rclone, uploadRecordArgs(config, config.recordFile));
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
  const sampler = new MemorySampler();
  const proc = launch('source', env);
  sampler.track('mover', proc.pid);
  try {
    const code = await proc.exited;
    if (code !== 0) throw new Error(`the rclone source entrypoint exited with ${code}:\n${proc.output.slice(-4000)}`);
    return {
      ms: proc.wallMs,
      syncReportedMs: reportedElapsedMs(proc.output),
      ownPeakRss: sampler.ownPeak.get('mover') ?? 0,
      treePeakRss: sampler.treePeak.get('mover') ?? 0,
    };
  } finally {
    sampler.stop();
    if (Number.isNaN(proc.endedAt)) proc.killTree();
  }
}

/** The figures as Markdown: parameters, a table per phase, and the ratios. */
export function formatRcloneResult(result: RcloneBenchResult): string {
  const lines = [...describeTree(result)];
  lines.push(
    "Raw: `rclone sync` with the mover's arguments (`--links --verbose`, the two excludes); mover: the source entrypoint (record of the tree, the same sync, `rclone copyto` of the record). A fresh path per full run. " +
      (result.options.liveVolume
        ? 'Mover as for copyMethod None (`--live-volume`): the record is read before the sync.'
        : 'Mover as for copyMethod Clone or Snapshot (SCRIBE_VOLUME_POINT_IN_TIME=true): the record is read while rclone syncs; `--live-volume` for copyMethod None.'),
  );
  lines.push('');
  const rows: string[][] = [];
  const ratios: Record<string, number> = {};
  for (const phase of PHASES) {
    const raws = result.raw[phase];
    const sync = raws.map((r) => r.syncMs);
    const steps = raws.map((r) => r.recordMs + r.syncMs + r.recordUploadMs);
    rows.push([phase, '**raw rclone sync**', `**${seconds(median(sync))}**`, allRuns(sync)]);
    rows.push([
      phase,
      'raw rclone sync: Elapsed time reported by rclone',
      seconds(median(raws.map((r) => r.syncReportedMs))),
      allRuns(raws.map((r) => r.syncReportedMs)),
    ]);
    rows.push([
      phase,
      "the mover's record, built in the benchmark's process (lstat walk, getfacl, JSON)",
      seconds(median(raws.map((r) => r.recordMs))),
      allRuns(raws.map((r) => r.recordMs)),
    ]);
    rows.push([
      phase,
      `raw rclone copyto of that record (${mib(raws[0]?.recordBytes ?? 0)})`,
      seconds(median(raws.map((r) => r.recordUploadMs))),
      allRuns(raws.map((r) => r.recordUploadMs)),
    ]);
    for (const [variant, runs] of Object.entries(result.mover)) {
      const mover = runs[phase].map((r) => r.ms);
      const reported = runs[phase].map((r) => r.syncReportedMs);
      ratios[`${phase} (${variant})`] = median(mover) / median(sync);
      rows.push([phase, `mover ${variant}: source entrypoint`, seconds(median(mover)), allRuns(mover)]);
      rows.push([
        phase,
        `mover ${variant}: sync Elapsed time reported by rclone`,
        seconds(median(reported)),
        allRuns(reported),
      ]);
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
  const other: string[][] = [];
  for (const [variant, times] of Object.entries(result.startupMs))
    other.push([
      `${variant}: entrypoint start-up and exit, no work (stops at a configuration error), median of 3`,
      seconds(median(times)),
    ]);
  for (const [side, ms] of Object.entries(result.restoreMs))
    other.push([`copy of the ${side} side's path back (destination entrypoint), verified`, seconds(ms)]);
  const peak = peakMiB;
  for (const [variant, runs] of Object.entries(result.mover)) {
    const movers = bothPhases(runs);
    other.push(
      [`${variant}: source entrypoint (node) VmHWM`, peak(movers.map((m) => m.ownPeakRss))],
      [`${variant}: source tree peak RSS (node + rclone + getfacl)`, peak(movers.map((m) => m.treePeakRss))],
    );
  }
  other.push(['raw: rclone sync peak RSS', peak(bothPhases(result.raw).map((r) => r.treePeakRss))]);
  lines.push(markdownTable(['other figures (peak RSS: max over all runs, sampled every 100 ms)', 'value'], other));
  lines.push('');
  lines.push(goalLine(1.1, 'source entrypoint / raw rclone sync, medians', ratios));
  return lines.join('\n');
}

/** Parses the command line of `npm run bench:rclone`. */
export function parseRcloneArgs(args: string[]): RcloneBenchOptions {
  const { values } = parseArgs({ args, options: { ...TREE_FLAGS, 'live-volume': { type: 'boolean' } } });
  return {
    ...RCLONE_DEFAULTS,
    ...treeOptionsFrom(values, RCLONE_DEFAULTS),
    liveVolume: values['live-volume'] ?? false,
  };
}

/** `npm run bench:rclone`, and its part of `npm run bench`. */
export const RCLONE_BENCHMARK: Benchmark<RcloneBenchOptions> = {
  name: 'rclone',
  title: 'rclone mover vs raw rclone',
  parse: parseRcloneArgs,
  smoke: (options) => ({ ...options, sizeMiB: 20, files: 200, runs: 1 }),
  command: (o) => `npm run bench:rclone -- --size-mib ${o.sizeMiB} --files ${o.files} --runs ${o.runs}`,
  describe: (o) => `${o.sizeMiB} MiB, ${o.files} files`,
  run: async (options) => formatRcloneResult(await runRcloneBench(options)),
  needs: { objectStorage: true },
};

if (isMain(import.meta.url)) runStandalone(RCLONE_BENCHMARK, process.argv.slice(2));
