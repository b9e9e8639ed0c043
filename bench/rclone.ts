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
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { S3Server } from '../src/local/s3.js';
import { remotePath, uploadArgs, uploadRecordArgs, type RcloneArgsConfig } from '../src/movers/rclone/args.js';
import { serializeRecord } from '../src/movers/rclone/record.js';
import { readAcls, readEntries } from '../src/movers/rclone/tree.js';
import { isMain, markdownTable, median, mib, ratio, seconds } from './support/common.js';
import { moverLauncher, startBenchS3, toolBinary, verifyEqualTree, type Launcher } from './support/object-storage.js';
import { MemorySampler, podEnv, start } from './support/processes.js';
import { changeTree, generateTree, type Change } from './support/tree.js';
import {
  TREE_DEFAULTS,
  TREE_FLAGS,
  treeOptionsFrom,
  type TreeBenchOptions,
  type Variant,
  settleWriteback,
} from './support/tree-bench.js';

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

type Side = 'raw' | Variant;

/** Everything the benchmark measured. */
export interface RcloneBenchResult {
  options: Omit<RcloneBenchOptions, 'log' | 'keep'>;
  tree: { files: number; bytes: number; dirs: number; symlinks: number; hardLinks: number; generateMs: number };
  changes: Change[];
  /** Spawn to exit of an entrypoint that stops at once on a configuration error: node and module loading. */
  startupMs: Partial<Record<Variant, number[]>>;
  raw: { full: RawRcloneRun[]; incremental: RawRcloneRun[] };
  mover: Partial<Record<Variant, { full: MoverRcloneRun[]; incremental: MoverRcloneRun[] }>>;
  /** The destination entrypoint copying each side's path back, checked equal to the tree. */
  restoreMs: Partial<Record<Side, number>>;
}

