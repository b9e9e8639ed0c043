/**
 * The rsync mover against raw rsync over ssh, in the same run on the same generated tree.
 *
 *   npm run bench:rsync -- [--size-mib N] [--files N] [--runs N] [--seed N] [--variant tsx,compiled] [--keep]
 *
 * Raw: `rsync -aAhHSxz --delete -e 'ssh -F <config>' TREE/ 127.0.0.1:DEST/` against a plain
 * sshd of our own on 127.0.0.1 (started once; no forced command). Mover: the destination
 * entrypoint (src/movers/rsync/destination.ts: sshd, forced command, rrsync, handshake) started
 * and waited for until it listens, then the source entrypoint (source.ts) pushing the tree to it;
 * both real processes, through tsx as bin/scribe runs them from a checkout and compiled to plain
 * JavaScript (an esbuild bundle) as the image runs them. Each is timed full
 * (empty destination) and incremental (after ~1% of the files changed and a few deleted and
 * added), `--runs` times, interleaved so that load on the machine hits both alike.
 *
 * Figures: wall time of raw rsync; of the source entrypoint (spawn to exit, which includes the
 * handshake), the comparable figure; end to end (destination spawn to both exited: + sshd start
 * and the destination's final `sync`); peak RSS of the entrypoint processes and of each whole
 * process tree (sampled every 100 ms). Ratio = source entrypoint / raw, per median.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSshKeyPair, rsyncSecretContents } from '../src/movers/rsync/keys.js';
import { isMain, markdownTable, median, mib, ratio, REPO_ROOT, seconds, TSX_LOADER } from './support/common.js';
import { bundleMovers } from '../src/cli/bundle.js';
import { freePort, MemorySampler, podEnv, start, type Proc } from './support/processes.js';
import { startPlainSshd, type PlainSshd } from './support/sshd.js';
import { changeTree, generateTree, type Change, type Tree } from './support/tree.js';
import {
  TREE_DEFAULTS,
  TREE_FLAGS,
  treeOptionsFrom,
  type TreeBenchOptions,
  type Variant,
  settleWriteback,
} from './support/tree-bench.js';

/** Settings of one rsync benchmark run. */
export type RsyncBenchOptions = TreeBenchOptions;

export const RSYNC_DEFAULTS: RsyncBenchOptions = TREE_DEFAULTS;

/** One mover run's figures (milliseconds and bytes). */
export interface MoverRun {
  sourceMs: number;
  /** What the source reported for rsync itself (`rsync finished in Xs`, 0.1 s resolution). */
  rsyncMs: number;
  destinationReadyMs: number;
  endToEndMs: number;
  sourcePeakRss: number;
  destinationPeakRss: number;
  sourceTreePeakRss: number;
  destinationTreePeakRss: number;
}

/** One raw run's figures. */
export interface RawRun {
  ms: number;
  clientTreePeakRss: number;
  serverTreePeakRss: number;
}

/** Everything the benchmark measured. */
export interface RsyncBenchResult {
  options: Omit<RsyncBenchOptions, 'log' | 'keep'>;
  tree: { files: number; bytes: number; dirs: number; symlinks: number; hardLinks: number; generateMs: number };
  changes: Change[];
  raw: { full: RawRun[]; incremental: RawRun[] };
  mover: Partial<Record<Variant, { full: MoverRun[]; incremental: MoverRun[] }>>;
}

