/**
 * What the restic and rclone benchmarks do alike around their tool: MinIO and the tool's binary
 * set up for the run, the raw tool and the source entrypoint run to completion with their memory
 * sampled, each side's copy brought back by the destination entrypoint and checked against the
 * tree, and the rows of figures every mover benchmark prints the same way.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Server } from '../../src/local/s3.js';
import { median, seconds } from './common.js';
import type { Launcher } from './entrypoints.js';
import { allRuns, peakMiB, bothPhases, type Phase, type Side, type ToolContext, type Variant } from './mover-bench.js';
import { startBenchS3, toolBinary, verifyEqualTree } from './object-storage.js';
import { MemorySampler } from './proc.js';
import { podEnv, start, type Proc } from './processes.js';

/** The tool's binary and MinIO on loopback with `bucket`, stopped when the benchmark ends. */
export async function toolAndS3(
  context: ToolContext,
  tool: 'restic' | 'rclone',
  bucket: string,
): Promise<{ binary: string; s3: S3Server }> {
  const binary = await toolBinary(tool);
  const s3 = await startBenchS3(join(context.work, 's3'), bucket);
  context.onStop(() => s3.stop());
  context.log(`MinIO on ${s3.endpoint}`);
  return { binary, s3 };
}

/**
 * Runs the raw tool to completion with a pod's environment plus `env` (its memory sampled as
 * 'raw' when `sampler` is given); throws with the tail of its output when it fails.
 */
export async function runRawTool(
  name: string,
  binary: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; sampler?: MemorySampler } = {},
): Promise<Proc> {
  const proc = start(binary, args, {
    env: podEnv(options.env ?? {}),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  options.sampler?.track('raw', proc.pid);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${name} ${args[0]} exited with ${code}:\n${proc.output.slice(-4000)}`);
  return proc;
}

/** One finished run of a source entrypoint: the process (its output) and its memory. */
export interface SourceRun {
  proc: Proc;
  ownPeakRss: number;
  treePeakRss: number;
}

/** Runs `mover`'s source entrypoint to completion, its memory sampled; throws with its output when it fails. */
export async function runSourceEntrypoint(
  mover: string,
  launch: Launcher,
  env: Record<string, string>,
): Promise<SourceRun> {
  const sampler = new MemorySampler();
  const proc = launch('source', env);
  sampler.track('mover', proc.pid);
  try {
    const code = await proc.exited;
    if (code !== 0) throw new Error(`the ${mover} source entrypoint exited with ${code}:\n${proc.output.slice(-4000)}`);
    return { proc, ownPeakRss: sampler.ownPeak.get('mover') ?? 0, treePeakRss: sampler.treePeak.get('mover') ?? 0 };
  } finally {
    sampler.stop();
    if (Number.isNaN(proc.endedAt)) proc.killTree();
  }
}

/** How a benchmark brings each side's copy back and says what it checked. */
export interface RestoreCheck {
  context: ToolContext;
  launchers: Partial<Record<Variant, Launcher>>;
  sides: readonly Side[];
  /** The destination entrypoint's settings that restore `side`'s copy into `target`. */
  env(side: Side, target: string): Record<string, string>;
  /** What is restored, for the messages: "the raw side's path". */
  what(side: Side): string;
  /** How the log line says it matched: "copies back to the tree". */
  verified: string;
  /** Whether the tool keeps hard links (compared only then). */
  hardLinks: boolean;
}

/**
 * Restores every side's copy with the destination entrypoint (compiled when built, else tsx) into
 * an empty directory that must equal the tree; returns each restore's wall time.
 */
export async function verifyRestores(check: RestoreCheck): Promise<Partial<Record<Side, number>>> {
  const { work, tree, log } = check.context;
  const restorer = (check.launchers.compiled ?? check.launchers.tsx) as Launcher;
  const restoreMs: Partial<Record<Side, number>> = {};
  for (const side of check.sides) {
    const target = join(work, `restore-${side}`);
    mkdirSync(target);
    const proc = restorer('destination', check.env(side, target));
    const code = await proc.exited;
    if (code !== 0) throw new Error(`restore of ${check.what(side)} failed (${code}):\n${proc.output.slice(-4000)}`);
    restoreMs[side] = proc.wallMs;
    await verifyEqualTree(tree.root, target, `the restore of ${check.what(side)}`, check.hardLinks);
    log(`verified: ${check.what(side)} ${check.verified} (${seconds(proc.wallMs)})`);
    rmSync(target, { recursive: true, force: true });
  }
  return restoreMs;
}

/** A row of a phase table: what was timed, its median and every run. */
export function timesRow(phase: Phase, what: string, values: readonly number[]): string[] {
  return [phase, what, seconds(median(values)), allRuns(values)];
}

/** The rows of the entrypoints' start-up figures, one per variant. */
export function startupRows(startupMs: Partial<Record<Variant, number[]>>): string[][] {
  return Object.entries(startupMs).map(([variant, times]) => [
    `${variant}: entrypoint start-up and exit, no work (stops at a configuration error), median of 3`,
    seconds(median(times)),
  ]);
}

/** The source entrypoint's own and its tree's peak RSS per variant; `tree` names the tree's processes. */
export function sourceMemoryRows(
  mover: Partial<Record<Variant, Record<Phase, Array<{ ownPeakRss: number; treePeakRss: number }>>>>,
  tree: string,
): string[][] {
  return Object.entries(mover).flatMap(([variant, runs]) => {
    const movers = bothPhases(runs);
    return [
      [`${variant}: source entrypoint (node) VmHWM`, peakMiB(movers.map((m) => m.ownPeakRss))],
      [`${variant}: source tree peak RSS (${tree})`, peakMiB(movers.map((m) => m.treePeakRss))],
    ];
  });
}
