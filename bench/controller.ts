/**
 * The controller at scale, against a real API server.
 *
 *   npm run bench:controller -- [--crs N] [--idle-seconds S] [--paced N] [--paced-rate R] [--soak-cycles N]
 *                               [--runtime compiled|tsx] [--cpu-prof] [--apiserver-prof] [--heap-snapshot]
 *                               [--mover-seconds S]
 *
 * A real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler on
 * loopback; src/local/control-plane.ts) with Scribe's CRDs, and Scribe's Controller with every
 * mover (MOVERS) in a process of its own (bench/support/operator-process.ts), so that its RSS and
 * CPU are the operator's alone. No node runs pods: **mover Jobs are completed through the API**
 * (their status set to Complete as the Job controller would once a pod exited 0), the moment the
 * benchmark's informer sees them. The operator authenticates as its own ServiceAccount, and a
 * FlowSchema matching only it lets the API server count its requests apart from everyone else's
 * (apiserver_flowcontrol_dispatched_requests_total{flow_schema="scribe-bench-operator"}).
 *
 * N/2 ReplicationSources (rsync, copyMethod None, each with its own PVC) and N/2
 * ReplicationDestinations (rsync, copyMethod None, capacity 1Gi), all with manual triggers, in
 * up to 10 namespaces, created at once (32 requests in flight). Then:
 *   1. time until every CR reports Reconciled=True, and until every first sync completed;
 *   2. the operator idle: RSS/heap (before and after a full GC), CPU over --idle-seconds (300: the issue's five minutes),
 *      API requests in that window;
 *   3. one new spec.trigger.manual on every CR at once: trigger-to-Job latency per CR (the
 *      patch sent → the Job's ADDED watch event arriving here; also from the CR's MODIFIED
 *      event), p50/p95/p99, time until all completed, and the operator's API requests per
 *      completed cycle;
 *   4. --paced (200) CRs triggered once more, one at a time at --paced-rate (10) per second:
 *      trigger-to-Job latency when triggers do not arrive a thousand at once;
 *   5. the operator's memory after those rounds; then more rounds on every CR until --soak-cycles
 *      (10,000) cycles have completed in all, and the heap after a full GC once more.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { loadKubeConfig } from '../src/kube/config.js';
import { ResourceInformer } from '../src/kube/informer.js';
import { kubeRequest } from '../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../src/kube/resources.js';
import { startControlPlane } from '../src/local/control-plane.js';
import { bundleOperator } from '../src/cli/bundle.js';
import { installCrds } from '../src/local/crds.js';
import { generateSshKeyPair, rsyncSecretContents } from '../src/movers/rsync/keys.js';
import {
  isMain,
  limiter,
  mapLimit,
  markdownTable,
  mib,
  percentile,
  positiveNumber,
  REPO_ROOT,
  seconds,
  sleep,
  TSX_LOADER,
} from './support/common.js';
import {
  completeJob,
  diffCounts,
  operatorIdentity,
  requestCounts,
  type JobStatus,
  type RequestCounts,
} from './support/cluster.js';
import { captureApiServerProfile } from './support/apiserver-profile.js';
import { installFloorCrds, measureFloor, type FloorResult, type FloorVariant } from './support/floor.js';
import { cpuBetween, readCpu } from './support/process-cpu.js';

/** Settings of one controller benchmark run. */
export interface ControllerBenchOptions {
  crs: number;
  idleSeconds: number;
  /** compiled: the operator bundled to plain JavaScript (as the image runs dist/); tsx: through tsx. */
  runtime: 'compiled' | 'tsx';
  cpuProf: boolean;
  /** Also take a CPU profile of the API server over the burst's first APISERVER_PROFILE_SECONDS. */
  apiserverProf: boolean;
  heapSnapshot: boolean;
  /** Triggers of the paced round (after the burst): this many CRs, one every 1/pacedRate s. */
  paced: number;
  pacedRate: number;
  /** Cycles completed in all before the last heap reading (more rounds on every CR until then). */
  soakCycles: number;
  /** How long a mover "runs": a Job is completed this long after the benchmark sees it (0: at once). */
  moverSeconds: number;
  log: (line: string) => void;
}

export const CONTROLLER_DEFAULTS: ControllerBenchOptions = {
  crs: 1000,
  idleSeconds: 300,
  runtime: 'compiled',
  cpuProf: false,
  apiserverProf: false,
  heapSnapshot: false,
  paced: 200,
  pacedRate: 10,
  soakCycles: 10_000,
  moverSeconds: 0,
  log: (line) => process.stdout.write(`${line}\n`),
};

