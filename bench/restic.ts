/**
 * The restic mover against raw restic, in the same run on the same generated tree, into MinIO on
 * loopback.
 *
 *   npm run bench:restic -- [--size-mib N] [--files N] [--runs N] [--seed N] [--retain-last N] [--variant tsx,compiled] [--keep]
 *
 * Every repository is fresh for a full run and created beforehand with `restic init` (timed apart,
 * excluded from every figure); each side has its own repository and its own cache directory,
 * kept from the full run to the incremental ones as the mover's cache PVC is.
 *
 * Raw: `restic backup . --host scribe --exclude TREE/lost+found --json --quiet --cache-dir C` run
 * in the tree (the very argument list the mover builds, src/movers/restic/args.ts), then
 * `restic forget --host scribe --group-by host --keep-last N --json --cache-dir C` (the mover's
 * forget with the same policy).
 * Mover: the source entrypoint (src/movers/restic/source.ts) with SCRIBE_RETAIN_LAST=N and
 * SCRIBE_LAST_PRUNED=now, i.e. one ordinary cycle: backup, forget; prune not due
 * (it runs every pruneIntervalDays, 7 by default). Through tsx and compiled with esbuild, as in
 * bench/rsync.ts. Each full (fresh repository) and incremental (after ~1% of the files changed,
 * 0.1% deleted and as many added), `--runs` times, interleaved.
 *
 * The ratio that counts is mover / (raw backup + raw forget), per median. At the end the newest
 * snapshot of each mover's repository is restored by the restic destination entrypoint into an
 * empty directory, which must equal the tree (contents by checksum, mtimes, modes, owners, links).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { backupArgs, forgetArgs, initArgs, type ResticArgsConfig } from '../src/movers/restic/args.js';
import { runStandalone, type Benchmark } from './scaffold/benchmark.js';
import { isMain, markdownTable, median, positiveNumber, ratio, seconds } from './scaffold/common.js';
import { measureStartup, moverLaunchers, type Launcher } from './scaffold/entrypoints.js';
import * as moverBench from './scaffold/mover-bench.js';
import type { MoverBenchResult, Side, TreeBenchOptions, Variant } from './scaffold/mover-bench.js';
import * as moverRuns from './scaffold/mover-runs.js';
import { MemorySampler } from './scaffold/proc.js';
import { start } from './scaffold/processes.js';

/** Settings of one restic benchmark run. */
export interface ResticBenchOptions extends TreeBenchOptions {
  /** The retention policy of both sides: keep the last N snapshots. */
  retainLast: number;
}

export const RESTIC_DEFAULTS: ResticBenchOptions = { ...moverBench.TREE_DEFAULTS, retainLast: 3 };

const PASSWORD = 'scribe benchmark repository password';
const BUCKET = 'bench';
/** The mover's default SCRIBE_RESTIC_HOST, used by both sides. */
const HOST = 'scribe';

/** One raw run's figures (milliseconds, bytes). */
export interface RawResticRun {
  backupMs: number;
  forgetMs: number;
  /** restic's own total_duration from the backup's JSON summary. */
  backupReportedMs: number;
  treePeakRss: number;
}

/** One mover run's figures. */
export interface MoverResticRun {
  ms: number;
  /** restic's own total_duration from the backup's JSON summary, as the mover echoed it. */
  backupReportedMs: number;
  ownPeakRss: number;
  treePeakRss: number;
}

/** Everything the benchmark measured. */
export interface ResticBenchResult extends MoverBenchResult<RawResticRun, MoverResticRun> {
  options: MoverBenchResult<RawResticRun, MoverResticRun>['options'] & { retainLast: number };
  /** `restic init` of every fresh repository (excluded from the figures). */
  initMs: number[];
  /** Spawn to exit of an entrypoint that stops at once on a configuration error: node and module loading. */
  startupMs: Partial<Record<Variant, number[]>>;
  /** Restore of each mover's newest snapshot by the destination entrypoint, checked equal to the tree. */
  restoreMs: Partial<Record<Side, number>>;
}

