/**
 * The rsync mover against raw rsync over ssh, in the same run on the same generated tree.
 *
 *   npm run bench:rsync -- [--size-mib N] [--files N] [--runs N] [--unchanged-runs N] [--seed N] [--variant tsx,compiled] [--keep]
 *
 * Raw: `rsync <the mover's transfer options> -e 'ssh -F <config>' TREE/ 127.0.0.1:DEST/` against a
 * plain sshd of our own on 127.0.0.1 (started once; no forced command): the options are the
 * mover's (rawTransferFlags), without its logging. Mover: the destination
 * entrypoint (src/movers/rsync/destination.ts: sshd, forced command, the push, handshake) started
 * and waited for until it listens, then the source entrypoint (source.ts) pushing the tree to it;
 * both real processes, through tsx as bin/scribe runs them from a checkout and compiled to plain
 * JavaScript (an esbuild bundle) as the image runs them. Each is timed full
 * (empty destination) and incremental (after ~1% of the files changed and a few deleted and
 * added), `--runs` times, then `--unchanged-runs` (5) times with nothing changed (the fixed cost
 * per sync), interleaved so that load on the machine hits both alike. Every process runs with a
 * pod's environment (podEnv), and both sshd's sessions log in as in a container
 * (scaffold/pod-login.ts: this machine's root .bashrc is masked by the stock one).
 *
 * Figures: wall time of raw rsync; of the source entrypoint (spawn to exit, which includes the
 * handshake), the comparable figure; end to end (destination spawn to both exited: + sshd start
 * and the destination's final `sync`); peak RSS of the entrypoint processes and of each whole
 * process tree (sampled every 100 ms). Ratio = source entrypoint / raw, per median.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSshKeyPair, rsyncSecretContents } from '../src/movers/rsync/keys.js';
import { rsyncArgs } from '../src/movers/rsync/ssh-client.js';
import { runStandalone, type Benchmark } from './scaffold/benchmark.js';
import { isMain, markdownTable, median, positiveNumber, ratio, seconds } from './scaffold/common.js';
import { measureStartup, moverLaunchers, type Launcher } from './scaffold/entrypoints.js';
import * as moverBench from './scaffold/mover-bench.js';
import type { MoverBenchResult, Phase, Side, TreeBenchOptions, Variant } from './scaffold/mover-bench.js';
import { podLogin, type PodLogin } from './scaffold/pod-login.js';
import { timesRow } from './scaffold/mover-runs.js';
import { MemorySampler } from './scaffold/proc.js';
import { freePort } from '../src/local/processes.js';
import { podEnv, start } from './scaffold/processes.js';
import { startPlainSshd, type PlainSshd } from './scaffold/sshd.js';
import type { Tree } from './scaffold/tree.js';

/** Settings of one rsync benchmark run. */
export type RsyncBenchOptions = TreeBenchOptions;

/** The shared defaults, and 5 runs on the unchanged tree: the mover's fixed cost per sync. */
export const RSYNC_DEFAULTS: RsyncBenchOptions = { ...moverBench.TREE_DEFAULTS, unchangedRuns: 5 };

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

/**
 * What a sync's fixed cost is made of, each timed alone in the same run (ms, every repetition):
 * one ssh connection and session running `true` against the plain sshd (as a container logs in,
 * and as this machine's user does), rrsync's start (a Python script, which the source's own push
 * no longer starts: the destination runs rsync directly, src/movers/rsync/direct-push.ts), and each variant's
 * source entrypoint from spawn to its configuration error (node and module loading).
 */
export interface FixedCostProbes {
  sshSession: number[];
  sshSessionHostLogin?: number[];
  rrsyncStart: number[];
  entrypointStart: Partial<Record<Variant, number[]>>;
}

/** Everything the benchmark measured. */
export type RsyncBenchResult = MoverBenchResult<RawRun, MoverRun> & {
  probes: FixedCostProbes;
  /** How sshd's sessions logged in (pod-login.ts). */
  login: string;
};

/** Repetitions of each probe. */
const PROBE_RUNS = 5;

