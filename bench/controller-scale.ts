/**
 * The controller at 1,000 and 10,000 replications (issue 24), against a real API server.
 *
 *   npm run bench:controller-scale -- [--crs 1000,10000] [--idle-seconds 60] [--timeout-minutes 20]
 *                                     [--runtime compiled|tsx]
 *
 * For each count, a fresh control plane and the operator in a process of its own, as in
 * bench/controller.ts (its workload: N/2 ReplicationSources and N/2 ReplicationDestinations,
 * rsync, copyMethod None, manual triggers, one namespace per 100 CRs; Jobs completed through the
 * API the moment they appear). Figures, from the first create:
 *   - all CRs created; all Reconciled=True; every CR's first Job seen; every first sync completed;
 *   - the operator settled: RSS after --idle-seconds (60) of idleness, its CPU and its API requests
 *     (counted by the API server) over that window;
 *   - every 10 s while the CRs are worked through: how many are created, Reconciled, have their
 *     Job, are synced, and the CPU each process used in those 10 s with its RSS, all read from
 *     /proc the same way for every process (scaffold/proc.ts): where the time goes.
 * When a count does not finish within --timeout-minutes, it says how far it got and goes on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadKubeConfig } from '../src/kube/config.js';
import { startControlPlane } from '../src/local/control-plane.js';
import { installCrds } from '../src/local/crds.js';
import { Observer } from './controller/observe.js';
import { chartNodeOptions, startOperator, type Operator } from './controller/operator.js';
import type { MemoryFigures } from './controller/result.js';
import { diffCounts, operatorIdentity, requestCounts } from './controller/requests.js';
import { createAll, createPrerequisites, crKey, planWorkload } from './controller/workload.js';
import { runStandalone, type Benchmark } from './scaffold/benchmark.js';
import { isMain, markdownTable, mib, positiveNumber, seconds, sleep } from './scaffold/common.js';
import { cpuBetween, descendants, processTable, readCpu, readRss, type CpuReading } from './scaffold/proc.js';

/** Settings of one run. */
export interface ScaleBenchOptions {
  counts: number[];
  idleSeconds: number;
  timeoutMinutes: number;
  runtime: 'compiled' | 'tsx';
  log: (line: string) => void;
}

export const SCALE_DEFAULTS: ScaleBenchOptions = {
  counts: [1000, 10_000],
  idleSeconds: 60,
  timeoutMinutes: 20,
  runtime: 'compiled',
  log: (line) => process.stdout.write(`${line}\n`),
};

/** One 10-second progress sample: counts so far, and each process's CPU in the interval and RSS now. */
interface Progress {
  atMs: number;
  created: number;
  reconciled: number;
  firstJobs: number;
  synced: number;
  reconciles: number;
  cpuMs: Array<[string, number]>;
  rss: Map<string, number>;
  load: string;
}

/** A milestone: how many CRs reached it, and when the last of them did (from the first create). */
interface Milestone {
  count: number;
  ms: number;
}

/** One count's figures. */
export interface ScaleResult {
  crs: number;
  namespaces: number;
  finished: boolean;
  stoppedBecause?: string;
  startupRss: number;
  created: Milestone;
  reconciled: Milestone;
  firstJobs: Milestone;
  firstSyncs: Milestone;
  /** CPU by process from the first create until the last first sync (or the timeout). */
  workCpu: Array<[string, number]>;
  workMs: number;
  /**
   * The API server's requests over the same time, as it counted them (all clients): per verb and
   * resource, how many and the mean time it took to answer each, most time first.
   */
  apiRequests: Array<{ what: string; count: number; meanMs: number }>;
  progress: Progress[];
  idle?: {
    seconds: number;
    operatorCpuMs: number;
    operatorRequests: number;
    allRequests: number;
    rssStart: number;
    rssEnd: number;
    /** V8's heap at the end of the window (asked once the window is over), then after a full GC. */
    heapEnd: MemoryFigures;
    afterGc: MemoryFigures;
    rssByProcess: Map<string, number>;
    cpuByProcess: Array<[string, number]>;
  };
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ');

/** Runs one count on a fresh control plane. */
export async function runScale(crsWanted: number, options: ScaleBenchOptions): Promise<ScaleResult> {
  const log = options.log;
  const work = mkdtempSync(join(tmpdir(), 'scribe-bench-scale-'));
  log(`${crsWanted} CRs: starting the control plane (load average ${loadAverage()})`);
  const controlPlane = await startControlPlane({ controllers: true, log: (line) => log(`  ${line}`) });
  let operator: Operator | undefined;
  let observer: Observer | undefined;
  try {
    const kc = loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath });
    await installCrds(kc);
    const operatorKubeconfig = join(work, 'operator.kubeconfig');
    const caPem = readFileSync(join(controlPlane.dir, 'pki', 'apiserver.crt'));
    await operatorIdentity(kc, controlPlane.server, caPem, operatorKubeconfig);
    const counts = () => requestCounts(controlPlane.server, controlPlane.adminToken);
    const seen = new Observer(kc, 0, log);
    observer = seen;
    await seen.start();
    const workload = planWorkload(crsWanted);
    const keys = workload.crs.map(crKey);
    log(`  creating ${workload.namespaces} namespaces, ${workload.sources} PVCs and key Secrets`);
    await createPrerequisites(kc, workload);
    const op = await startOperator(
      { runtime: options.runtime, cpuProf: false },
      operatorKubeconfig,
      join(work, 'operator.log'),
      [],
    );
    operator = op;
    const startupRss = op.usage().rss;
    const labels = () => ownLabels(op.pid ?? -1);