/** Runs the benchmark and returns its figures. */
export async function runResticBench(options: ResticBenchOptions): Promise<ResticBenchResult> {
  const initMs: number[] = [];
  const startupMs: Partial<Record<Variant, number[]>> = {};
  let restoreMs: Partial<Record<Side, number>> = {};
  const result = await moverBench.runMoverBench<RawResticRun, MoverResticRun>('restic', options, async (context) => {
    const { work, tree, log } = context;
    const { binary: restic, s3 } = await moverRuns.toolAndS3(context, 'restic', BUCKET);
    const launchers = await moverLaunchers('restic', options.variants, join(work, 'compiled'));
    for (const variant of options.variants)
      startupMs[variant] = await measureStartup(
        launchers[variant],
        { SCRIBE_DATA_DIR: tree.root, RESTIC_REPOSITORY: '', RESTIC_PASSWORD: '' },
        variant,
        log,
      );
    const s3Env = {
      RESTIC_PASSWORD: PASSWORD,
      AWS_ACCESS_KEY_ID: s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
    };
    // Each side's repository, fresh for every full run, and its cache, kept for the incremental runs.
    const repositories = new Map<Side, { repository: string; cacheDir: string }>();
    const repoOf = (side: Side) => repositories.get(side) as { repository: string; cacheDir: string };
    const envOf = (side: Side) => ({ ...s3Env, RESTIC_REPOSITORY: repoOf(side).repository });
    return {
      freshDestination: async (side, run) => {
        const cacheDir = join(work, 'cache', side);
        rmSync(cacheDir, { recursive: true, force: true });
        mkdirSync(cacheDir, { recursive: true });
        const repository = `s3:${s3.endpoint}/${BUCKET}/run${run}-${side}`;
        repositories.set(side, { repository, cacheDir });
        const init = start(restic, initArgs({ dataDir: tree.root, cacheDir, host: HOST }), {
          env: { ...process.env, ...s3Env, RESTIC_REPOSITORY: repository },
        });
        if ((await init.exited) !== 0) throw new Error(`restic init failed:\n${init.output}`);
        initMs.push(init.wallMs);
      },
      raw: () =>
        rawCycle(
          restic,
          envOf('raw'),
          { dataDir: tree.root, cacheDir: repoOf('raw').cacheDir, host: HOST },
          options.retainLast,
        ),
      mover: (variant) =>
        moverCycle(launchers[variant], {
          ...envOf(variant),
          SCRIBE_DATA_DIR: tree.root,
          SCRIBE_CACHE_DIR: repoOf(variant).cacheDir,
          SCRIBE_RESTIC: restic,
          SCRIBE_RETAIN_LAST: String(options.retainLast),
          // Pruned just now as far as the mover knows: an ordinary cycle, prune not due.
          SCRIBE_LAST_PRUNED: new Date().toISOString(),
        }),
      describeRaw: (raw) => `backup ${seconds(raw.backupMs)} + forget ${seconds(raw.forgetMs)}`,
      describeMover: (mover) => `${seconds(mover.ms)} (restic backup reported ${seconds(mover.backupReportedMs)})`,
      // The newest snapshot of each mover's repository, restored by the destination entrypoint, must equal the tree.
      verify: async () => {
        restoreMs = await moverRuns.verifyRestores({
          context,
          launchers,
          sides: options.variants,
          env: (side, target) => ({
            ...envOf(side),
            SCRIBE_DATA_DIR: target,
            SCRIBE_CACHE_DIR: repoOf(side).cacheDir,
            SCRIBE_RESTIC: restic,
          }),
          what: (side) => `the ${side} repository's newest snapshot`,
          verified: 'restores to the tree',
          hardLinks: true,
        });
      },
    };
  });
  return { ...result, options: { ...result.options, retainLast: options.retainLast }, initMs, startupMs, restoreMs };
}

/** restic's total_duration from a backup's JSON summary line, in milliseconds. */
function reportedBackupMs(output: string): number {
  for (const line of output.split('\n').reverse()) {
    if (!line.includes('"message_type":"summary"')) continue;
    try {
      const summary = JSON.parse(line) as { total_duration?: number };
      if (typeof summary.total_duration === 'number') return summary.total_duration * 1000;
    } catch {
      // not JSON after all
    }
  }
  return Number.NaN;
}

async function rawCycle(
  restic: string,
  env: Record<string, string>,
  config: ResticArgsConfig,
  retainLast: number,
): Promise<RawResticRun> {
  const sampler = new MemorySampler();
  try {
    const backup = await moverRuns.runRawTool('restic', restic, backupArgs(config), {
      env,
      cwd: config.dataDir,
      sampler,
    });
    const forget = await moverRuns.runRawTool(
      'restic',
      restic,
      [...(forgetArgs(config, { last: retainLast }) as string[]), '--json'],
      {
        env,
        sampler,
      },
    );
    return {
      backupMs: backup.wallMs,
      forgetMs: forget.wallMs,
      backupReportedMs: reportedBackupMs(backup.output),
      treePeakRss: sampler.treePeak.get('raw') ?? 0,
    };
  } finally {
    sampler.stop();
  }
}

async function moverCycle(launch: Launcher, env: Record<string, string>): Promise<MoverResticRun> {
  const { proc, ownPeakRss, treePeakRss } = await moverRuns.runSourceEntrypoint('restic', launch, env);
  if (!/prune: not due/.test(proc.output)) throw new Error(`the mover did not skip the prune:\n${proc.output}`);
  return { ms: proc.wallMs, backupReportedMs: reportedBackupMs(proc.output), ownPeakRss, treePeakRss };
}

