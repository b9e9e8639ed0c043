/**
 * The scaffold of the three mover benchmarks (bench/rsync.ts, restic.ts, rclone.ts): their
 * settings and flags (the generated tree's size and change, how often to run, which variants of
 * the entrypoints), the run they share (runMoverBench: tree, full and incremental runs of every
 * side, interleaved; the check at the end), the pieces of their figures' text that read alike, and
 * their command line (treeBenchmark). What restic and rclone do alike around their tool is in
 * mover-runs.ts. Each benchmark file keeps only its tool: its raw run, its mover run, its check,
 * its table.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Benchmark } from './benchmark.js';
import { mib, positiveNumber, ratio, seconds } from './common.js';
import { changeTree, generateTree, type Change, type Tree } from './tree.js';

/** tsx: `node --import tsx/loader src/movers/M/X.ts`; compiled: `node X.js` from an esbuild bundle. */
export type Variant = 'tsx' | 'compiled';
export const VARIANTS: Variant[] = ['tsx', 'compiled'];

/** Settings every mover benchmark takes. */
export interface TreeBenchOptions {
  sizeMiB: number;
  files: number;
  runs: number;
  seed: number;
  /** Fraction of files changed before each incremental run. */
  changeFraction: number;
  /**
   * Runs of every side on the unchanged tree after the incremental ones (0: none): what a sync
   * costs when nothing changed, the mover's fixed cost per sync over the raw tool's.
   */
  unchangedRuns: number;
  /** How the entrypoints run: through tsx (as in a checkout) and/or compiled (as in the image). */
  variants: Variant[];
  keep: boolean;
  log: (line: string) => void;
}

/** A 1 GiB / 10,000-file tree, 1 % changed between incremental runs, 3 runs of each variant. */
export const TREE_DEFAULTS: TreeBenchOptions = {
  sizeMiB: 1024,
  files: 10_000,
  runs: 3,
  seed: 1,
  changeFraction: 0.01,
  unchangedRuns: 0,
  variants: VARIANTS,
  keep: false,
  log: (line) => process.stdout.write(`${line}\n`),
};

/** node:util parseArgs options of the shared flags. */
export const TREE_FLAGS = {
  'size-mib': { type: 'string' },
  files: { type: 'string' },
  runs: { type: 'string' },
  seed: { type: 'string' },
  variant: { type: 'string' },
  keep: { type: 'boolean', default: false },
} as const;

/** The shared settings from parsed flags, `defaults` where a flag is absent. */
export function treeOptionsFrom(
  values: { 'size-mib'?: string; files?: string; runs?: string; seed?: string; variant?: string; keep?: boolean },
  defaults: TreeBenchOptions,
): Pick<TreeBenchOptions, 'sizeMiB' | 'files' | 'runs' | 'seed' | 'variants' | 'keep'> {
  return {
    sizeMiB: positiveNumber('--size-mib', values['size-mib'], defaults.sizeMiB),
    files: Math.round(positiveNumber('--files', values.files, defaults.files)),
    runs: Math.round(positiveNumber('--runs', values.runs, defaults.runs)),
    seed: Math.round(positiveNumber('--seed', values.seed, defaults.seed)),
    variants: parseVariants(values.variant),
    keep: values.keep ?? false,
  };
}

/** Parses `--variant tsx,compiled`. */
export function parseVariants(value: string | undefined): Variant[] {
  if (value === undefined) return VARIANTS;
  const chosen = value.split(',').map((v) => v.trim());
  for (const v of chosen)
    if (!VARIANTS.includes(v as Variant)) throw new Error(`--variant must be a list of ${VARIANTS.join(', ')}`);
  return chosen as Variant[];
}

/**
 * Writes every dirty page back before a timed run. A run that ends with a gigabyte still to be
 * written would otherwise hand that writeback to whichever run comes next, raw or mover.
 */
export function settleWriteback(): void {
  spawnSync('sync');
}

/**
 * A full run copies into an empty destination; an incremental one follows a change of the tree;
 * an unchanged one (only with `unchangedRuns`) follows another run with no change in between.
 */
export type Phase = 'full' | 'incremental' | 'unchanged';
/** The phases every mover benchmark runs. */
export const PHASES: readonly Phase[] = ['full', 'incremental'];

/** Who copies in a run: the raw tool, or the mover in one of its variants. */
export type Side = 'raw' | Variant;

/** The generated tree, as the results describe it. */
export interface TreeFacts {
  files: number;
  bytes: number;
  dirs: number;
  symlinks: number;
  hardLinks: number;
  generateMs: number;
}

/** What every mover benchmark measured, whatever its tool: `Raw` and `Mover` are one run's figures. */
export interface MoverBenchResult<Raw, Mover> {
  options: Omit<TreeBenchOptions, 'log' | 'keep'>;
  tree: TreeFacts;
  changes: Change[];
  raw: Record<Phase, Raw[]>;
  mover: Partial<Record<Variant, Record<Phase, Mover[]>>>;
}

/** What a benchmark's own setup gets: its work directory, the generated tree, and where to register cleanups. */
export interface ToolContext {
  work: string;
  tree: Tree;
  log: (line: string) => void;
  /** Runs `stop` when the benchmark ends, however it ends (latest registered first). */
  onStop(stop: () => Promise<void> | void): void;
}

/** What a mover benchmark does on its own: its tool's raw run, the mover's run, its check at the end. */
export interface MoverBenchTool<Raw, Mover> {
  /** Before the full runs of `run`: an empty destination for `side` (a directory, a repository, a path). */
  freshDestination(side: Side, run: number): Promise<void> | void;
  raw(phase: Phase): Promise<Raw>;
  mover(variant: Variant, phase: Phase): Promise<Mover>;
  /** One line of progress for a run. */
  describeRaw(run: Raw): string;
  describeMover(run: Mover): string;
  /** After every run: each side's destination must equal the tree (throws otherwise). */
  verify(sides: readonly Side[]): Promise<void>;
}