    const countsAtStart = await counts();
    let created = 0;
    let createdAllAt = Number.NaN;
    const start = performance.now();
    const cpuAtStart = readCpu(labels());
    const creating = createAll(kc, workload.crs, () => created++).then(() => (createdAllAt = performance.now()));
    const progress: Progress[] = [];
    let lastCpu: CpuReading = cpuAtStart;
    const deadline = start + options.timeoutMinutes * 60_000;
    const allSynced = () => keys.every((key) => seen.syncedAt.get(key)?.token === 'first');
    let stoppedBecause: string | undefined;
    while (!(allSynced() && !Number.isNaN(createdAllAt))) {
      if (op.child.exitCode !== null) {
        stoppedBecause = `the operator exited (${op.child.exitCode})`;
        break;
      }
      if (performance.now() > deadline) {
        stoppedBecause = `not finished within ${options.timeoutMinutes} minutes`;
        break;
      }
      await sleep(200);
      if (performance.now() - (progress.at(-1)?.atMs ?? 0) - start < 10_000) continue;
      const cpu = readCpu(labels());
      const sample: Progress = {
        atMs: performance.now() - start,
        created,
        reconciled: seen.reconciledAt.size,
        firstJobs: seen.firstJobAt.size,
        synced: keys.filter((key) => seen.syncedAt.get(key)?.token === 'first').length,
        reconciles: op.results.ok,
        cpuMs: cpuBetween(lastCpu, cpu, 100).slice(0, 6),
        rss: readRss(labels()),
        load: loadAverage(),
      };
      lastCpu = cpu;
      progress.push(sample);
      log(`  ${progressLine(sample)}`);
    }
    const workMs = performance.now() - start;
    const workCpu = cpuBetween(cpuAtStart, readCpu(labels()), 100);
    const countsAtEnd = await counts();
    const requestCount = new Map(diffCounts(countsAtStart, countsAtEnd));
    const apiRequests = diffCounts(countsAtStart, countsAtEnd, 'secondsByVerbResource')
      .slice(0, 8)
      .map(([what, secondsSpent]) => {
        const count = requestCount.get(what) ?? 0;
        return { what, count, meanMs: count === 0 ? Number.NaN : (secondsSpent * 1000) / count };
      });
    await creating.catch((error: unknown) => log(`  creating failed: ${String(error)}`));
    const milestone = (times: Map<string, number>): Milestone => {
      const at = keys.map((key) => times.get(key)).filter((t): t is number => t !== undefined);
      return { count: at.length, ms: at.length === 0 ? Number.NaN : Math.max(...at) - start };
    };
    const synced = new Map(
      keys.flatMap((key) => {
        const s = seen.syncedAt.get(key);
        return s?.token === 'first' ? [[key, s.at] as const] : [];
      }),
    );
    const result: ScaleResult = {
      crs: keys.length,
      namespaces: workload.namespaces,
      finished: stoppedBecause === undefined,
      ...(stoppedBecause === undefined ? {} : { stoppedBecause }),
      startupRss,
      created: { count: created, ms: createdAllAt - start },
      reconciled: milestone(seen.reconciledAt),
      firstJobs: milestone(seen.firstJobAt),
      firstSyncs: milestone(synced),
      workCpu,
      workMs,
      apiRequests,
      progress,
    };
    log(
      `  ${result.finished ? 'finished' : `stopped: ${stoppedBecause}`}: created ${created}, Reconciled ${result.reconciled.count} (last ${seconds(result.reconciled.ms)}), first Jobs ${result.firstJobs.count} (last ${seconds(result.firstJobs.ms)}), first syncs ${result.firstSyncs.count} (last ${seconds(result.firstSyncs.ms)})`,
    );
    if (!result.finished) return result;