/** Runs the benchmark and returns its figures. */
export async function runRsyncBench(options: RsyncBenchOptions): Promise<RsyncBenchResult> {
  const log = options.log;
  const work = mkdtempSync(join(tmpdir(), 'scribe-bench-rsync-'));
  let sshd: PlainSshd | undefined;
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

    const keys = writeKeys(join(work, 'keys'));
    const runDir = join(work, 'run');
    mkdirSync(runDir);
    sshd = await startPlainSshd(join(work, 'sshd'));
    log(`plain sshd listening on 127.0.0.1:${sshd.port}`);

    const rawDest = join(work, 'raw-dest');
    const moverDest = join(work, 'mover-dest');
    const result: RsyncBenchResult = {
      options: {
        sizeMiB: options.sizeMiB,
        files: options.files,
        runs: options.runs,
        seed: options.seed,
        changeFraction: options.changeFraction,
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
      raw: { full: [], incremental: [] },
      mover: Object.fromEntries(options.variants.map((v) => [v, { full: [], incremental: [] }])),
    };
    const launchers: Partial<Record<Variant, Launcher>> = {};
    for (const variant of options.variants)
      launchers[variant] = variant === 'tsx' ? tsxLauncher() : await compiledLauncher(join(work, 'compiled'));
    const sides = ['raw', ...options.variants] as const;

    const destOf = (side: (typeof sides)[number]) => (side === 'raw' ? rawDest : `${moverDest}-${side}`);
    const once = async (phase: 'full' | 'incremental', run: number, side: (typeof sides)[number]) => {
      settleWriteback();
      if (side === 'raw') {
        const raw = await rawSync(sshd as PlainSshd, tree, rawDest);
        result.raw[phase].push(raw);
        log(`${phase} ${run}/${options.runs}: raw rsync ${seconds(raw.ms)}`);
      } else {
        const mover = await moverSync(launchers[side] as Launcher, keys, runDir, tree, destOf(side));
        result.mover[side]?.[phase].push(mover);
        log(`${phase} ${run}/${options.runs}: mover (${side}) ${describeMover(mover)}`);
      }
    };
    // Rotate the order each run so no side always runs right after another's page-cache warm-up.
    const rotated = (run: number) => sides.map((_, i) => sides[(i + run - 1) % sides.length] as (typeof sides)[number]);

    for (let run = 1; run <= options.runs; run++) {
      for (const side of sides) {
        rmSync(destOf(side), { recursive: true, force: true });
        mkdirSync(destOf(side));
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
    // Every destination must equal the tree: a dry run that would transfer nothing.
    for (const side of sides) await verifyConverged(sshd, tree, destOf(side), side);
    return result;
  } finally {
    await sshd?.stop();
    if (options.keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

function describeMover(run: MoverRun): string {
  return `source ${seconds(run.sourceMs)} (rsync ${seconds(run.rsyncMs)}; destination ready after ${seconds(run.destinationReadyMs)}, end to end ${seconds(run.endToEndMs)})`;
}

/** The two key Secrets of one replication, as mounted-Secret-like directories. */
function writeKeys(parent: string): { source: string; destination: string } {
  const contents = rsyncSecretContents(generateSshKeyPair('bench-source'), generateSshKeyPair('bench-destination'));
  const dirs = { source: join(parent, 'source'), destination: join(parent, 'destination') };
  for (const role of ['source', 'destination'] as const) {
    mkdirSync(dirs[role], { recursive: true });
    for (const [name, value] of Object.entries(contents[role]))
      writeFileSync(join(dirs[role], name), value, { mode: 0o644 });
  }
  return dirs;
}

const RAW_FLAGS = ['-aAhHSxz', '--delete'];

async function rawSync(sshd: PlainSshd, tree: Tree, dest: string): Promise<RawRun> {
  const sampler = new MemorySampler();
  sampler.track('server', sshd.proc.pid, true);
  const proc = start(
    'rsync',
    [...RAW_FLAGS, '-e', `ssh -F ${sshd.clientConfig}`, `${tree.root}/`, `127.0.0.1:${dest}/`],
    {
      env: podEnv({ LANG: 'C' }),
    },
  );
  sampler.track('client', proc.pid);
  const code = await proc.exited;
  sampler.stop();
  if (code !== 0) throw new Error(`raw rsync exited with ${code}:\n${proc.output}`);
  return {
    ms: proc.wallMs,
    clientTreePeakRss: sampler.treePeak.get('client') ?? 0,
    serverTreePeakRss: sampler.treePeak.get('server') ?? 0,
  };
}

/** Starts one entrypoint as a process. */
type Launcher = (name: 'source' | 'destination', env: Record<string, string>) => Proc;

function tsxLauncher(): Launcher {
  return (name, env) =>
    start(process.execPath, ['--import', TSX_LOADER, join(REPO_ROOT, 'src/movers/rsync', `${name}.ts`)], {
      cwd: REPO_ROOT,
      env: podEnv(env),
    });
}

/**
 * Plain JavaScript, as the image runs dist/: the three entrypoints (source, destination and the
 * per-connection session the destination's sshd runs) bundled side by side by the image's own
 * build (bundleMovers, src/cli/bundle.ts), so the destination finds its sibling session.mjs as
 * in the image, and each is started as bin/scribe starts it there.
 */
async function compiledLauncher(outdir: string): Promise<Launcher> {
  await bundleMovers(outdir, ['rsync']);
  return (name, env) => start(process.execPath, [join(outdir, 'rsync', `${name}.mjs`)], { env: podEnv(env) });
}

async function moverSync(
  entrypoint: Launcher,
  keys: { source: string; destination: string },
  runDir: string,
  tree: Tree,
  dest: string,
): Promise<MoverRun> {
  const port = await freePort();
  const sampler = new MemorySampler();
  const destination = entrypoint('destination', {
    SCRIBE_DATA_DIR: dest,
    SCRIBE_KEYS_DIR: keys.destination,
    SCRIBE_LISTEN_ADDRESS: '127.0.0.1',
    SCRIBE_LISTEN_PORT: String(port),
    SCRIBE_TIMEOUT_SECONDS: '3600',
    SCRIBE_RUN_DIR: runDir,
  });
  sampler.track('destination', destination.pid);
  try {
    await destination.waitFor(/ready on port/, 60_000);
    const readyAt = performance.now();
    const source = entrypoint('source', {
      SCRIBE_DESTINATION_ADDRESS: '127.0.0.1',
      SCRIBE_DESTINATION_PORT: String(port),
      SCRIBE_DATA_DIR: tree.root,
      SCRIBE_KEYS_DIR: keys.source,
      SCRIBE_RUN_DIR: runDir,
      SCRIBE_RETRY_INITIAL_DELAY_SECONDS: '0.2',
      SCRIBE_RETRY_DEADLINE_SECONDS: '30',
    });
    sampler.track('source', source.pid);
    // The entrypoints' own high-water marks are read until they exit; sample often near the end.
    const [sourceCode, destinationCode] = await Promise.all([source.exited, destination.exited]);
    sampler.stop();
    if (sourceCode !== 0 || destinationCode !== 0)
      throw new Error(
        `mover failed: source ${sourceCode}, destination ${destinationCode}\nsource:\n${source.output.slice(-4000)}\ndestination:\n${destination.output.slice(-4000)}`,
      );
    const rsyncSeconds = /rsync finished in ([\d.]+)s/.exec(source.output)?.[1];
    return {
      sourceMs: source.wallMs,
      rsyncMs: rsyncSeconds === undefined ? Number.NaN : Number(rsyncSeconds) * 1000,
      destinationReadyMs: readyAt - destination.startedAt,
      endToEndMs: Math.max(source.endedAt, destination.endedAt) - destination.startedAt,
      sourcePeakRss: sampler.ownPeak.get('source') ?? 0,
      destinationPeakRss: sampler.ownPeak.get('destination') ?? 0,
      sourceTreePeakRss: sampler.treePeak.get('source') ?? 0,
      destinationTreePeakRss: sampler.treePeak.get('destination') ?? 0,
    };
  } finally {
    sampler.stop();
    destination.killTree();
  }
}

async function verifyConverged(sshd: PlainSshd, tree: Tree, dest: string, what: string): Promise<void> {
  const proc = start(
    'rsync',
    [
      ...RAW_FLAGS,
      '--dry-run',
      '--itemize-changes',
      '--exclude=/lost+found',
      '-e',
      `ssh -F ${sshd.clientConfig}`,
      `${tree.root}/`,
      `127.0.0.1:${dest}/`,
    ],
    { env: { ...process.env, LANG: 'C' } },
  );
  const code = await proc.exited;
  // Directory timestamps may differ by a tick (".d..t......"); any file-level change is a failure.
  const pending = proc.output.split('\n').filter((line) => /^[<>ch*]/.test(line) && !/^\.d/.test(line));
  if (code !== 0 || pending.length > 0)
    throw new Error(`${what} destination differs from the tree:\n${pending.slice(0, 20).join('\n')}${proc.output}`);
}

/** The figures as Markdown: parameters, a table per phase, and the ratios. */
export function formatRsyncResult(result: RsyncBenchResult): string {
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
  lines.push('');
  const rows: string[][] = [];
  const ratios: Record<string, number> = {};
  for (const phase of ['full', 'incremental'] as const) {
    const raw = result.raw[phase].map((r) => r.ms);
    rows.push([phase, 'raw rsync', seconds(median(raw)), all(raw)]);
    for (const [variant, runs] of Object.entries(result.mover)) {
      const of = (pick: (run: MoverRun) => number) => runs[phase].map(pick);
      const source = of((r) => r.sourceMs);
      const endToEnd = of((r) => r.endToEndMs);
      ratios[`${phase} (${variant})`] = median(source) / median(raw);
      rows.push([phase, `mover ${variant}: source entrypoint`, seconds(median(source)), all(source)]);
      rows.push([
        phase,
        `mover ${variant}: rsync inside the source`,
        seconds(median(of((r) => r.rsyncMs))),
        all(of((r) => r.rsyncMs)),
      ]);
      rows.push([phase, `mover ${variant}: end to end`, seconds(median(endToEnd)), all(endToEnd)]);
      rows.push([
        phase,
        `mover ${variant}: destination start (until listening)`,
        seconds(median(of((r) => r.destinationReadyMs))),
        all(of((r) => r.destinationReadyMs)),
      ]);
      rows.push([phase, `**ratio ${variant} source / raw**`, `**${ratio(median(source) / median(raw))}**`, '']);
      rows.push([phase, `ratio ${variant} end to end / raw`, ratio(median(endToEnd) / median(raw)), '']);
    }
  }
  lines.push(markdownTable(['phase', 'what', 'median', `all runs (s)`], rows));
  lines.push('');
  const peak = (values: number[]) => mib(Math.max(0, ...values));
  const raws = [...result.raw.full, ...result.raw.incremental];
  const memoryRows: string[][] = [];
  for (const [variant, runs] of Object.entries(result.mover)) {
    const movers = [...runs.full, ...runs.incremental];
    memoryRows.push(
      [`${variant}: source entrypoint (node) VmHWM`, peak(movers.map((m) => m.sourcePeakRss))],
      [`${variant}: destination entrypoint (node) VmHWM`, peak(movers.map((m) => m.destinationPeakRss))],
      [`${variant}: source tree (node + rsync + ssh)`, peak(movers.map((m) => m.sourceTreePeakRss))],
      [
        `${variant}: destination tree (node + sshd + session node + rrsync + rsync)`,
        peak(movers.map((m) => m.destinationTreePeakRss)),
      ],
    );
  }
  memoryRows.push(
    ['raw: client tree (rsync + ssh)', peak(raws.map((r) => r.clientTreePeakRss))],
    ['raw: server side (sshd session + rsync)', peak(raws.map((r) => r.serverTreePeakRss))],
  );
  lines.push(markdownTable(['peak RSS (max over all runs; trees summed, sampled every 100 ms)', 'value'], memoryRows));
  lines.push('');
  const verdicts = Object.entries(ratios).map(
    ([what, value]) => `${what} ${ratio(value)} ${value <= 1.1 ? 'met' : 'missed'}`,
  );
  lines.push(`Goal ≤ 1.10× (source entrypoint / raw rsync, medians): ${verdicts.join('; ')}.`);
  return lines.join('\n');
}

/** Parses the command line of `npm run bench:rsync`. */
export function parseRsyncArgs(args: string[]): RsyncBenchOptions {
  const { values } = parseArgs({ args, options: TREE_FLAGS });
  return { ...RSYNC_DEFAULTS, ...treeOptionsFrom(values, RSYNC_DEFAULTS) };
}

if (isMain(import.meta.url)) {
  const options = parseRsyncArgs(process.argv.slice(2));
  runRsyncBench(options).then(
    (result) => {
      process.stdout.write(`\n${formatRsyncResult(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