/** The figures as Markdown: parameters, a table per phase, and the ratios. */
export function formatResticResult(result: ResticBenchResult): string {
  const o = result.options;
  const lines = [...moverBench.describeTree(result)];
  lines.push(
    `Raw: \`restic backup\` with the mover's arguments, then \`restic forget --keep-last ${o.retainLast}\`; mover: one source cycle (backup, forget --keep-last ${o.retainLast}; prune not due). ` +
      `Fresh repository per full run, \`restic init\` excluded (median ${seconds(median(result.initMs))}); each side's cache directory kept for the incremental runs.`,
  );
  lines.push('');
  const rows: string[][] = [];
  const ratios: Record<string, number> = {};
  for (const phase of moverBench.PHASES) {
    const raws = result.raw[phase];
    const backup = raws.map((r) => r.backupMs);
    const forget = raws.map((r) => r.forgetMs);
    const both = raws.map((r) => r.backupMs + r.forgetMs);
    rows.push(
      moverRuns.timesRow(phase, 'raw restic backup', backup),
      moverRuns.timesRow(
        phase,
        'raw restic backup: total_duration reported by restic',
        raws.map((r) => r.backupReportedMs),
      ),
      moverRuns.timesRow(phase, 'raw restic forget', forget),
      [phase, '**raw backup + forget**', `**${seconds(median(both))}**`, moverBench.allRuns(both)],
    );
    for (const [variant, runs] of Object.entries(result.mover)) {
      const mover = runs[phase].map((r) => r.ms);
      ratios[`${phase} (${variant})`] = median(mover) / median(both);
      rows.push(
        moverRuns.timesRow(phase, `mover ${variant}: source entrypoint`, mover),
        moverRuns.timesRow(
          phase,
          `mover ${variant}: backup total_duration reported by restic`,
          runs[phase].map((r) => r.backupReportedMs),
        ),
      );
      rows.push([
        phase,
        `**ratio ${variant} / (raw backup + forget)**`,
        `**${ratio(median(mover) / median(both))}**`,
        '',
      ]);
      rows.push([phase, `ratio ${variant} / raw backup`, ratio(median(mover) / median(backup)), '']);
      rows.push([
        phase,
        `${variant}: mover − raw (backup + forget), medians`,
        seconds(median(mover) - median(both)),
        '',
      ]);
    }
  }
  lines.push(markdownTable(['phase', 'what', 'median', 'all runs (s)'], rows));
  lines.push('');
  const other = moverRuns.startupRows(result.startupMs);
  for (const [side, ms] of Object.entries(result.restoreMs))
    other.push([`restore of the ${side} repository's newest snapshot (destination entrypoint), verified`, seconds(ms)]);
  other.push(...moverRuns.sourceMemoryRows(result.mover, 'node + restic'), [
    'raw: restic peak RSS',
    moverBench.peakMiB(moverBench.bothPhases(result.raw).map((r) => r.treePeakRss)),
  ]);
  lines.push(markdownTable(['other figures (peak RSS: max over all runs, sampled every 100 ms)', 'value'], other));
  lines.push('');
  lines.push(moverBench.goalLine(1.05, 'source entrypoint / (raw backup + forget), medians', ratios));
  return lines.join('\n');
}

/** Parses the command line of `npm run bench:restic`. */
export function parseResticArgs(args: string[]): ResticBenchOptions {
  const { values } = parseArgs({ args, options: { ...moverBench.TREE_FLAGS, 'retain-last': { type: 'string' } } });
  return {
    ...RESTIC_DEFAULTS,
    ...moverBench.treeOptionsFrom(values, RESTIC_DEFAULTS),
    retainLast: Math.round(positiveNumber('--retain-last', values['retain-last'], RESTIC_DEFAULTS.retainLast)),
  };
}

/** `npm run bench:restic`, and its part of `npm run bench`. */
export const RESTIC_BENCHMARK: Benchmark<ResticBenchOptions> = moverBench.treeBenchmark({
  name: 'restic',
  title: 'restic mover vs raw restic',
  parse: parseResticArgs,
  // Every restic call spends ~0.5 s deriving the repository key (scrypt), whatever the size: one
  // variant (compiled, as the image runs it) keeps the smoke run near 20 s.
  smoke: (options) => ({ ...options, sizeMiB: 20, files: 200, runs: 1, variants: ['compiled'] }),
  run: async (options) => formatResticResult(await runResticBench(options)),
  needs: { objectStorage: true },
});

if (isMain(import.meta.url)) runStandalone(RESTIC_BENCHMARK, process.argv.slice(2));