/** Memory of the operator process, bytes. */
export interface MemoryFigures {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** Everything the benchmark measured. */
export interface ControllerBenchResult {
  crs: number;
  moverSeconds: number;
  sources: number;
  destinations: number;
  namespaces: number;
  runtime: string;
  applyMs: number;
  allReconciledMs: number;
  firstSyncAllCompleteMs: number;
  startupMemory: MemoryFigures;
  idleMemory: MemoryFigures;
  /** At the end of the idle window, before the forced GC. */
  idleEndMemory: MemoryFigures;
  /** Highest RSS read from /proc during the idle window. */
  idleMaxRss: number;
  idleMemoryAfterGc: MemoryFigures;
  idle: { seconds: number; cpuUserMs: number; cpuSystemMs: number; operatorRequests: number; allRequests: number };
  idleOtherRequests: Array<[string, number]>;
  trigger: {
    latenciesMs: number[];
    fromWatchMs: number[];
    sendMs: number;
    allCompleteMs: number;
    operatorRequests: number;
    allRequests: number;
    byVerbResource: Array<[string, number]>;
    secondsByVerbResource: Array<[string, number]>;
    jobsCompletedByBenchmark: number;
    operatorCpuMs: number;
    reconciles: number;
    /** From the first trigger sent until every burst Job was seen. */
    burstMs: number;
    /** CPU ms by process over burstMs, largest first. */
    burstCpu: Array<[string, number]>;
  };
  /** Trigger-to-Job latencies when triggers arrive one at a time at a steady rate. */
  paced: { count: number; rate: number; latenciesMs: number[] };
  /** The same burst handled by a minimal controller (bench/support/floor.ts), per variant: the machine's floors. */
  floors: Record<FloorVariant, FloorResult>;
  /** After the soak rounds: cycles completed in all, their time, memory after a full GC, and after idling again (no forced GC). */
  soak: { cycles: number; rounds: number; ms: number; memoryAfterGc: MemoryFigures; idleAgainMemory: MemoryFigures };
  /** Operator CPU from the first create until every first sync completed. */
  applyOperatorCpuMs: number;
  afterRoundsMemoryAfterGc: MemoryFigures;
  reconciles: { ok: number; failed: number; lastError: string };
  artifacts: string[];
}

const API = 'scribe.backube/v1alpha1';
type Cr = KubernetesObject & {
  status?: {
    conditions?: Array<{ type: string; status: string }>;
    lastManualSync?: string;
    lastSyncTime?: string;
    state?: string;
  };
};

/** The operator child process, driven over IPC. */
class Operator {
  private nextId = 1;
  private readonly pending = new Map<number, (value: Record<string, unknown>) => void>();
  results = { ok: 0, failed: 0, lastError: '' };
  readonly started: Promise<Record<string, unknown>>;

  constructor(readonly child: ChildProcess) {
    let markStarted: (value: Record<string, unknown>) => void = () => {};
    this.started = new Promise((resolve, reject) => {
      markStarted = resolve;
      child.once('exit', (code) => reject(new Error(`operator exited with ${code} before it started`)));
    });
    child.on('message', (raw: unknown) => {
      const message = raw as Record<string, unknown> & { id?: number; op?: string };
      if (message.op === 'started') markStarted(message);
      else if (message.op === 'results') this.results = message as unknown as typeof this.results;
      else if (message.id !== undefined) {
        this.pending.get(message.id)?.(message);
        this.pending.delete(message.id);
      }
    });
  }

  call(op: string, extra: object = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ id, op, ...extra });
    });
  }

  async memory(gc = false): Promise<MemoryFigures> {
    const answer = await this.call(gc ? 'gc' : 'usage');
    const memory = answer.memory as NodeJS.MemoryUsage;
    return { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external };
  }

  async cpu(): Promise<NodeJS.CpuUsage> {
    return (await this.call('usage')).cpu as NodeJS.CpuUsage;
  }
}

/** Bundles the operator process as the image's dist/operator.mjs is bundled (src/cli/bundle.ts). */
async function bundleBenchOperator(): Promise<string> {
  const outdir = join(REPO_ROOT, 'node_modules', '.cache', 'scribe-bench');
  mkdirSync(outdir, { recursive: true });
  return bundleOperator(join(outdir, 'operator-process.mjs'), join(REPO_ROOT, 'bench/support/operator-process.ts'));
}