    // Settled: idle for --idle-seconds, its CPU and requests over the window, RSS at its end.
    await op.call('idle');
    await sleep(5000);
    await op.call('idle');
    const countsBefore = await counts();
    const cpuBefore = readCpu(labels());
    const rssStart = op.usage().rss;
    const opCpuBefore = op.usage().cpuMs;
    log(`  idle for ${options.idleSeconds} s (RSS ${mib(rssStart)}, load average ${loadAverage()})`);
    await sleep(options.idleSeconds * 1000);
    const opCpuAfter = op.usage().cpuMs;
    const rssEnd = op.usage().rss;
    const cpuByProcess = cpuBetween(cpuBefore, readCpu(labels()), 10).slice(0, 8);
    const rssByProcess = readRss(labels());
    const countsAfter = await counts();
    // Asked only now, so the window stays undisturbed: what of the settled RSS is V8's heap.
    const heapEnd = await op.memory();
    const afterGc = await op.memory(true);
    result.idle = {
      seconds: options.idleSeconds,
      operatorCpuMs: opCpuAfter - opCpuBefore,
      operatorRequests: countsAfter.operator - countsBefore.operator,
      allRequests: countsAfter.all - countsBefore.all,
      rssStart,
      rssEnd,
      heapEnd,
      afterGc,
      rssByProcess,
      cpuByProcess,
    };
    log(
      `  settled RSS ${mib(rssEnd)}; idle CPU ${result.idle.operatorCpuMs.toFixed(0)} ms, operator API requests ${result.idle.operatorRequests}`,
    );
    return result;
  } finally {
    await operator?.stop(sleep);
    await observer?.stop();
    await controlPlane.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Names for readCpu and readRss: this benchmark's own processes (the control plane it started, the
 * operator) by their names, every other process on the machine (other work sharing it, another
 * control plane among them) as one "other processes".
 */
function ownLabels(operatorPid: number): Map<number, string> {
  const table = processTable();
  const own = new Set(descendants(table, process.pid));
  const labels = new Map<number, string>();
  for (const pid of table.keys()) if (!own.has(pid)) labels.set(pid, 'other processes');
  labels.set(process.pid, 'benchmark (node)');
  labels.set(operatorPid, 'operator (node)');
  return labels;
}

/** The processes that matter on the control plane, for the RSS columns. */
const RSS_OF = ['operator (node)', 'kube-apiserver', 'etcd', 'kube-controller', 'benchmark (node)'];