/**
 * The run every mover benchmark shares: a work directory under $TMPDIR; the seeded tree; the
 * tool's setup; `runs` full runs of every side (each into a fresh destination), then `runs`
 * incremental ones, each after a change of the tree; the tool's check that every destination
 * equals the tree; and the work directory removed (kept with --keep).
 *
 * Sides run one at a time, interleaved, their order rotated each run so no side always runs
 * right after another's page-cache warm-up, and every dirty page written back before each run.
 */
export async function runMoverBench<Raw, Mover>(
  name: string,
  options: TreeBenchOptions,
  setup: (context: ToolContext) => Promise<MoverBenchTool<Raw, Mover>>,
): Promise<MoverBenchResult<Raw, Mover>> {
  const log = options.log;
  const work = mkdtempSync(join(tmpdir(), `scribe-bench-${name}-`));
  const stops: Array<() => Promise<void> | void> = [];
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

    const tool = await setup({ work, tree, log, onStop: (stop) => stops.unshift(stop) });
    const result: MoverBenchResult<Raw, Mover> = {
      options: {
        sizeMiB: options.sizeMiB,
        files: options.files,
        runs: options.runs,
        seed: options.seed,
        changeFraction: options.changeFraction,
        unchangedRuns: options.unchangedRuns,
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
      raw: { full: [], incremental: [], unchanged: [] },
      mover: Object.fromEntries(options.variants.map((v) => [v, { full: [], incremental: [], unchanged: [] }])),
    };
    const sides: Side[] = ['raw', ...options.variants];
    const rotated = (run: number) => sides.map((_, i) => sides[(i + run - 1) % sides.length] as Side);
    const once = async (phase: Phase, run: number, side: Side) => {
      settleWriteback();
      const prefix = `${phase} ${run}/${phase === 'unchanged' ? options.unchangedRuns : options.runs}:`;
      if (side === 'raw') {
        const raw = await tool.raw(phase);
        result.raw[phase].push(raw);
        log(`${prefix} raw ${tool.describeRaw(raw)}`);
      } else {
        const mover = await tool.mover(side, phase);
        result.mover[side]?.[phase].push(mover);
        log(`${prefix} mover (${side}) ${tool.describeMover(mover)}`);
      }
    };

    for (let run = 1; run <= options.runs; run++) {
      for (const side of sides) await tool.freshDestination(side, run);
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
    // Every side's destination already holds the tree as it is now: each of these runs changes nothing.
    for (let run = 1; run <= options.unchangedRuns; run++)
      for (const side of rotated(run)) await once('unchanged', run, side);
    await tool.verify(sides);
    return result;
  } finally {
    for (const stop of stops) await stop();
    if (options.keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

/** The lines that open every mover benchmark's figures: the tree, and the change before each incremental run. */
export function describeTree(result: MoverBenchResult<unknown, unknown>): string[] {
  const t = result.tree;
  const lines = [
    `Tree: ${t.files} files (${mib(t.bytes)}), ${t.dirs} directories, ${t.symlinks} symlinks, ${t.hardLinks} hard links; seed ${result.options.seed}; generated in ${seconds(t.generateMs)}.`,
  ];
  const c = result.changes[0];
  if (c)
    lines.push(
      `Each incremental run follows a change of ${c.modified} files modified, ${c.deleted} deleted, ${c.added} added (~${mib(c.bytesWritten)} written).`,
    );
  return lines;
}

/** Every run's value in seconds with two decimals, for the "all runs (s)" column. */
export function allRuns(values: readonly number[]): string {
  return values.map((v) => (v / 1000).toFixed(2)).join(', ');
}

/** The highest of `values` (bytes), in MiB: the peak RSS over all runs. */
export function peakMiB(values: readonly number[]): string {
  return mib(Math.max(0, ...values));
}

/** Every run of every phase of one side, full first. */
export function bothPhases<T>(runs: Record<Phase, T[]>): T[] {
  return [...runs.full, ...runs.incremental, ...runs.unchanged];
}

/** "Goal ≤ 1.10× (what): full (tsx) 1.02× met; …." from the ratios by phase and variant. */
export function goalLine(goal: number, what: string, ratios: Record<string, number>): string {
  const verdicts = Object.entries(ratios).map(
    ([name, value]) => `${name} ${ratio(value)} ${value <= goal ? 'met' : 'missed'}`,
  );
  return `Goal ≤ ${goal.toFixed(2)}× (${what}): ${verdicts.join('; ')}.`;
}

/**
 * A mover benchmark as the commands see it: its command line and progress line from the tree's
 * settings, and a smoke run of a 20 MiB, 200-file tree run once (unless `smoke` says otherwise).
 */
export function treeBenchmark<Options extends TreeBenchOptions>(
  own: Pick<Benchmark<Options>, 'name' | 'title' | 'parse' | 'run' | 'needs'> &
    Partial<Pick<Benchmark<Options>, 'smoke' | 'command'>>,
): Benchmark<Options> {
  return {
    smoke: (options) => ({ ...options, sizeMiB: 20, files: 200, runs: 1 }),
    command: (o) => `npm run bench:${own.name} -- --size-mib ${o.sizeMiB} --files ${o.files} --runs ${o.runs}`,
    describe: (o) => `${o.sizeMiB} MiB, ${o.files} files`,
    ...own,
  };
}