/** Runs the benchmark and returns its figures. */
export async function runControllerBench(options: ControllerBenchOptions): Promise<ControllerBenchResult> {
  const log = options.log;
  const work = mkdtempSync(join(tmpdir(), 'scribe-bench-controller-'));
  const artifacts: string[] = [];
  log('starting the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)');
  const controlPlane = await startControlPlane({
    controllers: true,
    profiling: options.apiserverProf,
    log: (line) => log(`  ${line}`),
  });
  let operator: Operator | undefined;
  const informers: ResourceInformer<Cr>[] = [];
  try {
    const kc = loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath });
    await installCrds(kc);
    await installFloorCrds(kc);
    const operatorKubeconfig = join(work, 'operator.kubeconfig');
    const caPem = readFileSync(join(controlPlane.dir, 'pki', 'apiserver.crt'));
    await operatorIdentity(kc, controlPlane.server, caPem, operatorKubeconfig);
    const counts = () => requestCounts(controlPlane.server, controlPlane.adminToken);

    // The benchmark's own informers: CRs and Scribe's Jobs, with arrival times of their events.
    const sources = Math.ceil(options.crs / 2);
    const destinations = Math.floor(options.crs / 2);
    const namespaces = Math.max(1, Math.min(10, Math.ceil(options.crs / 100)));
    const crKeys: string[] = [];
    const reconciledAt = new Map<string, number>();
    const syncedAt = new Map<string, { token: string; at: number }>();
    const crModifiedAt = new Map<string, number>();
    const triggerSentAt = new Map<string, number>();
    const jobSeenAt = new Map<string, number>();
    // The paced round: its trigger times, and its Jobs (a Job of the burst round does not count).
    const pacedSentAt = new Map<string, number>();
    const pacedJobAt = new Map<string, number>();
    const burstJobUid = new Map<string, string>();
    let phase: 'first' | 'second' | 'paced' | 'soak' = 'first';
    let jobsCompleted = 0;

    const onCr = (cr: Cr) => {
      const key = `${cr.kind}/${cr.metadata?.namespace}/${cr.metadata?.name}`;
      const now = performance.now();
      if (phase === 'second' && !crModifiedAt.has(key) && triggerSentAt.has(key)) crModifiedAt.set(key, now);
      if (!reconciledAt.has(key) && cr.status?.conditions?.some((c) => c.type === 'Reconciled' && c.status === 'True'))
        reconciledAt.set(key, now);
      const token = cr.status?.lastManualSync;
      if (token && cr.status?.state === 'idle' && syncedAt.get(key)?.token !== token)
        syncedAt.set(key, { token, at: now });
    };
    const completing = new Set<string>();
    const runCompletion = limiter(16);
    const onJob = (job: KubernetesObject & { status?: JobStatus }) => {
      const now = performance.now();
      const owner = job.metadata?.ownerReferences?.find((ref) => ref.controller);
      if (!owner) return;
      const key = `${owner.kind}/${job.metadata?.namespace}/${owner.name}`;
      const jobKey = `${job.metadata?.namespace}/${job.metadata?.name}/${job.metadata?.uid}`;
      if (phase === 'second' && triggerSentAt.has(key) && !jobSeenAt.has(key)) {
        jobSeenAt.set(key, now);
        burstJobUid.set(key, job.metadata?.uid ?? '');
      }
      if (
        phase === 'paced' &&
        pacedSentAt.has(key) &&
        !pacedJobAt.has(key) &&
        job.metadata?.uid !== burstJobUid.get(key) &&
        !job.metadata?.deletionTimestamp
      )
        pacedJobAt.set(key, now);
      const finished = job.status?.conditions?.some(
        (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
      );
      if (finished || completing.has(jobKey) || job.metadata?.deletionTimestamp) return;
      completing.add(jobKey);
      const complete = () =>
        runCompletion(() =>
          completeJob(kc, job.metadata?.namespace ?? '', job.metadata?.name ?? '', job.status).then(
            () => jobsCompleted++,
            (error: unknown) => log(`  completing Job ${jobKey} failed: ${String(error)}`),
          ),
        );
      // A mover that runs for --mover-seconds: its completion does not compete with the triggers of a burst.
      if (options.moverSeconds > 0) setTimeout(complete, options.moverSeconds * 1000);
      else complete();
    };
    const crInformers = (['ReplicationSource', 'ReplicationDestination'] as const).map((kind) => {
      const informer = new ResourceInformer<Cr>(kc, RESOURCES[kind]);
      informer.events$.subscribe((event) => {
        if ('object' in event && event.type !== 'deleted') onCr(event.object);
      });
      return informer;
    });
    informers.push(...crInformers);
    const jobs = new ResourceInformer<Cr>(kc, RESOURCES.Job, { labelSelector: 'app.kubernetes.io/created-by=scribe' });
    jobs.events$.subscribe((event) => {
      if ('object' in event && event.type !== 'deleted') onJob(event.object);
    });
    informers.push(jobs);
    await Promise.all(informers.map((informer) => informer.start()));

    // Namespaces, a key Secret per namespace for the sources, a PVC per source.
    log(`creating ${namespaces} namespaces, ${sources} PVCs and key Secrets`);
    const nsOf = (i: number) => `bench-${i % namespaces}`;
    for (let n = 0; n < namespaces; n++) {
      await kubeRequest(kc, {
        method: 'POST',
        path: collectionPath(RESOURCES.Namespace),
        body: { metadata: { name: `bench-${n}` } },
      });
      const keys = rsyncSecretContents(generateSshKeyPair('bench-source'), generateSshKeyPair('bench-destination'));
      await kubeRequest(kc, {
        method: 'POST',
        path: collectionPath(RESOURCES.Secret, `bench-${n}`),
        body: { metadata: { name: 'bench-keys' }, stringData: keys.source },
      });
    }
    await mapLimit(
      Array.from({ length: sources }, (_, i) => i),
      32,
      (i) =>
        kubeRequest(kc, {
          method: 'POST',
          path: collectionPath(RESOURCES.PersistentVolumeClaim, nsOf(i)),
          body: {
            metadata: { name: `data-${i}` },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        }),
    );

    // The operator, in its own process, once the informers above are running.
    const script =
      options.runtime === 'compiled'
        ? await bundleBenchOperator()
        : join(REPO_ROOT, 'bench/support/operator-process.ts');
    const execArgv = ['--expose-gc', ...(options.runtime === 'tsx' ? ['--import', TSX_LOADER] : [])];
    if (options.cpuProf) {
      const dir = join(process.cwd(), 'bench-profiles');
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
      artifacts.push(`CPU profile: ${dir}/*.cpuprofile (written when the operator exits)`);
    }
    const operatorLog = join(work, 'operator.log');
    const logFd = openSync(operatorLog, 'a');
    operator = new Operator(
      fork(script, [], {
        cwd: REPO_ROOT,
        execArgv,
        env: { ...process.env, KUBECONFIG: operatorKubeconfig },
        stdio: ['ignore', logFd, logFd, 'ipc'],
      }),
    );
    await operator.started;
    const startupMemory = await operator.memory();
    log(`operator started (${options.runtime}); RSS ${mib(startupMemory.rss)}`);

    // 1. Apply every CR at once.
    const crs: Array<{
      kind: 'ReplicationSource' | 'ReplicationDestination';
      namespace: string;
      name: string;
      body: object;
    }> = [];
    for (let i = 0; i < Math.max(sources, destinations); i++) {
      if (i < destinations)
        crs.push({
          kind: 'ReplicationDestination',
          namespace: nsOf(i),
          name: `dest-${i}`,
          body: {
            apiVersion: API,
            kind: 'ReplicationDestination',
            metadata: { name: `dest-${i}` },
            spec: {
              trigger: { manual: 'first' },
              rsync: { copyMethod: 'None', capacity: '1Gi', accessModes: ['ReadWriteOnce'] },
            },
          },
        });
      if (i < sources)
        crs.push({
          kind: 'ReplicationSource',
          namespace: nsOf(i),
          name: `src-${i}`,
          body: {
            apiVersion: API,
            kind: 'ReplicationSource',
            metadata: { name: `src-${i}` },
            spec: {
              sourcePVC: `data-${i}`,
              trigger: { manual: 'first' },
              rsync: {
                copyMethod: 'None',
                address: `scribe-rsync-dest-dest-${i}.${nsOf(i)}.svc.cluster.local`,
                sshKeys: 'bench-keys',
              },
            },
          },
        });
    }
    for (const cr of crs) crKeys.push(`${cr.kind}/${cr.namespace}/${cr.name}`);
    log(`applying ${crs.length} CRs (${sources} ReplicationSources, ${destinations} ReplicationDestinations) at once`);
    const applyCpu = await operator.cpu();
    const applyStart = performance.now();
    await mapLimit(crs, 32, (cr) =>
      kubeRequest(kc, { method: 'POST', path: collectionPath(RESOURCES[cr.kind], cr.namespace), body: cr.body }),
    );
    const applyMs = performance.now() - applyStart;
    log(`  applied in ${seconds(applyMs)}`);
    const waitAll = async (what: string, done: () => boolean, timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs;
      let lastReport = performance.now();
      while (!done()) {
        if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          log(
            `  … waiting for ${what}: reconciled ${reconciledAt.size}, synced ${[...syncedAt.values()].length}, jobs completed ${jobsCompleted}, reconciles ${operator?.results.ok}`,
          );
        }
        await sleep(20);
      }
    };
    await waitAll('all CRs Reconciled', () => crKeys.every((key) => reconciledAt.has(key)), 600_000);
    const allReconciledMs = Math.max(...crKeys.map((key) => reconciledAt.get(key) as number)) - applyStart;
    log(`  all ${crKeys.length} Reconciled ${seconds(allReconciledMs)} after the first create`);
    await waitAll('every first sync', () => crKeys.every((key) => syncedAt.get(key)?.token === 'first'), 900_000);
    const firstSyncAllCompleteMs = Math.max(...crKeys.map((key) => syncedAt.get(key)?.at as number)) - applyStart;
    const applyOperatorCpuMs = cpuMs(applyCpu, await operator.cpu());
    log(
      `  every first sync completed ${seconds(firstSyncAllCompleteMs)} after the first create (Jobs completed through the API)`,
    );

    // 2. Idle.
    await operator.call('idle');
    await sleep(5000);
    await operator.call('idle');
    const idleMemory = await operator.memory();
    if (options.heapSnapshot) {
      const path = join(process.cwd(), `bench-operator-idle-${Date.now()}.heapsnapshot`);
      await operator.call('heapSnapshot', { path });
      artifacts.push(`heap snapshot at idle: ${path}`);
    }
    log(`operator idle with ${crKeys.length} CRs: RSS ${mib(idleMemory.rss)}, heap ${mib(idleMemory.heapUsed)}`);
    log(`measuring CPU and API requests over ${options.idleSeconds} s of idleness`);
    const idleCountsBefore = await counts();
    const cpuBefore = await operator.cpu();
    // RSS read from /proc once a second: asking the operator itself would wake it.
    let idleMaxRss = 0;
    const idleEnd = performance.now() + options.idleSeconds * 1000;
    while (performance.now() < idleEnd) {
      idleMaxRss = Math.max(idleMaxRss, procRss(operator.child.pid));
      await sleep(Math.min(1000, Math.max(0, idleEnd - performance.now())));
    }
    const cpuAfter = await operator.cpu();
    const idleEndMemory = await operator.memory();
    const idleMemoryAfterGc = await operator.memory(true);
    log(
      `  RSS at the end: ${mib(idleEndMemory.rss)} (max over the window ${mib(idleMaxRss)}; after a full GC ${mib(idleMemoryAfterGc.rss)})`,
    );
    const idleCountsAfter = await counts();
    const idle = {
      seconds: options.idleSeconds,
      cpuUserMs: (cpuAfter.user - cpuBefore.user) / 1000,
      cpuSystemMs: (cpuAfter.system - cpuBefore.system) / 1000,
      // The benchmark's own two reads of /metrics are not the operator's.
      operatorRequests: idleCountsAfter.operator - idleCountsBefore.operator,
      allRequests: idleCountsAfter.all - idleCountsBefore.all,
    };
    log(
      `  CPU ${(idle.cpuUserMs + idle.cpuSystemMs).toFixed(0)} ms (user ${idle.cpuUserMs.toFixed(0)}, system ${idle.cpuSystemMs.toFixed(0)}); operator API requests ${idle.operatorRequests}`,
    );

    // 3. One new manual trigger on every CR.
    const reconcilesBefore = operator.results.ok;
    const countsBefore: RequestCounts = await counts();
    phase = 'second';
    const jobsBefore = jobsCompleted;
    const triggerCpu = await operator.cpu();
    const cpuLabels = new Map([
      [process.pid, 'benchmark (node)'],
      [operator.child.pid ?? -1, 'operator (node)'],
    ]);
    const burstCpuBefore = readCpu(cpuLabels);
    const apiserverProfile = options.apiserverProf
      ? startApiServerProfile(kc, join(process.cwd(), 'bench-profiles'), artifacts, log)
      : Promise.resolve();
    const triggerStart = performance.now();
    log(`patching spec.trigger.manual on all ${crs.length} CRs (32 requests in flight)`);
    await mapLimit(crs, 32, (cr) => {
      triggerSentAt.set(`${cr.kind}/${cr.namespace}/${cr.name}`, performance.now());
      return kubeRequest(kc, {
        method: 'PATCH',
        path: objectPath(RESOURCES[cr.kind], cr.namespace, cr.name),
        patchType: 'merge',
        body: { spec: { trigger: { manual: 'second' } } },
      });
    });
    const sendMs = performance.now() - triggerStart;
    await waitAll('every burst Job', () => crKeys.every((key) => jobSeenAt.has(key)), 900_000);
    // Who used the two cores from the first trigger until the last Job appeared.
    const burstCpu = cpuBetween(burstCpuBefore, readCpu(cpuLabels));
    const burstMs = performance.now() - triggerStart;
    await apiserverProfile;
    await waitAll('every second sync', () => crKeys.every((key) => syncedAt.get(key)?.token === 'second'), 900_000);
    const allCompleteMs = Math.max(...crKeys.map((key) => syncedAt.get(key)?.at as number)) - triggerStart;
    const triggerCpuMs = cpuMs(triggerCpu, await operator.cpu());
    const reconcilesInRound = operator.results.ok - reconcilesBefore;
    await operator.call('idle');
    await sleep(2000);
    await operator.call('idle');
    const countsAfter = await counts();
    const latenciesMs = crKeys.map((key) => (jobSeenAt.get(key) ?? Number.NaN) - (triggerSentAt.get(key) as number));
    const fromWatchMs = crKeys.map((key) => (jobSeenAt.get(key) ?? Number.NaN) - (crModifiedAt.get(key) ?? Number.NaN));
    const trigger = {
      latenciesMs,
      fromWatchMs,
      sendMs,
      allCompleteMs,
      operatorRequests: countsAfter.operator - countsBefore.operator,
      allRequests: countsAfter.all - countsBefore.all,
      byVerbResource: diffCounts(countsBefore, countsAfter),
      secondsByVerbResource: diffCounts(countsBefore, countsAfter, 'secondsByVerbResource'),
      jobsCompletedByBenchmark: jobsCompleted - jobsBefore,
      operatorCpuMs: triggerCpuMs,
      reconciles: reconcilesInRound,
      burstMs,
      burstCpu,
    };
    log(
      `  trigger-to-Job p50 ${seconds(percentile(latenciesMs, 50))}, p95 ${seconds(percentile(latenciesMs, 95))}, p99 ${seconds(percentile(latenciesMs, 99))}; all complete after ${seconds(allCompleteMs)}`,
    );
    log(`  CPU by process until the last burst Job (${seconds(burstMs)}): ${burstCpuLine(burstCpu)}`);
    log(
      `  operator API requests ${trigger.operatorRequests} for ${crKeys.length} cycles (${operator.results.ok - reconcilesBefore} reconciles)`,
    );
    // 4. Triggers one at a time at a steady rate, as a busy cluster sends them: latency without a
    //    thousand triggers queued in front of each one.
    const pacedCrs = crs.slice(0, Math.min(options.paced, crs.length));
    phase = 'paced';
    log(`patching spec.trigger.manual on ${pacedCrs.length} CRs, one every ${seconds(1000 / options.pacedRate)}`);
    const pacedStart = performance.now();
    for (const [i, cr] of pacedCrs.entries()) {
      await sleep(Math.max(0, pacedStart + (i * 1000) / options.pacedRate - performance.now()));
      const key = `${cr.kind}/${cr.namespace}/${cr.name}`;
      pacedSentAt.set(key, performance.now());
      await kubeRequest(kc, {
        method: 'PATCH',
        path: objectPath(RESOURCES[cr.kind], cr.namespace, cr.name),
        patchType: 'merge',
        body: { spec: { trigger: { manual: 'paced' } } },
      });
    }
    const pacedKeys = pacedCrs.map((cr) => `${cr.kind}/${cr.namespace}/${cr.name}`);
    await waitAll('every paced sync', () => pacedKeys.every((key) => syncedAt.get(key)?.token === 'paced'), 900_000);
    const paced = {
      count: pacedKeys.length,
      rate: options.pacedRate,
      latenciesMs: pacedKeys.map((key) => (pacedJobAt.get(key) ?? Number.NaN) - (pacedSentAt.get(key) as number)),
    };
    log(
      `  paced trigger-to-Job p50 ${seconds(percentile(paced.latenciesMs, 50))}, p99 ${seconds(percentile(paced.latenciesMs, 99))}`,
    );
    // 4b. The floors: the same burst through the same API server, on copies of the CRs as they are
    //     now, handled by a controller that does the least (the operator ignores the copies).
    const crObjects = crInformers.flatMap((informer) => informer.list());
    const floors = {} as Record<FloorVariant, FloorResult>;
    for (const variant of FLOOR_VARIANTS) {
      log(`the floor (${FLOOR_LABELS[variant]}): the same burst of ${crObjects.length} changes`);
      floors[variant] = await measureFloor(kc, crObjects, variant);
      const latencies = floors[variant].latenciesMs;
      log(`  trigger-to-Job p50 ${seconds(percentile(latencies, 50))}, p99 ${seconds(percentile(latencies, 99))}`);
    }
    const afterRoundsMemoryAfterGc = await operator.memory(true);

    // 5. Soak: more rounds on every CR until --soak-cycles cycles have completed in all, then the
    //    heap after a full GC again (compared with the one after the first 1,000 cycles).
    phase = 'soak';
    let soakCycles = crKeys.length * 2 + pacedKeys.length;
    let soakRounds = 0;
    const soakStart = performance.now();
    while (soakCycles < options.soakCycles) {
      soakRounds++;
      const token = `soak-${soakRounds}`;
      await mapLimit(crs, 32, (cr) =>
        kubeRequest(kc, {
          method: 'PATCH',
          path: objectPath(RESOURCES[cr.kind], cr.namespace, cr.name),
          patchType: 'merge',
          body: { spec: { trigger: { manual: token } } },
        }),
      );
      await waitAll(
        `soak round ${soakRounds}`,
        () => crKeys.every((key) => syncedAt.get(key)?.token === token),
        900_000,
      );
      soakCycles += crKeys.length;
    }
    await operator.call('idle');
    if (options.heapSnapshot) {
      const path = join(process.cwd(), `bench-operator-soak-${Date.now()}.heapsnapshot`);
      await operator.call('heapSnapshot', { path });
      artifacts.push(`heap snapshot after the soak: ${path}`);
    }
    const soakMs = performance.now() - soakStart;
    // Does the memory of the rounds come back once the operator is idle again? The idle window
    // is the measurement: V8 gives pages back on its own timers once nothing runs (before the
    // full GC below, which a running operator never gets).
    log(
      `  soak: ${soakCycles} cycles in all (${soakRounds} more round(s) in ${seconds(soakMs)}); idle again for ${options.idleSeconds} s`,
    );
    await sleep(options.idleSeconds * 1000);
    const idleAgainMemory = await operator.memory();
    const soak = {
      cycles: soakCycles,
      rounds: soakRounds,
      ms: soakMs,
      memoryAfterGc: await operator.memory(true),
      idleAgainMemory,
    };
    log(
      `  RSS after ${options.idleSeconds} s idle again ${mib(idleAgainMemory.rss)}; heap after a full GC ${mib(soak.memoryAfterGc.heapUsed)}`,
    );
    return {
      crs: crKeys.length,
      moverSeconds: options.moverSeconds,
      sources,
      destinations,
      namespaces,
      runtime: options.runtime,
      applyMs,
      allReconciledMs,
      firstSyncAllCompleteMs,
      applyOperatorCpuMs,
      startupMemory,
      idleMemory,
      idleEndMemory,
      idleMaxRss,
      idleMemoryAfterGc,
      idle,
      idleOtherRequests: diffCounts(idleCountsBefore, idleCountsAfter),
      trigger,
      paced,
      floors,
      soak,
      afterRoundsMemoryAfterGc,
      reconciles: operator.results,
      artifacts,
    };
  } finally {
    if (operator) {
      const exited = new Promise((resolve) => operator?.child.once('exit', resolve));
      if (operator.child.connected) await Promise.race([operator.call('stop'), sleep(10_000)]);
      // It exits by itself after stopping (writing its CPU profile, if asked); SIGTERM only if it hangs.
      await Promise.race([exited, sleep(15_000)]);
      if (operator.child.exitCode === null && operator.child.signalCode === null) {
        operator.child.kill('SIGTERM');
        await Promise.race([exited, sleep(5_000)]);
      }
    }
    await Promise.all(informers.map((informer) => informer.stop()));
    await controlPlane.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A process's resident set from /proc, bytes (0 once it is gone). */
function procRss(pid: number | undefined): number {
  const status = pid === undefined ? '' : readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** The floors, lowest first (bench/support/floor.ts). */
const FLOOR_VARIANTS: readonly FloorVariant[] = ['suspended', 'running', 'status-first'];
const FLOOR_LABELS: Record<FloorVariant, string> = {
  suspended: 'POSTs one suspended Job per change (no pod)',
  running: "POSTs one ordinary Job per change (a pod each, as for Scribe's)",
  'status-first': 'PATCHes the status, then POSTs one ordinary Job per change',
};

/** How long the API server is profiled for, from the burst's first trigger (the burst lasts 5–15 s here). */
const APISERVER_PROFILE_SECONDS = 10;

/** Starts the API server's profile of the burst; a failure is logged, not thrown (it is a diagnostic). */
function startApiServerProfile(
  kc: KubeConfig,
  dir: string,
  artifacts: string[],
  log: (line: string) => void,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `kube-apiserver-burst-${Date.now()}.pprof`);
  return captureApiServerProfile(kc, APISERVER_PROFILE_SECONDS, file).then(
    () => {
      artifacts.push(`API server CPU profile of the burst: ${file} (go tool pprof -top ${file})`);
    },
    (error: unknown) => log(`  the API server profile failed: ${String(error)}`),
  );
}

/** "name 1.234 s, …" for the processes of a CPU reading. */
const burstCpuLine = (cpu: ReadonlyArray<[string, number]>) =>
  cpu.map(([name, ms]) => `${name} ${seconds(ms)}`).join(', ') || 'none measured';

const cpuMs = (before: NodeJS.CpuUsage, after: NodeJS.CpuUsage) =>
  (after.user - before.user + after.system - before.system) / 1000;

const memoryCells = (m: MemoryFigures) => [mib(m.rss), mib(m.heapUsed), mib(m.heapTotal), mib(m.external)];

/** The figures as Markdown. */
export function formatControllerResult(r: ControllerBenchResult): string {
  const lines: string[] = [];
  const lat = r.trigger.latenciesMs.filter(Number.isFinite);
  const watch = r.trigger.fromWatchMs.filter(Number.isFinite);
  const paced = r.paced.latenciesMs.filter(Number.isFinite);
  const cycles = r.crs;
  lines.push(
    `${r.crs} CRs (${r.sources} ReplicationSources + ${r.destinations} ReplicationDestinations, rsync, copyMethod None, manual triggers) in ${r.namespaces} namespaces; operator runtime: ${r.runtime}; **Jobs completed through the API** (no node runs mover pods), ${r.moverSeconds > 0 ? `${r.moverSeconds} s after they appear (\`--mover-seconds\`)` : 'as soon as they appear'}.`,
  );
  lines.push('');
  const goal = (ok: boolean) => (ok ? 'met' : '**missed**');
  const idleCpuMs = r.idle.cpuUserMs + r.idle.cpuSystemMs;
  lines.push(
    markdownTable(
      ['figure', 'value', 'goal'],
      [
        ['create all CRs (32 in flight)', seconds(r.applyMs), ''],
        [
          'all Reconciled=True, from the first create',
          seconds(r.allReconciledMs),
          `≤ 30 s: ${goal(r.allReconciledMs <= 30_000)}`,
        ],
        ['every first sync complete, from the first create', seconds(r.firstSyncAllCompleteMs), ''],
        [
          'operator CPU from the first create to every first sync complete',
          `${seconds(r.applyOperatorCpuMs)} (${(r.applyOperatorCpuMs / r.crs).toFixed(1)} ms per CR)`,
          '',
        ],
        ['trigger-to-Job p50 (patch sent → Job ADDED event)', seconds(percentile(lat, 50)), ''],
        ['trigger-to-Job p95', seconds(percentile(lat, 95)), ''],
        ['trigger-to-Job p99', seconds(percentile(lat, 99)), `< 1 s: ${goal(percentile(lat, 99) < 1000)}`],
        ['trigger-to-Job max', seconds(Math.max(...lat)), ''],
        ...FLOOR_VARIANTS.flatMap((variant) => {
          const floor = r.floors[variant].latenciesMs;
          return [
            [
              `floor: the same burst on copies of the CRs, handled by a minimal controller that ${FLOOR_LABELS[variant]}, p50 / p99`,
              `${seconds(percentile(floor, 50))} / ${seconds(percentile(floor, 99))}`,
              `p99 < 1 s: ${goal(percentile(floor, 99) < 1000)}`,
            ],
            [`burst p99 / that floor's p99`, `${(percentile(lat, 99) / percentile(floor, 99)).toFixed(2)}×`, ''],
          ];
        }),
        [
          `paced: ${r.paced.count} triggers at ${r.paced.rate}/s, trigger-to-Job p50 / p99`,
          `${seconds(percentile(paced, 50))} / ${seconds(percentile(paced, 99))}`,
          `p99 < 1 s: ${goal(percentile(paced, 99) < 1000)}`,
        ],
        [
          'CR MODIFIED event → Job ADDED event p50 / p99',
          `${seconds(percentile(watch, 50))} / ${seconds(percentile(watch, 99))}`,
          '',
        ],
        ['sending all trigger patches', seconds(r.trigger.sendMs), ''],
        ['all second syncs complete, from the first trigger', seconds(r.trigger.allCompleteMs), ''],
        [
          'operator API requests per completed cycle',
          (r.trigger.operatorRequests / cycles).toFixed(2),
          `(${r.trigger.operatorRequests} requests / ${cycles} cycles)`,
        ],
        [
          'operator CPU during the trigger round',
          `${seconds(r.trigger.operatorCpuMs)} (${(r.trigger.operatorCpuMs / cycles).toFixed(1)} ms per cycle, ${r.trigger.reconciles} reconciles)`,
          '',
        ],
        [
          'all API server requests per cycle (operator + controller-manager + this benchmark)',
          (r.trigger.allRequests / cycles).toFixed(2),
          '',
        ],
        ['operator RSS idle, 5 s after the last sync', mib(r.idleMemory.rss), ''],
        [
          `operator RSS idle, after ${r.idle.seconds} s idle`,
          mib(r.idleEndMemory.rss),
          `< 150 MiB: ${goal(r.idleEndMemory.rss < 150 * 1024 * 1024)}`,
        ],
        [`operator RSS idle, max over the ${r.idle.seconds} s`, mib(r.idleMaxRss), ''],
        [
          `operator RSS after the ${r.soak.cycles}-cycle soak, then ${r.idle.seconds} s idle`,
          mib(r.soak.idleAgainMemory.rss),
          `< 150 MiB: ${goal(r.soak.idleAgainMemory.rss < 150 * 1024 * 1024)}`,
        ],
        [
          `heap used after a full GC: after ${r.crs} cycles → after ${r.soak.cycles}`,
          `${mib(r.idleMemoryAfterGc.heapUsed)} → ${mib(r.soak.memoryAfterGc.heapUsed)}`,
          `no growth beyond noise (≤ 10%): ${goal(r.soak.memoryAfterGc.heapUsed <= r.idleMemoryAfterGc.heapUsed * 1.1)}`,
        ],
        ['operator RSS idle, then after a full GC', mib(r.idleMemoryAfterGc.rss), ''],
        [
          `operator CPU over ${r.idle.seconds} s idle`,
          `${idleCpuMs.toFixed(0)} ms (${((idleCpuMs / (r.idle.seconds * 1000)) * 100).toFixed(2)}% of a core)`,
          'no polling',
        ],
        [
          `operator API requests over ${r.idle.seconds} s idle`,
          String(r.idle.operatorRequests),
          `0: ${goal(r.idle.operatorRequests === 0)}`,
        ],
        [
          `all API server requests over ${r.idle.seconds} s idle (others: controller-manager, scheduler, /metrics reads)`,
          String(r.idle.allRequests),
          '',
        ],
        ['reconciles (ok / failed)', `${r.reconciles.ok} / ${r.reconciles.failed}`, ''],
      ],
    ),
  );
  lines.push('');
  lines.push(
    markdownTable(
      ['operator memory', 'RSS', 'heap used', 'heap total', 'external'],
      [
        ['started, no CRs', ...memoryCells(r.startupMemory)],
        [`idle, ${r.crs} CRs, 5 s after the last sync`, ...memoryCells(r.idleMemory)],
        [`idle, ${r.crs} CRs, after ${r.idle.seconds} s idle`, ...memoryCells(r.idleEndMemory)],
        [`idle, ${r.crs} CRs, after full GC`, ...memoryCells(r.idleMemoryAfterGc)],
        ['after the second and paced rounds, after full GC', ...memoryCells(r.afterRoundsMemoryAfterGc)],
        [`after ${r.soak.cycles} cycles in all, then ${r.idle.seconds} s idle`, ...memoryCells(r.soak.idleAgainMemory)],
        [`after ${r.soak.cycles} cycles in all, then after full GC`, ...memoryCells(r.soak.memoryAfterGc)],
      ],
    ),
  );
  lines.push('');
  lines.push(
    `API server requests during the trigger round, all clients, by verb and resource: ${r.trigger.byVerbResource
      .slice(0, 14)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ')}.`,
  );
  lines.push('');
  lines.push(
    `CPU by process from the first trigger until the last burst Job appeared (${seconds(r.trigger.burstMs)}, two cores: ${seconds(2 * r.trigger.burstMs)} of CPU at most): ${burstCpuLine(r.trigger.burstCpu)}.`,
  );
  lines.push('');
  lines.push(
    `API server time answering them (apiserver_request_duration_seconds_sum, watches left out; requests overlap, so this is not CPU): ${r.trigger.secondsByVerbResource
      .slice(0, 10)
      .map(([key, value]) => `${key} ${value.toFixed(1)} s`)
      .join(', ')}.`,
  );
  lines.push('');
  lines.push(
    `API server requests during the idle window, all clients (the operator's: ${r.idle.operatorRequests}): ${
      r.idleOtherRequests
        .slice(0, 10)
        .map(([key, value]) => `${key} ${value}`)
        .join(', ') || 'none'
    }.`,
  );
  for (const artifact of r.artifacts) lines.push(`- ${artifact}`);
  return lines.join('\n');
}

