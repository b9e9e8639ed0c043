/**
 * A whole rsync cycle on the local runtime against raw rsync (issue 24): trigger to `lastSyncTime`
 * for an unchanged 1 GiB volume of 1,000 files, against raw rsync of the same volume over ssh on
 * the same machine, right after each sync.
 *
 *   npm run bench:whole-cycle -- [--syncs 5] [--size-mib 1024] [--files 1000] [--seed 1]
 *                                [--copy-method Clone|Snapshot|None] [--destination-copy-method None|Snapshot|Clone]
 *
 * The run of bench/cycle-tail.ts (the local runtime: control plane, node agent running mover pods
 * in runc containers of the mover image's root filesystem, the operator as its own process) with
 * a generated tree in the source volume and its raw baseline; the source's copyMethod Clone (a
 * copy of the volume each cycle, as a CSI driver's clone: sharing its blocks where the node's
 * volume storage can, src/local/agent/storage.ts; `SCRIBE_LOCAL_STORAGE=copy` measures byte
 * copies), the destination's None by default, so
 * that its own snapshot after each transfer is not in the next cycle. The first sync (the full
 * copy) and the first raw run are not counted. Goal: at most 1 s more than raw rsync; the
 * difference is cut into the source's segments (its journal, its Job's pod's watch events).
 */
import { parseArgs } from 'node:util';
import {
  CYCLE_TAIL_DEFAULTS,
  cycleCommand,
  formatCycleTailResult,
  runCycleTailBench,
  VOLUME_FLAGS,
  volumeOptions,
  type CycleTailBenchOptions,
} from './cycle-tail.js';
import { runStandalone, type Benchmark } from './scaffold/benchmark.js';
import { isMain, positiveNumber } from './scaffold/common.js';

export const WHOLE_CYCLE_DEFAULTS: CycleTailBenchOptions = {
  ...CYCLE_TAIL_DEFAULTS,
  syncs: 5,
  syncTimeoutMs: 600_000,
  tree: { sizeMiB: 1024, files: 1000, seed: 1 },
  sourceCopyMethod: 'Clone',
  destinationCopyMethod: 'None',
  raw: true,
};

/** Parses the command line of `npm run bench:whole-cycle` (`--raw` is accepted: it is always on). */
export function parseWholeCycleArgs(args: string[]): CycleTailBenchOptions {
  const { values } = parseArgs({
    args,
    options: { syncs: { type: 'string' }, raw: { type: 'boolean' }, ...VOLUME_FLAGS },
  });
  return {
    ...WHOLE_CYCLE_DEFAULTS,
    ...volumeOptions(values, WHOLE_CYCLE_DEFAULTS),
    syncs: Math.round(positiveNumber('--syncs', values.syncs, WHOLE_CYCLE_DEFAULTS.syncs)),
  };
}

/** `npm run bench:whole-cycle`, and its part of `npm run bench`. */
export const WHOLE_CYCLE_BENCHMARK: Benchmark<CycleTailBenchOptions> = {
  name: 'whole-cycle',
  title: 'whole rsync cycle vs raw rsync',
  parse: parseWholeCycleArgs,
  smoke: (options) => ({ ...options, syncs: 2, tree: { sizeMiB: 10, files: 100, seed: 1 } }),
  command: cycleCommand('whole-cycle'),
  describe: (o) => `${o.syncs} syncs of ${o.tree?.sizeMiB} MiB in ${o.tree?.files} files on the local runtime`,
  run: async (options) => formatCycleTailResult(await runCycleTailBench(options)),
  needs: { kubernetes: true },
};

if (isMain(import.meta.url)) runStandalone(WHOLE_CYCLE_BENCHMARK, process.argv.slice(2));
