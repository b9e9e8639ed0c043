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
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { S3Server } from '../src/local/s3.js';
import { backupArgs, forgetArgs, initArgs, type ResticArgsConfig } from '../src/movers/restic/args.js';
import { isMain, markdownTable, median, mib, positiveNumber, ratio, seconds } from './support/common.js';
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

/** Settings of one restic benchmark run. */
export interface ResticBenchOptions extends TreeBenchOptions {
  /** The retention policy of both sides: keep the last N snapshots. */
  retainLast: number;
}

export const RESTIC_DEFAULTS: ResticBenchOptions = { ...TREE_DEFAULTS, retainLast: 3 };

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

type Side = 'raw' | Variant;

/** Everything the benchmark measured. */
export interface ResticBenchResult {
  options: Omit<ResticBenchOptions, 'log' | 'keep'>;
  tree: { files: number; bytes: number; dirs: number; symlinks: number; hardLinks: number; generateMs: number };
  changes: Change[];
  /** `restic init` of every fresh repository (excluded from the figures). */
  initMs: number[];
  /** Spawn to exit of an entrypoint that stops at once on a configuration error: node and module loading. */
  startupMs: Partial<Record<Variant, number[]>>;
  raw: { full: RawResticRun[]; incremental: RawResticRun[] };
  mover: Partial<Record<Variant, { full: MoverResticRun[]; incremental: MoverResticRun[] }>>;
  /** Restore of each mover's newest snapshot by the destination entrypoint, checked equal to the tree. */
  restoreMs: Partial<Record<Side, number>>;
}