/** Runs the benchmark and returns its figures. */
export async function runRcloneBench(options: RcloneBenchOptions): Promise<RcloneBenchResult> {
  const log = options.log;
  const work = mkdtempSync(join(tmpdir(), 'scribe-bench-rclone-'));
  let s3: S3Server | undefined;
  try {
    const treeDir = join(work, 'tree');
    log(`generating ${options.files} files, ${options.sizeMiB} MiB (seed ${options.seed}) in ${treeDir}`);
    const generateStart = performance.now();
    const tree = generateTree(treeDir, {
      seed: options.seed,
      files: options.files,
      totalBytes: options.sizeMiB * 1024 * 1024,
    });
    const generateMs = performance.now() - generateStart;
    log(`  ${tree.files.length} files, ${mib(tree.bytes)}, ${tree.dirs} directories in ${seconds(generateMs)}`);

    const rclone = await toolBinary('rclone');
    s3 = await startBenchS3(join(work, 's3'), BUCKET);
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
    const launchers: Partial<Record<Variant, Launcher>> = {};
    for (const variant of options.variants)
      launchers[variant] = await moverLauncher('rclone', variant, join(work, 'compiled'));

    const result: RcloneBenchResult = {
      options: {
        sizeMiB: options.sizeMiB,
        files: options.files,
        runs: options.runs,
        seed: options.seed,
        changeFraction: options.changeFraction,
        variants: options.variants,
        liveVolume: options.liveVolume,
      },
      tree: {
        files: tree.files.length,
        bytes: tree.bytes,
        dirs: tree.dirs,
        symlinks: tree.symlinks,
        hardLinks: tree.hardLinks,
        generateMs,
      },
      changes: [],
      startupMs: {},
      raw: { full: [], incremental: [] },
      mover: Object.fromEntries(options.variants.map((v) => [v, { full: [], incremental: [] }])),
      restoreMs: {},
    };

    const moverEnv = (destPath: string, dataDir: string) => ({
      SCRIBE_RCLONE_CONFIG: configFile,
      SCRIBE_RCLONE_CONFIG_SECTION: SECTION,
      SCRIBE_RCLONE_DEST_PATH: destPath,
      SCRIBE_DATA_DIR: dataDir,
      SCRIBE_RUN_DIR: runDir,
      SCRIBE_RCLONE: rclone,
      ...(options.liveVolume ? {} : { SCRIBE_VOLUME_POINT_IN_TIME: 'true' }),
    });

    for (const variant of options.variants) {
      const launch = launchers[variant] as Launcher;
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const proc = launch('source', {
          ...moverEnv(`${BUCKET}/unused`, tree.root),
          SCRIBE_RCLONE_CONFIG: join(work, 'no-such-rclone.conf'),
        });
        await proc.exited;
        if (!/configuration error/.test(proc.output)) throw new Error(`start-up probe did not stop:\n${proc.output}`);
        times.push(proc.wallMs);
      }
      result.startupMs[variant] = times;
      log(`${variant} entrypoint start-up (stops at a configuration error): ${seconds(median(times))}`);
    }

    const sides: Side[] = ['raw', ...options.variants];
    const destPaths = new Map<Side, string>();
    const destOf = (side: Side) => destPaths.get(side) as string;

    const once = async (phase: 'full' | 'incremental', run: number, side: Side) => {
      settleWriteback();
      if (side === 'raw') {
        const raw = await rawCycle(rclone, {
          configFile,
          remote: remotePath(SECTION, destOf(side)),
          dataDir: tree.root,
          recordFile: join(work, 'record.json'),
        });
        result.raw[phase].push(raw);
        log(
          `${phase} ${run}/${options.runs}: raw sync ${seconds(raw.syncMs)} (record ${seconds(raw.recordMs)}, ${mib(raw.recordBytes)}, upload ${seconds(raw.recordUploadMs)})`,
        );
      } else {
        const mover = await moverCycle(launchers[side] as Launcher, moverEnv(destOf(side), tree.root));
        result.mover[side]?.[phase].push(mover);
        log(
          `${phase} ${run}/${options.runs}: mover (${side}) ${seconds(mover.ms)} (rclone sync reported ${seconds(mover.syncReportedMs)})`,
        );
      }
    };
    // Rotate the order each run so no side always runs right after another's page-cache warm-up.
    const rotated = (run: number) => sides.map((_, i) => sides[(i + run - 1) % sides.length] as Side);

    for (let run = 1; run <= options.runs; run++) {
      for (const side of sides) destPaths.set(side, `${BUCKET}/run${run}-${side}`);
      for (const side of rotated(run)) await once('full', run, side);
    }

    for (let run = 1; run <= options.runs; run++) {
      const change = changeTree(tree, {
        seed: options.seed * 100 + run,
        fraction: options.changeFraction,
        deletions: Math.max(3, Math.round(options.files / 1000)),
      });
      result.changes.push(change);
      log(
        `change ${run}: ${change.modified} files modified, ${change.deleted} deleted, ${change.added} added (${mib(change.bytesWritten)} written)`,
      );
      for (const side of rotated(run)) await once('incremental', run, side);
    }

    // Every side's path, copied back by the destination entrypoint, must equal the tree.
    const restorer = launchers.compiled ?? (launchers.tsx as Launcher);
    for (const side of sides) {
      const target = join(work, `restore-${side}`);
      mkdirSync(target);
      const proc = restorer('destination', moverEnv(destOf(side), target));
      const code = await proc.exited;
      if (code !== 0) throw new Error(`the destination of ${side} failed (${code}):\n${proc.output.slice(-4000)}`);
      result.restoreMs[side] = proc.wallMs;
      await verifyEqualTree(tree.root, target, `the copy of the ${side} side's path`, false);
      log(`verified: the ${side} side's path copies back to the tree (${seconds(proc.wallMs)})`);
      rmSync(target, { recursive: true, force: true });
    }
    return result;
  } finally {
    await s3?.stop();
    if (options.keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
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
  const all = (values: number[]) => values.map((v) => (v / 1000).toFixed(2)).join(', ');
  const lines: string[] = [];
  const t = result.tree;
  lines.push(
    `Tree: ${t.files} files (${mib(t.bytes)}), ${t.dirs} directories, ${t.symlinks} symlinks, ${t.hardLinks} hard links; seed ${result.options.seed}; generated in ${seconds(t.generateMs)}.`,
  );
  const c = result.changes;
  if (c.length > 0)
    lines.push(
      `Each incremental run follows a change of ${c[0]?.modified} files modified, ${c[0]?.deleted} deleted, ${c[0]?.added} added (~${mib(c[0]?.bytesWritten ?? 0)} written).`,
    );
  lines.push(
    "Raw: `rclone sync` with the mover's arguments (`--links --verbose`, the two excludes); mover: the source entrypoint (record of the tree, the same sync, `rclone copyto` of the record). A fresh path per full run. " +
      (result.options.liveVolume
        ? 'Mover as for copyMethod None (`--live-volume`): the record is read before the sync.'
        : 'Mover as for copyMethod Clone or Snapshot (SCRIBE_VOLUME_POINT_IN_TIME=true): the record is read while rclone syncs; `--live-volume` for copyMethod None.'),
  );
  lines.push('');
  const rows: string[][] = [];
  const ratios: Record<string, number> = {};
  for (const phase of ['full', 'incremental'] as const) {
    const raws = result.raw[phase];
    const sync = raws.map((r) => r.syncMs);
    const steps = raws.map((r) => r.recordMs + r.syncMs + r.recordUploadMs);
    rows.push([phase, '**raw rclone sync**', `**${seconds(median(sync))}**`, all(sync)]);
    rows.push([
      phase,
      'raw rclone sync: Elapsed time reported by rclone',
      seconds(median(raws.map((r) => r.syncReportedMs))),
      all(raws.map((r) => r.syncReportedMs)),
    ]);
    rows.push([
      phase,
      "the mover's record, built in the benchmark's process (lstat walk, getfacl, JSON)",
      seconds(median(raws.map((r) => r.recordMs))),
      all(raws.map((r) => r.recordMs)),
    ]);
    rows.push([
      phase,
      `raw rclone copyto of that record (${mib(raws[0]?.recordBytes ?? 0)})`,
      seconds(median(raws.map((r) => r.recordUploadMs))),
      all(raws.map((r) => r.recordUploadMs)),
    ]);
    for (const [variant, runs] of Object.entries(result.mover)) {
      const mover = runs[phase].map((r) => r.ms);
      const reported = runs[phase].map((r) => r.syncReportedMs);
      ratios[`${phase} (${variant})`] = median(mover) / median(sync);
      rows.push([phase, `mover ${variant}: source entrypoint`, seconds(median(mover)), all(mover)]);
      rows.push([
        phase,
        `mover ${variant}: sync Elapsed time reported by rclone`,
        seconds(median(reported)),
        all(reported),
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
  const peak = (values: number[]) => mib(Math.max(0, ...values));
  for (const [variant, runs] of Object.entries(result.mover)) {
    const movers = [...runs.full, ...runs.incremental];
    other.push(
      [`${variant}: source entrypoint (node) VmHWM`, peak(movers.map((m) => m.ownPeakRss))],
      [`${variant}: source tree peak RSS (node + rclone + getfacl)`, peak(movers.map((m) => m.treePeakRss))],
    );
  }
  other.push([
    'raw: rclone sync peak RSS',
    peak([...result.raw.full, ...result.raw.incremental].map((r) => r.treePeakRss)),
  ]);
  lines.push(markdownTable(['other figures (peak RSS: max over all runs, sampled every 100 ms)', 'value'], other));
  lines.push('');
  const verdicts = Object.entries(ratios).map(
    ([what, value]) => `${what} ${ratio(value)} ${value <= 1.1 ? 'met' : 'missed'}`,
  );
  lines.push(`Goal ≤ 1.10× (source entrypoint / raw rclone sync, medians): ${verdicts.join('; ')}.`);
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

if (isMain(import.meta.url)) {
  const options = parseRcloneArgs(process.argv.slice(2));
  runRcloneBench(options).then(
    (result) => {
      process.stdout.write(`\n${formatRcloneResult(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