/** Parses the command line of `npm run bench:controller`. */
export function parseControllerArgs(args: string[]): ControllerBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      crs: { type: 'string' },
      'idle-seconds': { type: 'string' },
      runtime: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'apiserver-prof': { type: 'boolean', default: false },
      'heap-snapshot': { type: 'boolean', default: false },
      paced: { type: 'string' },
      'paced-rate': { type: 'string' },
      'soak-cycles': { type: 'string' },
      'mover-seconds': { type: 'string' },
    },
  });
  const runtime = values.runtime ?? CONTROLLER_DEFAULTS.runtime;
  if (runtime !== 'compiled' && runtime !== 'tsx') throw new Error('--runtime must be compiled or tsx');
  return {
    ...CONTROLLER_DEFAULTS,
    crs: Math.max(2, Math.round(positiveNumber('--crs', values.crs, CONTROLLER_DEFAULTS.crs))),
    idleSeconds: positiveNumber('--idle-seconds', values['idle-seconds'], CONTROLLER_DEFAULTS.idleSeconds),
    runtime,
    cpuProf: values['cpu-prof'] ?? false,
    apiserverProf: values['apiserver-prof'] ?? false,
    heapSnapshot: values['heap-snapshot'] ?? false,
    paced: Math.round(positiveNumber('--paced', values.paced, CONTROLLER_DEFAULTS.paced)),
    pacedRate: positiveNumber('--paced-rate', values['paced-rate'], CONTROLLER_DEFAULTS.pacedRate),
    soakCycles: Math.round(positiveNumber('--soak-cycles', values['soak-cycles'], CONTROLLER_DEFAULTS.soakCycles)),
    moverSeconds:
      values['mover-seconds'] === undefined ? 0 : positiveNumber('--mover-seconds', values['mover-seconds'], 0),
  };
}

if (isMain(import.meta.url)) {
  runControllerBench(parseControllerArgs(process.argv.slice(2))).then(
    (result) => {
      process.stdout.write(`\n${formatControllerResult(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
