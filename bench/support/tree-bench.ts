/**
 * What the three mover benchmarks (bench/rsync.ts, restic.ts, rclone.ts) share: the generated
 * tree's size and change, how often to run, which variants of the entrypoints, and the command
 * line flags that set them.
 */
import { spawnSync } from 'node:child_process';
import { positiveNumber } from './common.js';

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