/** Runs the benchmark and returns its figures. */
export async function runResticBench(options: ResticBenchOptions): Promise<ResticBenchResult> {
  const log = options.log;
  const work = mkdtempSync(join(tmpdir(), 'scribe-bench-restic-'));
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

    const restic = await toolBinary('restic');
    s3 = await startBenchS3(join(work, 's3'), BUCKET);
    log(`MinIO on ${s3.endpoint}`);
    const launchers: Partial<Record<Variant, Launcher>> = {};
    for (const variant of options.variants)
      launchers[variant] = await moverLauncher('restic', variant, join(work, 'compiled'));

    const result: ResticBenchResult = {
      options: {
        sizeMiB: options.sizeMiB,
        files: options.files,
        runs: options.runs,
        seed: options.seed,
        changeFraction: options.changeFraction,
        retainLast: options.retainLast,
        variants: options.variants,
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
      initMs: [],
      startupMs: {},
      raw: { full: [], incremental: [] },
      mover: Object.fromEntries(options.variants.map((v) => [v, { full: [], incremental: [] }])),
      restoreMs: {},
    };

    const s3Env = {
      RESTIC_PASSWORD: PASSWORD,
      AWS_ACCESS_KEY_ID: s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
    };
    const endpoint = s3.endpoint;
    const sides: Side[] = ['raw', ...options.variants];
    const repositories = new Map<Side, { repository: string; cacheDir: string }>();
    const repoOf = (side: Side) => repositories.get(side) as { repository: string; cacheDir: string };

    for (const variant of options.variants) {
      const launch = launchers[variant] as Launcher;
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const proc = launch('source', { SCRIBE_DATA_DIR: tree.root, RESTIC_REPOSITORY: '', RESTIC_PASSWORD: '' });
        await proc.exited;
        if (!/configuration error/.test(proc.output)) throw new Error(`start-up probe did not stop:\n${proc.output}`);
        times.push(proc.wallMs);
      }
      result.startupMs[variant] = times;
      log(`${variant} entrypoint start-up (stops at a configuration error): ${seconds(median(times))}`);
    }

    const once = async (phase: 'full' | 'incremental', run: number, side: Side) => {
      settleWriteback();
      const { repository, cacheDir } = repoOf(side);
      const env = { ...s3Env, RESTIC_REPOSITORY: repository };
      if (side === 'raw') {
        const raw = await rawCycle(restic, env, { dataDir: tree.root, cacheDir, host: HOST }, options.retainLast);
        result.raw[phase].push(raw);
        log(`${phase} ${run}/${options.runs}: raw backup ${seconds(raw.backupMs)} + forget ${seconds(raw.forgetMs)}`);
      } else {
        const mover = await moverCycle(launchers[side] as Launcher, {
          ...env,
          SCRIBE_DATA_DIR: tree.root,
          SCRIBE_CACHE_DIR: cacheDir,
          SCRIBE_RESTIC: restic,
          SCRIBE_RETAIN_LAST: String(options.retainLast),
          // Pruned just now as far as the mover knows: an ordinary cycle, prune not due.
          SCRIBE_LAST_PRUNED: new Date().toISOString(),
        });
        result.mover[side]?.[phase].push(mover);
        log(
          `${phase} ${run}/${options.runs}: mover (${side}) ${seconds(mover.ms)} (restic backup reported ${seconds(mover.backupReportedMs)})`,
        );
      }
    };
    // Rotate the order each run so no side always runs right after another's page-cache warm-up.
    const rotated = (run: number) => sides.map((_, i) => sides[(i + run - 1) % sides.length] as Side);

    for (let run = 1; run <= options.runs; run++) {
      for (const side of sides) {
        const cacheDir = join(work, 'cache', side);
        rmSync(cacheDir, { recursive: true, force: true });
        mkdirSync(cacheDir, { recursive: true });
        const repository = `s3:${endpoint}/${BUCKET}/run${run}-${side}`;
        repositories.set(side, { repository, cacheDir });
        const init = start(restic, initArgs({ dataDir: tree.root, cacheDir, host: HOST }), {
          env: { ...process.env, ...s3Env, RESTIC_REPOSITORY: repository },
        });
        if ((await init.exited) !== 0) throw new Error(`restic init failed:\n${init.output}`);
        result.initMs.push(init.wallMs);
      }
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

    // The newest snapshot of each mover's repository, restored by the destination entrypoint, must equal the tree.
    const restorer = launchers.compiled ?? (launchers.tsx as Launcher);
    for (const side of options.variants) {
      const target = join(work, `restore-${side}`);
      mkdirSync(target);
      const { repository, cacheDir } = repoOf(side);
      const proc = restorer('destination', {
        ...s3Env,
        RESTIC_REPOSITORY: repository,
        SCRIBE_DATA_DIR: target,
        SCRIBE_CACHE_DIR: cacheDir,
        SCRIBE_RESTIC: restic,
      });
      const code = await proc.exited;
      if (code !== 0)
        throw new Error(`restore of the ${side} repository failed (${code}):\n${proc.output.slice(-4000)}`);
      result.restoreMs[side] = proc.wallMs;
      await verifyEqualTree(tree.root, target, `the restore of the ${side} repository's newest snapshot`, true);
      log(`verified: the ${side} repository's newest snapshot restores to the tree (${seconds(proc.wallMs)})`);
      rmSync(target, { recursive: true, force: true });
    }
    return result;
  } finally {
    await s3?.stop();
    if (options.keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

/** Runs restic to completion (optionally tracking its memory); throws with its output when it fails. */
async function timedRestic(
  restic: string,
  args: string[],
  env: Record<string, string>,
  cwd?: string,
  sampler?: MemorySampler,
) {
  const proc = start(restic, args, { env: podEnv(env), ...(cwd === undefined ? {} : { cwd }) });
  sampler?.track('raw', proc.pid);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`restic ${args[0]} exited with ${code}:\n${proc.output.slice(-4000)}`);
  return proc;
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
    const backup = await timedRestic(restic, backupArgs(config), env, config.dataDir, sampler);
    const forget = await timedRestic(
      restic,
      [...(forgetArgs(config, { last: retainLast }) as string[]), '--json'],
      env,
      undefined,
      sampler,
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
  const sampler = new MemorySampler();
  const proc = launch('source', env);
  sampler.track('mover', proc.pid);
  try {
    const code = await proc.exited;
    if (code !== 0) throw new Error(`the restic source entrypoint exited with ${code}:\n${proc.output.slice(-4000)}`);
    if (!/prune: not due/.test(proc.output)) throw new Error(`the mover did not skip the prune:\n${proc.output}`);
    return {
      ms: proc.wallMs,
      backupReportedMs: reportedBackupMs(proc.output),
      ownPeakRss: sampler.ownPeak.get('mover') ?? 0,
      treePeakRss: sampler.treePeak.get('mover') ?? 0,
    };
  } finally {
    sampler.stop();
    if (Number.isNaN(proc.endedAt)) proc.killTree();
  }
}

/** The figures as Markdown: parameters, a table per phase, and the ratios. */
export function formatResticResult(result: ResticBenchResult): string {
  const all = (values: number[]) => values.map((v) => (v / 1000).toFixed(2)).join(', ');
  const lines: string[] = [];
  const t = result.tree;
  const o = result.options;
  lines.push(
    `Tree: ${t.files} files (${mib(t.bytes)}), ${t.dirs} directories, ${t.symlinks} symlinks, ${t.hardLinks} hard links; seed ${o.seed}; generated in ${seconds(t.generateMs)}.`,
  );
  const c = result.changes;
  if (c.length > 0)
    lines.push(
      `Each incremental run follows a change of ${c[0]?.modified} files modified, ${c[0]?.deleted} deleted, ${c[0]?.added} added (~${mib(c[0]?.bytesWritten ?? 0)} written).`,
    );
  lines.push(
    `Raw: \`restic backup\` with the mover's arguments, then \`restic forget --keep-last ${o.retainLast}\`; mover: one source cycle (backup, forget --keep-last ${o.retainLast}; prune not due). ` +
      `Fresh repository per full run, \`restic init\` excluded (median ${seconds(median(result.initMs))}); each side's cache directory kept for the incremental runs.`,
  );
  lines.push('');
  const rows: string[][] = [];
  const ratios: Record<string, number> = {};
  for (const phase of ['full', 'incremental'] as const) {
    const raws = result.raw[phase];
    const backup = raws.map((r) => r.backupMs);
    const forget = raws.map((r) => r.forgetMs);
    const both = raws.map((r) => r.backupMs + r.forgetMs);
    rows.push([phase, 'raw restic backup', seconds(median(backup)), all(backup)]);
    rows.push([
      phase,
      'raw restic backup: total_duration reported by restic',
      seconds(median(raws.map((r) => r.backupReportedMs))),
      all(raws.map((r) => r.backupReportedMs)),
    ]);
    rows.push([phase, 'raw restic forget', seconds(median(forget)), all(forget)]);
    rows.push([phase, '**raw backup + forget**', `**${seconds(median(both))}**`, all(both)]);
    for (const [variant, runs] of Object.entries(result.mover)) {
      const mover = runs[phase].map((r) => r.ms);
      const reported = runs[phase].map((r) => r.backupReportedMs);
      ratios[`${phase} (${variant})`] = median(mover) / median(both);
      rows.push([phase, `mover ${variant}: source entrypoint`, seconds(median(mover)), all(mover)]);
      rows.push([
        phase,
        `mover ${variant}: backup total_duration reported by restic`,
        seconds(median(reported)),
        all(reported),
      ]);
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
  const other: string[][] = [];
  for (const [variant, times] of Object.entries(result.startupMs))
    other.push([
      `${variant}: entrypoint start-up and exit, no work (stops at a configuration error), median of 3`,
      seconds(median(times)),
    ]);
  for (const [side, ms] of Object.entries(result.restoreMs))
    other.push([`restore of the ${side} repository's newest snapshot (destination entrypoint), verified`, seconds(ms)]);
  const peak = (values: number[]) => mib(Math.max(0, ...values));
  for (const [variant, runs] of Object.entries(result.mover)) {
    const movers = [...runs.full, ...runs.incremental];
    other.push(
      [`${variant}: source entrypoint (node) VmHWM`, peak(movers.map((m) => m.ownPeakRss))],
      [`${variant}: source tree peak RSS (node + restic)`, peak(movers.map((m) => m.treePeakRss))],
    );
  }
  other.push(['raw: restic peak RSS', peak([...result.raw.full, ...result.raw.incremental].map((r) => r.treePeakRss))]);
  lines.push(markdownTable(['other figures (peak RSS: max over all runs, sampled every 100 ms)', 'value'], other));
  lines.push('');
  const verdicts = Object.entries(ratios).map(
    ([what, value]) => `${what} ${ratio(value)} ${value <= 1.05 ? 'met' : 'missed'}`,
  );
  lines.push(`Goal ≤ 1.05× (source entrypoint / (raw backup + forget), medians): ${verdicts.join('; ')}.`);
  return lines.join('\n');
}

/** Parses the command line of `npm run bench:restic`. */
export function parseResticArgs(args: string[]): ResticBenchOptions {
  const { values } = parseArgs({ args, options: { ...TREE_FLAGS, 'retain-last': { type: 'string' } } });
  return {
    ...RESTIC_DEFAULTS,
    ...treeOptionsFrom(values, RESTIC_DEFAULTS),
    retainLast: Math.round(positiveNumber('--retain-last', values['retain-last'], RESTIC_DEFAULTS.retainLast)),
  };
}

if (isMain(import.meta.url)) {
  const options = parseResticArgs(process.argv.slice(2));
  runResticBench(options).then(
    (result) => {
      process.stdout.write(`\n${formatResticResult(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
