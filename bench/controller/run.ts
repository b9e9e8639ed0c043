/**
 * The controller benchmark's run, phase by phase (see bench/controller.ts for what each measures):
 * the control plane and the workload; every CR created; the operator idle; a burst of triggers;
 * a paced round; the floors; the soak. The pieces: workload.ts (the CRs), operator.ts (the
 * measured process), observe.ts (the benchmark's watches, Jobs completed through the API),
 * requests.ts (API requests counted by the API server), floor.ts (the minimal controllers),
 * report.ts (the figures as Markdown).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/config.js';
import { MOVER_POD_LABEL } from '../../src/movers/job.js';
import { startControlPlane } from '../../src/local/control-plane.js';
import { installCrds } from '../../src/local/crds.js';
import { mib, percentile, seconds, sleep } from '../scaffold/common.js';
import { cpuBetween, readCpu } from '../scaffold/proc.js';
import { captureApiServerProfile } from './apiserver-profile.js';
import {
  FLOOR_LABELS,
  FLOOR_VARIANTS,
  installFloorCrds,
  measureFloor,
  waitUntilGone,
  type FloorResult,
  type FloorVariant,
} from './floor.js';
import { Observer } from './observe.js';
import { startOperator, type Operator } from './operator.js';
import type { ControllerBenchOptions } from './options.js';
import { burstCpuLine } from './report.js';
import { diffCounts, operatorIdentity, requestCounts, type RequestCounts } from './requests.js';
import type { ControllerBenchResult } from './result.js';
import { createAll, createPrerequisites, crKey, planWorkload, trigger, triggerAll } from './workload.js';

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
  let observer: Observer | undefined;
  try {
    const kc = loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath });
    await installCrds(kc);
    await installFloorCrds(kc);
    const operatorKubeconfig = join(work, 'operator.kubeconfig');
    const caPem = readFileSync(join(controlPlane.dir, 'pki', 'apiserver.crt'));
    await operatorIdentity(kc, controlPlane.server, caPem, operatorKubeconfig);
    const counts = () => requestCounts(controlPlane.server, controlPlane.adminToken);

    // The benchmark's own informers: CRs and Scribe's Jobs, with arrival times of their events.
    const seen = new Observer(kc, options.moverSeconds, log);
    observer = seen;
    await seen.start();
    const workload = planWorkload(options.crs);
    const { crs, sources, destinations, namespaces } = workload;
    const crKeys = crs.map(crKey);
    log(`creating ${namespaces} namespaces, ${sources} PVCs and key Secrets`);
    await createPrerequisites(kc, workload);

    // The operator, in its own process, once the informers above are running.
    const op = await startOperator(options, operatorKubeconfig, join(work, 'operator.log'), artifacts);
    operator = op;
    const waitAll = (what: string, done: () => boolean, timeoutMs: number) =>
      seen.waitAll(what, done, timeoutMs, () => op.results.ok);
    const startupMemory = await op.memory();
    log(`operator started (${options.runtime}); RSS ${mib(startupMemory.rss)}`);

    // 1. Apply every CR at once.
    log(`applying ${crs.length} CRs (${sources} ReplicationSources, ${destinations} ReplicationDestinations) at once`);
    const applyCpu = op.usage().cpuMs;
    const applyStart = performance.now();
    await createAll(kc, crs);
    const applyMs = performance.now() - applyStart;
    log(`  applied in ${seconds(applyMs)}`);
    await waitAll('all CRs Reconciled', () => crKeys.every((key) => seen.reconciledAt.has(key)), 600_000);
    const allReconciledMs = Math.max(...crKeys.map((key) => seen.reconciledAt.get(key) as number)) - applyStart;
    log(`  all ${crKeys.length} Reconciled ${seconds(allReconciledMs)} after the first create`);
    await waitAll('every first sync', () => crKeys.every((key) => seen.syncedAt.get(key)?.token === 'first'), 900_000);
    const firstSyncAllCompleteMs = Math.max(...crKeys.map((key) => seen.syncedAt.get(key)?.at as number)) - applyStart;
    const applyOperatorCpuMs = op.usage().cpuMs - applyCpu;
    log(
      `  every first sync completed ${seconds(firstSyncAllCompleteMs)} after the first create (Jobs completed through the API)`,
    );

    // 2. Idle.
    await op.call('idle');
    await sleep(5000);
    await op.call('idle');
    const idleMemory = await op.memory();
    if (options.heapSnapshot) {
      const path = join(process.cwd(), `bench-operator-idle-${Date.now()}.heapsnapshot`);
      await op.call('heapSnapshot', { path });
      artifacts.push(`heap snapshot at idle: ${path}`);
    }
    log(`operator idle with ${crKeys.length} CRs: RSS ${mib(idleMemory.rss)}, heap ${mib(idleMemory.heapUsed)}`);
    log(`measuring CPU and API requests over ${options.idleSeconds} s of idleness`);
    const idleCountsBefore = await counts();
    // CPU and RSS from /proc, once a second: asking the operator itself would wake it.
    const cpuBefore = op.usage();
    let idleMaxRss = cpuBefore.rss;
    const idleEnd = performance.now() + options.idleSeconds * 1000;
    while (performance.now() < idleEnd) {
      idleMaxRss = Math.max(idleMaxRss, op.usage().rss);
      await sleep(Math.min(1000, Math.max(0, idleEnd - performance.now())));
    }
    const cpuAfter = op.usage();
    idleMaxRss = Math.max(idleMaxRss, cpuAfter.rss);
    const idleEndMemory = await op.memory();
    const idleMemoryAfterGc = await op.memory(true);
    log(
      `  RSS at the end: ${mib(idleEndMemory.rss)} (max over the window ${mib(idleMaxRss)}; after a full GC ${mib(idleMemoryAfterGc.rss)})`,
    );
    const idleCountsAfter = await counts();
    const idle = {
      seconds: options.idleSeconds,
      cpuUserMs: cpuAfter.userMs - cpuBefore.userMs,
      cpuSystemMs: cpuAfter.systemMs - cpuBefore.systemMs,
      // The benchmark's own two reads of /metrics are not the operator's.
      operatorRequests: idleCountsAfter.operator - idleCountsBefore.operator,
      allRequests: idleCountsAfter.all - idleCountsBefore.all,
    };
    log(
      `  CPU ${(idle.cpuUserMs + idle.cpuSystemMs).toFixed(0)} ms (user ${idle.cpuUserMs.toFixed(0)}, system ${idle.cpuSystemMs.toFixed(0)}); operator API requests ${idle.operatorRequests}`,
    );

    // 3. One new manual trigger on every CR.
    const reconcilesBefore = op.results.ok;
    const countsBefore: RequestCounts = await counts();
    seen.round = 'second';
    const jobsBefore = seen.jobsCompleted;
    const triggerCpu = op.usage().cpuMs;
    const cpuLabels = new Map([
      [process.pid, 'benchmark (node)'],
      [op.pid ?? -1, 'operator (node)'],
    ]);
    const burstCpuBefore = readCpu(cpuLabels);
    const apiserverProfile = options.apiserverProf
      ? startApiServerProfile(kc, join(process.cwd(), 'bench-profiles'), artifacts, log)
      : Promise.resolve();
    const triggerStart = performance.now();
    log(`patching spec.trigger.manual on all ${crs.length} CRs (32 requests in flight)`);
    await triggerAll(kc, crs, 'second', (cr) => seen.triggerSentAt.set(crKey(cr), performance.now()));
    const sendMs = performance.now() - triggerStart;
    await waitAll('every burst Job', () => crKeys.every((key) => seen.jobSeenAt.has(key)), 900_000);
    // Who used the two cores from the first trigger until the last Job appeared.
    const burstCpu = cpuBetween(burstCpuBefore, readCpu(cpuLabels));
    const burstMs = performance.now() - triggerStart;
    await apiserverProfile;
    await waitAll(
      'every second sync',
      () => crKeys.every((key) => seen.syncedAt.get(key)?.token === 'second'),
      900_000,
    );
    const allCompleteMs = Math.max(...crKeys.map((key) => seen.syncedAt.get(key)?.at as number)) - triggerStart;
    const triggerCpuMs = op.usage().cpuMs - triggerCpu;
    const reconcilesInRound = op.results.ok - reconcilesBefore;
    await op.call('idle');
    await sleep(2000);
    await op.call('idle');
    const countsAfter = await counts();
    const latenciesMs = seen.burstLatenciesMs(crKeys);
    const fromWatchMs = crKeys.map(
      (key) => (seen.jobSeenAt.get(key) ?? Number.NaN) - (seen.crModifiedAt.get(key) ?? Number.NaN),
    );
    const triggerRound = {
      latenciesMs,
      fromWatchMs,
      sendMs,
      allCompleteMs,
      operatorRequests: countsAfter.operator - countsBefore.operator,
      allRequests: countsAfter.all - countsBefore.all,
      byVerbResource: diffCounts(countsBefore, countsAfter),
      secondsByVerbResource: diffCounts(countsBefore, countsAfter, 'secondsByVerbResource'),
      jobsCompletedByBenchmark: seen.jobsCompleted - jobsBefore,
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
      `  operator API requests ${triggerRound.operatorRequests} for ${crKeys.length} cycles (${op.results.ok - reconcilesBefore} reconciles)`,
    );

    // 4. Triggers one at a time at a steady rate, as a busy cluster sends them: latency without a
    //    thousand triggers queued in front of each one.
    const pacedCrs = crs.slice(0, Math.min(options.paced, crs.length));
    seen.round = 'paced';
    log(`patching spec.trigger.manual on ${pacedCrs.length} CRs, one every ${seconds(1000 / options.pacedRate)}`);
    const pacedStart = performance.now();
    for (const [i, cr] of pacedCrs.entries()) {
      await sleep(Math.max(0, pacedStart + (i * 1000) / options.pacedRate - performance.now()));
      seen.pacedSentAt.set(crKey(cr), performance.now());
      await trigger(kc, cr, 'paced');
    }
    const pacedKeys = pacedCrs.map(crKey);
    await waitAll(
      'every paced sync',
      () => pacedKeys.every((key) => seen.syncedAt.get(key)?.token === 'paced'),
      900_000,
    );
    const paced = {
      count: pacedKeys.length,
      rate: options.pacedRate,
      latenciesMs: pacedKeys.map(
        (key) => (seen.pacedJobAt.get(key) ?? Number.NaN) - (seen.pacedSentAt.get(key) as number),
      ),
    };
    log(
      `  paced trigger-to-Job p50 ${seconds(percentile(paced.latenciesMs, 50))}, p99 ${seconds(percentile(paced.latenciesMs, 99))}`,
    );
    // 4b. The floors: the same burst through the same API server, on copies of the CRs as they are
    //     now, handled by a controller that does the least (the operator ignores the copies).
    const crObjects = seen.crs();
    const crNamespaces = [...new Set(crObjects.map((cr) => cr.metadata?.namespace ?? ''))];
    // Each floor's burst on an API server done with the last burst's pods, as each of Scribe's bursts is.
    const scribePodsGone = () => waitUntilGone(kc, crNamespaces, MOVER_POD_LABEL);
    await scribePodsGone();
    const floors = {} as Record<FloorVariant, FloorResult>;
    for (const variant of FLOOR_VARIANTS) {
      log(`the floor (${FLOOR_LABELS[variant]}): the same burst of ${crObjects.length} changes`);
      floors[variant] = await measureFloor(kc, crObjects, variant);
      const latencies = floors[variant].latenciesMs;
      log(`  trigger-to-Job p50 ${seconds(percentile(latencies, 50))}, p99 ${seconds(percentile(latencies, 99))}`);
    }
    // 4c. More bursts, each followed by the running floor's: one burst's ratio to its floor swings
    //     with whatever else the two cores do in those seconds; the median of the rounds is the figure.
    const burstRounds = [
      { p99Ms: percentile(latenciesMs, 99), floorP99Ms: percentile(floors.running.latenciesMs, 99) },
    ];
    for (let round = 2; round <= options.burstRounds; round++) {
      seen.startBurst();
      const token = `burst-${round}`;
      log(`burst round ${round} of ${options.burstRounds}: patching spec.trigger.manual on all ${crs.length} CRs`);
      await triggerAll(kc, crs, token, (cr) => seen.triggerSentAt.set(crKey(cr), performance.now()));
      await waitAll(`every Job of burst round ${round}`, () => crKeys.every((key) => seen.jobSeenAt.has(key)), 900_000);
      const burst = seen.burstLatenciesMs(crKeys);
      await waitAll(
        `every sync of burst round ${round}`,
        () => crKeys.every((key) => seen.syncedAt.get(key)?.token === token),
        900_000,
      );
      log(`  trigger-to-Job p99 ${seconds(percentile(burst, 99))}; the running floor's burst after it:`);
      await scribePodsGone();
      const floor = await measureFloor(kc, seen.crs(), 'running');
      const result = { p99Ms: percentile(burst, 99), floorP99Ms: percentile(floor.latenciesMs, 99) };
      burstRounds.push(result);
      log(`  floor p99 ${seconds(result.floorP99Ms)}: ${(result.p99Ms / result.floorP99Ms).toFixed(2)}× this round`);
    }
    const afterRoundsMemoryAfterGc = await op.memory(true);

    // 5. Soak: more rounds on every CR until --soak-cycles cycles have completed in all, then the
    //    heap after a full GC again (compared with the one after the first 1,000 cycles).
    seen.round = 'soak';
    let soakCycles = crKeys.length * (1 + options.burstRounds) + pacedKeys.length;
    let soakRounds = 0;
    const soakStart = performance.now();
    while (soakCycles < options.soakCycles) {
      soakRounds++;
      const token = `soak-${soakRounds}`;
      await triggerAll(kc, crs, token);
      await waitAll(
        `soak round ${soakRounds}`,
        () => crKeys.every((key) => seen.syncedAt.get(key)?.token === token),
        900_000,
      );
      soakCycles += crKeys.length;
    }
    await op.call('idle');
    if (options.heapSnapshot) {
      const path = join(process.cwd(), `bench-operator-soak-${Date.now()}.heapsnapshot`);
      await op.call('heapSnapshot', { path });
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
    const idleAgainMemory = await op.memory();
    const soak = {
      cycles: soakCycles,
      rounds: soakRounds,
      ms: soakMs,
      memoryAfterGc: await op.memory(true),
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
      trigger: triggerRound,
      paced,
      floors,
      burstRounds,
      soak,
      afterRoundsMemoryAfterGc,
      reconciles: op.results,
      artifacts,
    };
  } finally {
    await operator?.stop(sleep);
    await observer?.stop();
    await controlPlane.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

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