/** Runs the benchmark and returns its figures. */
export async function runRsyncBench(options: RsyncBenchOptions): Promise<RsyncBenchResult> {
  const probes: FixedCostProbes = { sshSession: [], rrsyncStart: [], entrypointStart: {} };
  let login = '';
  const result = await moverBench.runMoverBench<RawRun, MoverRun>(
    'rsync',
    options,
    async ({ work, tree, log, onStop }) => {
      const keys = writeKeys(join(work, 'keys'));
      const runDir = join(work, 'run');
      mkdirSync(runDir);
      const pod = podLogin(work);
      login = pod.description;
      log(pod.description);
      const sshd = await startPlainSshd(join(work, 'sshd'), pod);
      onStop(() => sshd.stop());
      log(`plain sshd listening on 127.0.0.1:${sshd.port}`);
      const launchers = await moverLaunchers('rsync', options.variants, join(work, 'compiled'), pod);
      await probeFixedCosts(probes, { work, pod, sshd, launchers, variants: options.variants, log, onStop });
      const destOf = (side: Side) => join(work, side === 'raw' ? 'raw-dest' : `mover-dest-${side}`);
      return {
        freshDestination: (side) => {
          rmSync(destOf(side), { recursive: true, force: true });
          mkdirSync(destOf(side));
        },
        raw: () => rawRsync(sshd, tree.root, destOf('raw'), rawTransferFlags()),
        mover: (variant) => moverSync(launchers[variant], keys, runDir, tree, destOf(variant)),
        describeRaw: (run) => `rsync ${seconds(run.ms)}`,
        describeMover,
        // Every destination must equal the tree: a dry run that would transfer nothing.
        verify: async (sides) => {
          for (const side of sides) await verifyConverged(sshd, tree, destOf(side), side);
        },
      };
    },
  );
  return { ...result, probes, login };
}

