/**
 * The controller at scale, against a real API server.
 *
 *   npm run bench:controller -- [--crs N] [--idle-seconds S] [--paced N] [--paced-rate R] [--soak-cycles N]
 *                               [--runtime compiled|tsx] [--cpu-prof] [--apiserver-prof] [--heap-snapshot]
 *                               [--mover-seconds S] [--burst-rounds N]
 *
 * A real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler on
 * loopback; src/local/control-plane.ts) with Scribe's CRDs, and Scribe's Controller with every
 * mover (MOVERS) in a process of its own (controller/operator-process.ts), so that its RSS and
 * CPU are the operator's alone, both read from /proc as any process's are (scaffold/proc.ts).
 * No node runs pods: **mover Jobs are completed through the API** (their status set to Complete
 * as the Job controller would once a pod exited 0), the moment the benchmark's informer sees them. The operator authenticates as its own ServiceAccount, and a
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
 *   4b. the floors: the same burst on copies of the CRs, handled by minimal controllers (floor.ts);
 *   4c. --burst-rounds (3) bursts in all, each but the first followed by the running floor's burst:
 *      the burst's ratio to the floor is the median of the rounds' ratios (one round's swings);
 *   5. the operator's memory after those rounds; then more rounds on every CR until --soak-cycles
 *      (10,000) cycles have completed in all, and the heap after a full GC once more.
 *
 * The pieces, in bench/controller/: options.ts (flags), workload.ts (the CRs), operator.ts and
 * operator-process.ts (the measured process), observe.ts (the benchmark's watches; Jobs completed
 * through the API), requests.ts (requests counted by the API server), floor.ts (the minimal
 * controllers of the floors), run.ts (the phases), report.ts (the figures as Markdown).
 */
import { runStandalone, type Benchmark } from './scaffold/benchmark.js';
import { isMain } from './scaffold/common.js';
import { CONTROLLER_DEFAULTS, parseControllerArgs, type ControllerBenchOptions } from './controller/options.js';
import { formatControllerResult } from './controller/report.js';
import { runControllerBench } from './controller/run.js';

export { CONTROLLER_DEFAULTS, formatControllerResult, parseControllerArgs, runControllerBench };
export type { ControllerBenchOptions };
export type { ControllerBenchResult } from './controller/result.js';

/** `npm run bench:controller`, and its part of `npm run bench`. */
export const CONTROLLER_BENCHMARK: Benchmark<ControllerBenchOptions> = {
  name: 'controller',
  title: 'controller',
  parse: parseControllerArgs,
  smoke: (options) => ({ ...options, crs: 20, idleSeconds: 3, paced: 5, soakCycles: 80, burstRounds: 2 }),
  command: (o) =>
    `npm run bench:controller -- --crs ${o.crs} --idle-seconds ${o.idleSeconds}${o.moverSeconds > 0 ? ` --mover-seconds ${o.moverSeconds}` : ''}`,
  describe: (o) => `${o.crs} CRs`,
  run: async (options) => formatControllerResult(await runControllerBench(options)),
  needs: { kubernetes: true },
};

if (isMain(import.meta.url)) runStandalone(CONTROLLER_BENCHMARK, process.argv.slice(2));