function cpuLine(cpu: ReadonlyArray<[string, number]>): string {
  return cpu.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`).join(', ');
}

function rssLine(rss: ReadonlyMap<string, number>): string {
  return RSS_OF.filter((name) => rss.has(name))
    .map((name) => `${name} ${mib(rss.get(name) ?? 0)}`)
    .join(', ');
}

function progressLine(p: Progress): string {
  return `t+${seconds(p.atMs)}: created ${p.created}, Reconciled ${p.reconciled}, first Jobs ${p.firstJobs}, synced ${p.synced}, reconciles ${p.reconciles}; CPU in the last 10 s: ${cpuLine(p.cpuMs)}; RSS: ${rssLine(p.rss)}; load ${p.load}`;
}

/** All counts' figures as Markdown. */
export function formatScaleResults(results: readonly ScaleResult[]): string {
  const milestone = (m: Milestone, of: number) =>
    m.count === of ? seconds(m.ms) : `${m.count} of ${of} (last at ${seconds(m.ms)})`;
  const rows = results.map((r) => [
    String(r.crs),
    String(r.namespaces),
    milestone(r.created, r.crs),
    milestone(r.reconciled, r.crs),
    milestone(r.firstJobs, r.crs),
    milestone(r.firstSyncs, r.crs),
    mib(r.startupRss),
    r.idle ? mib(r.idle.rssEnd) : '—',
    r.idle ? `${r.idle.operatorCpuMs.toFixed(0)} ms` : '—',
    r.idle ? String(r.idle.operatorRequests) : '—',
  ]);
  const lines = [
    `The operator with the chart's Node options (helm/scribe/values.yaml, nodeOptions): ${chartNodeOptions().join(' ') || 'none'}.`,
    '',
    markdownTable(
      [
        'CRs',
        'namespaces',
        'all created',
        'all Reconciled',
        'all first Jobs',
        'all first syncs',
        'operator RSS at start',
        'settled RSS (after the idle window)',
        'operator CPU over the idle window',
        'operator API requests over the idle window',
      ],
      rows,
    ),
    '',
  ];
  const [small, large] = results;
  if (small?.finished && large?.finished && large.crs > small.crs) {
    const factor = large.crs / small.crs;
    const growth = (a: Milestone, b: Milestone) => `${(b.ms / a.ms / factor).toFixed(2)}× linear`;
    lines.push(
      `Growth from ${small.crs} to ${large.crs} CRs (${factor}× the CRs; ≤ 1.00× linear is the goal): all Reconciled ${growth(small.reconciled, large.reconciled)}, all first Jobs ${growth(small.firstJobs, large.firstJobs)}.`,
      '',
    );
  }
  for (const r of results) {
    lines.push(
      `${r.crs} CRs: ${r.finished ? 'finished' : `stopped: ${r.stoppedBecause}`} after ${seconds(r.workMs)}. CPU by process from the first create (read from /proc): ${cpuLine(r.workCpu)}.`,
    );
    lines.push(
      `${r.crs} CRs: the API server's requests over that time (all clients), most time first: ${r.apiRequests
        .map((q) => `${q.what} ${q.count} × ${q.meanMs.toFixed(0)} ms`)
        .join(', ')}.`,
    );
    if (r.idle)
      lines.push(
        `${r.crs} CRs idle for ${r.idle.seconds} s: operator RSS ${mib(r.idle.rssStart)} → ${mib(r.idle.rssEnd)} (V8 heap used ${mib(r.idle.heapEnd.heapUsed)} of ${mib(r.idle.heapEnd.heapTotal)}; after a full GC: RSS ${mib(r.idle.afterGc.rss)}, heap used ${mib(r.idle.afterGc.heapUsed)} of ${mib(r.idle.afterGc.heapTotal)}); all API requests ${r.idle.allRequests}; CPU by process: ${cpuLine(r.idle.cpuByProcess)}; RSS by process at the end: ${rssLine(r.idle.rssByProcess)}.`,
      );
    lines.push('', `Progress of ${r.crs} CRs every 10 s:`, '');
    lines.push(...r.progress.map((p) => `- ${progressLine(p)}`), '');
  }
  return lines.join('\n');
}

/** Parses the command line of `npm run bench:controller-scale`. */
export function parseScaleArgs(args: string[]): ScaleBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      crs: { type: 'string' },
      'idle-seconds': { type: 'string' },
      'timeout-minutes': { type: 'string' },
      runtime: { type: 'string' },
    },
  });
  const runtime = values.runtime ?? SCALE_DEFAULTS.runtime;
  if (runtime !== 'compiled' && runtime !== 'tsx') throw new Error('--runtime must be compiled or tsx');
  const counts =
    values.crs === undefined
      ? SCALE_DEFAULTS.counts
      : values.crs.split(',').map((c) => Math.max(2, Math.round(positiveNumber('--crs', c.trim(), 0))));
  return {
    ...SCALE_DEFAULTS,
    counts,
    idleSeconds: positiveNumber('--idle-seconds', values['idle-seconds'], SCALE_DEFAULTS.idleSeconds),
    timeoutMinutes: positiveNumber('--timeout-minutes', values['timeout-minutes'], SCALE_DEFAULTS.timeoutMinutes),
    runtime,
  };
}

/** `npm run bench:controller-scale`. */
export const CONTROLLER_SCALE_BENCHMARK: Benchmark<ScaleBenchOptions> = {
  name: 'controller-scale',
  title: 'controller at 1,000 and 10,000 replications',
  parse: parseScaleArgs,
  smoke: (options) => ({ ...options, counts: [20], idleSeconds: 2, timeoutMinutes: 3 }),
  command: (o) =>
    `npm run bench:controller-scale -- --crs ${o.counts.join(',')} --idle-seconds ${o.idleSeconds} --timeout-minutes ${o.timeoutMinutes}`,
  describe: (o) => `${o.counts.join(', ')} CRs`,
  run: async (options) => {
    const results: ScaleResult[] = [];
    for (const count of options.counts) results.push(await runScale(count, options));
    return formatScaleResults(results);
  },
  needs: { kubernetes: true },
};

if (isMain(import.meta.url)) runStandalone(CONTROLLER_SCALE_BENCHMARK, process.argv.slice(2));