/** Spawn to exit of `command args` with a pod's environment, `PROBE_RUNS` times; throws unless `ok(code, output)`. */
async function timeRuns(
  command: string,
  args: string[],
  ok: (code: number, output: string) => boolean,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < PROBE_RUNS; i++) {
    const proc = start(command, args, { env: podEnv({ LANG: 'C' }) });
    const code = await proc.exited;
    if (!ok(code, proc.output)) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${proc.output}`);
    times.push(proc.wallMs);
  }
  return times;
}

/** Times the parts of a sync's fixed cost alone (FixedCostProbes), before the runs. */
async function probeFixedCosts(
  probes: FixedCostProbes,
  context: {
    work: string;
    pod: PodLogin;
    sshd: PlainSshd;
    launchers: Record<Variant, Launcher>;
    variants: readonly Variant[];
    log: (line: string) => void;
    onStop: (stop: () => Promise<void>) => void;
  },
): Promise<void> {
  const { sshd, log } = context;
  const session = (server: PlainSshd) =>
    timeRuns('ssh', ['-F', server.clientConfig, '127.0.0.1', 'true'], (code) => code === 0);
  probes.sshSession = await session(sshd);
  log(`one ssh connection and session (\`ssh true\`), as a container logs in: ${seconds(median(probes.sshSession))}`);
  if (context.pod.prefix.length > 0) {
    // The same against a plain sshd whose sessions read this machine's own start-up files.
    const host = await startPlainSshd(join(context.work, 'sshd-host-login'));
    try {
      probes.sshSessionHostLogin = await session(host);
    } finally {
      await host.stop();
    }
    log(`the same, logging in as this machine's user does: ${seconds(median(probes.sshSessionHostLogin))}`);
  }
  // Without SSH_ORIGINAL_COMMAND rrsync stops after its start, saying it was not run by sshd.
  probes.rrsyncStart = await timeRuns(
    'rrsync',
    ['-wo', context.work],
    (code, output) => code !== 0 && /rrsync/i.test(output),
  );
  log(
    `rrsync's start (python3; not on the source's own push since the direct push): ${seconds(median(probes.rrsyncStart))}`,
  );
  for (const variant of context.variants)
    probes.entrypointStart[variant] = await measureStartup(context.launchers[variant], {}, variant, log);
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

/** The seed's flags, which the check at the end compares with. */
const RAW_FLAGS = ['-aAhHSxz', '--delete'];

/**
 * Raw rsync's options: the mover's transfer options (ssh-client.ts rsyncArgs: -X with its
 * filters, --numeric-ids, --exclude=/lost+found, the nanosecond --modify-window) for the user the
 * benchmark runs as, without what only the mover's log needs (--itemize-changes, --info), so that
 * raw and mover copy alike and the difference is the mover's own cost.
 */
export function rawTransferFlags(): string[] {
  const args = rsyncArgs({
    sshCommand: 'ssh',
    dataDir: '/',
    address: '127.0.0.1',
    subPath: '.',
    preserveXattrs: true,
    asRoot: process.getuid?.() === 0,
  });
  return args.slice(0, args.indexOf('-e')).filter((arg) => arg !== '--itemize-changes' && !arg.startsWith('--info='));
}

/**
 * Raw rsync of `root` into `dest` over ssh to the plain sshd, with a pod's environment; `flags`
 * the seed's unless given (this benchmark gives rawTransferFlags).
 */
export async function rawRsync(
  sshd: PlainSshd,
  root: string,
  dest: string,
  flags: readonly string[] = RAW_FLAGS,
): Promise<RawRun> {
  const sampler = new MemorySampler();
  sampler.track('server', sshd.proc.pid, true);
  const proc = start('rsync', [...flags, '-e', `ssh -F ${sshd.clientConfig}`, `${root}/`, `127.0.0.1:${dest}/`], {
    env: podEnv({ LANG: 'C' }),
  });
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
  const lines = [...moverBench.describeTree(result), `ssh logins: ${result.login}.`, ''];
  const rows: string[][] = [];
  const ratios: Record<string, number> = {};
  const phases: Phase[] = [...moverBench.PHASES, ...(result.raw.unchanged.length > 0 ? (['unchanged'] as const) : [])];
  for (const phase of phases) {
    const raw = result.raw[phase].map((r) => r.ms);
    rows.push(timesRow(phase, 'raw rsync', raw));
    for (const [variant, runs] of Object.entries(result.mover)) {
      const of = (pick: (run: MoverRun) => number) => runs[phase].map(pick);
      const source = of((r) => r.sourceMs);
      const endToEnd = of((r) => r.endToEndMs);
      if (phase !== 'unchanged') ratios[`${phase} (${variant})`] = median(source) / median(raw);
      rows.push(
        timesRow(phase, `mover ${variant}: source entrypoint`, source),
        timesRow(
          phase,
          `mover ${variant}: rsync inside the source`,
          of((r) => r.rsyncMs),
        ),
        timesRow(phase, `mover ${variant}: end to end`, endToEnd),
        timesRow(
          phase,
          `mover ${variant}: destination start (until listening)`,
          of((r) => r.destinationReadyMs),
        ),
      );
      rows.push([phase, `**ratio ${variant} source / raw**`, `**${ratio(median(source) / median(raw))}**`, '']);
      rows.push([phase, `ratio ${variant} end to end / raw`, ratio(median(endToEnd) / median(raw)), '']);
    }
  }
  lines.push(markdownTable(['phase', 'what', 'median', `all runs (s)`], rows));
  lines.push('');
  const peak = moverBench.peakMiB;
  const raws = moverBench.bothPhases(result.raw);
  const memoryRows: string[][] = [];
  for (const [variant, runs] of Object.entries(result.mover)) {
    const movers = moverBench.bothPhases(runs);
    memoryRows.push(
      [`${variant}: source entrypoint (node) VmHWM`, peak(movers.map((m) => m.sourcePeakRss))],
      [`${variant}: destination entrypoint (node) VmHWM`, peak(movers.map((m) => m.destinationPeakRss))],
      [`${variant}: source tree (node + rsync + ssh)`, peak(movers.map((m) => m.sourceTreePeakRss))],
      [
        `${variant}: destination tree (node + sshd + session node + rsync)`,
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
  lines.push(moverBench.goalLine(1.1, 'source entrypoint / raw rsync, medians', ratios));
  if (result.raw.unchanged.length > 0) lines.push('', ...fixedCostLines(result));
  return lines.join('\n');
}

/** Goal of issue 24: the mover's fixed cost per sync over raw rsync, on an unchanged tree. */
const FIXED_COST_GOAL_MS = 100;

/**
 * The mover's fixed cost per sync: on the unchanged tree, the source entrypoint's median minus
 * raw rsync's (and the median of each run's difference, the two sides run back to back), against
 * issue 24's goal; then what that cost is made of, each part timed alone in the same run.
 */
function fixedCostLines(result: RsyncBenchResult): string[] {
  const raw = result.raw.unchanged.map((r) => r.ms);
  const lines = [
    `Fixed cost per sync (unchanged tree, ${raw.length} runs of each side; raw rsync median ${seconds(median(raw))}):`,
    '',
  ];
  const rows: string[][] = [];
  for (const [variant, runs] of Object.entries(result.mover)) {
    const source = runs.unchanged.map((r) => r.sourceMs);
    const overhead = median(source) - median(raw);
    const paired = median(source.map((ms, i) => ms - (raw[i] ?? Number.NaN)));
    rows.push([
      variant,
      seconds(median(source)),
      `**${seconds(overhead)}**`,
      seconds(paired),
      `${(median(source) / median(raw)).toFixed(2)}×`,
      overhead <= FIXED_COST_GOAL_MS ? 'met' : 'missed',
    ]);
  }
  lines.push(
    markdownTable(
      [
        'variant',
        'source entrypoint, median',
        'mover − raw rsync (medians)',
        'median of each run’s mover − raw',
        'ratio',
        `goal ≤ ${seconds(FIXED_COST_GOAL_MS)}`,
      ],
      rows,
    ),
    '',
  );
  const p = result.probes;
  const probeRows: string[][] = [
    [
      'one ssh connection and session running `true`, as a container logs in',
      seconds(median(p.sshSession)),
      moverBench.allRuns(p.sshSession),
    ],
  ];
  if (p.sshSessionHostLogin)
    probeRows.push([
      'the same, logging in as this machine’s user (its own ~/.bashrc)',
      seconds(median(p.sshSessionHostLogin)),
      moverBench.allRuns(p.sshSessionHostLogin),
    ]);
  probeRows.push([
    'rrsync’s start (python3): other clients’ pushes only (the source’s own push runs rsync directly)',
    seconds(median(p.rrsyncStart)),
    moverBench.allRuns(p.rrsyncStart),
  ]);
  for (const [variant, times] of Object.entries(p.entrypointStart))
    probeRows.push([
      `${variant} source entrypoint: node start and module loading`,
      seconds(median(times)),
      moverBench.allRuns(times),
    ]);
  lines.push(markdownTable(['part of the fixed cost, timed alone', 'median', 'all runs (s)'], probeRows));
  return lines;
}

/** Parses the command line of `npm run bench:rsync`. */
export function parseRsyncArgs(args: string[]): RsyncBenchOptions {
  const { values } = parseArgs({
    args,
    options: { ...moverBench.TREE_FLAGS, 'unchanged-runs': { type: 'string' } },
  });
  return {
    ...RSYNC_DEFAULTS,
    ...moverBench.treeOptionsFrom(values, RSYNC_DEFAULTS),
    unchangedRuns: Math.round(
      positiveNumber('--unchanged-runs', values['unchanged-runs'], RSYNC_DEFAULTS.unchangedRuns),
    ),
  };
}

/** `npm run bench:rsync`, and its part of `npm run bench`. */
export const RSYNC_BENCHMARK: Benchmark<RsyncBenchOptions> = moverBench.treeBenchmark({
  name: 'rsync',
  title: 'rsync mover vs raw rsync',
  parse: parseRsyncArgs,
  run: async (options) => formatRsyncResult(await runRsyncBench(options)),
  needs: {},
  smoke: (options) => ({ ...options, sizeMiB: 20, files: 200, runs: 1, unchangedRuns: 2 }),
  command: (o) =>
    `npm run bench:rsync -- --size-mib ${o.sizeMiB} --files ${o.files} --runs ${o.runs} --unchanged-runs ${o.unchangedRuns}`,
});

if (isMain(import.meta.url)) runStandalone(RSYNC_BENCHMARK, process.argv.slice(2));
