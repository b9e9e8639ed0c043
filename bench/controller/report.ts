/**
 * The controller benchmark's figures as Markdown: one table of figures with their goals (issue 6's
 * and issue 24's), the operator's memory at each point, and the API server's requests and CPU by
 * process. CPU and RSS are the operator's as read from /proc; heap figures are V8's own.
 */
import { chartNodeOptions } from './operator.js';
import { markdownTable, mib, percentile, seconds } from '../scaffold/common.js';
import { FLOOR_LABELS, FLOOR_VARIANTS } from './floor.js';
import type { ControllerBenchResult, MemoryFigures } from './result.js';

const MiB = 1024 * 1024;

/** "name 1.234 s, …" for the processes of a CPU reading. */
export const burstCpuLine = (cpu: ReadonlyArray<[string, number]>) =>
  cpu.map(([name, ms]) => `${name} ${seconds(ms)}`).join(', ') || 'none measured';

/** "1.30× (3.668 s / 2.831 s)": one burst round against the running floor's burst after it. */
const roundRatioCell = ({ p99Ms, floorP99Ms }: { p99Ms: number; floorP99Ms: number }) =>
  `${(p99Ms / floorP99Ms).toFixed(2)}× (${seconds(p99Ms)} / ${seconds(floorP99Ms)})`;

/** The median of the burst rounds' ratios to their floors (of an even count, the mean of the middle two). */
export function medianRatio(rounds: ReadonlyArray<{ p99Ms: number; floorP99Ms: number }>): number {
  const ratios = rounds.map(({ p99Ms, floorP99Ms }) => p99Ms / floorP99Ms).sort((a, b) => a - b);
  const middle = Math.floor(ratios.length / 2);
  return ratios.length % 2 === 1
    ? (ratios[middle] as number)
    : ((ratios[middle - 1] as number) + (ratios[middle] as number)) / 2;
}

const memoryCells = (m: MemoryFigures) => [mib(m.rss), mib(m.heapUsed), mib(m.heapTotal), mib(m.external)];

/** The figures as Markdown. */
export function formatControllerResult(r: ControllerBenchResult): string {
  const lines: string[] = [];
  const lat = r.trigger.latenciesMs.filter(Number.isFinite);
  const watch = r.trigger.fromWatchMs.filter(Number.isFinite);
  const paced = r.paced.latenciesMs.filter(Number.isFinite);
  const cycles = r.crs;
  lines.push(
    `${r.crs} CRs (${r.sources} ReplicationSources + ${r.destinations} ReplicationDestinations, rsync, copyMethod None, manual triggers) in ${r.namespaces} namespaces; operator runtime: ${r.runtime}, Node options of the chart: ${chartNodeOptions().join(' ') || 'none'}; **Jobs completed through the API** (no node runs mover pods), ${r.moverSeconds > 0 ? `${r.moverSeconds} s after they appear (\`--mover-seconds\`)` : 'as soon as they appear'}.`,
  );
  lines.push('');
  const goal = (ok: boolean) => (ok ? 'met' : '**missed**');
  const idleCpuMs = r.idle.cpuUserMs + r.idle.cpuSystemMs;
  const idlePerMinute = (idleCpuMs / r.idle.seconds) * 60;
  // Settled RSS: < 150 MiB with 1,000 CRs (issue 6), < 400 MiB with 10,000 (issue 24).
  const settledGoalMiB = r.crs >= 10_000 ? 400 : 150;
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
          const overFloor = percentile(lat, 99) / percentile(floor, 99);
          return [
            [
              `floor: the same burst on copies of the CRs, handled by a minimal controller that ${FLOOR_LABELS[variant]}, p50 / p99`,
              `${seconds(percentile(floor, 50))} / ${seconds(percentile(floor, 99))}`,
              `p99 < 1 s: ${goal(percentile(floor, 99) < 1000)}`,
            ],
            [`burst p99 / that floor's p99`, `${overFloor.toFixed(2)}×`, ''],
          ];
        }),
        [
          "burst p99 / the running floor's p99, each burst round (the burst, then the floor's burst), and their median",
          `${r.burstRounds.map(roundRatioCell).join(', ')}; median **${medianRatio(r.burstRounds).toFixed(2)}×**`,
          // Issue 24: within 1.25× of a floor that only POSTs Jobs.
          `≤ 1.25×: ${goal(medianRatio(r.burstRounds) <= 1.25)}`,
        ],
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
        [
          'operator RSS at start, no CRs',
          mib(r.startupMemory.rss),
          `≤ 61 MiB: ${goal(r.startupMemory.rss <= 61 * MiB)}`,
        ],
        [
          'operator RSS idle, 5 s after the last sync',
          mib(r.idleMemory.rss),
          `≤ 244 MiB: ${goal(r.idleMemory.rss <= 244 * MiB)}`,
        ],
        [
          `operator RSS idle, after ${r.idle.seconds} s idle`,
          mib(r.idleEndMemory.rss),
          `< ${settledGoalMiB} MiB: ${goal(r.idleEndMemory.rss < settledGoalMiB * MiB)}`,
        ],
        [`operator RSS idle, max over the ${r.idle.seconds} s`, mib(r.idleMaxRss), ''],
        [
          `operator RSS after the ${r.soak.cycles}-cycle soak, then ${r.idle.seconds} s idle`,
          mib(r.soak.idleAgainMemory.rss),
          `< ${settledGoalMiB} MiB: ${goal(r.soak.idleAgainMemory.rss < settledGoalMiB * MiB)}`,
        ],
        [
          `heap used after a full GC: after ${r.crs} cycles → after ${r.soak.cycles}`,
          `${mib(r.idleMemoryAfterGc.heapUsed)} → ${mib(r.soak.memoryAfterGc.heapUsed)}`,
          `no growth beyond noise (≤ 10%): ${goal(r.soak.memoryAfterGc.heapUsed <= r.idleMemoryAfterGc.heapUsed * 1.1)}`,
        ],
        ['operator RSS idle, then after a full GC', mib(r.idleMemoryAfterGc.rss), ''],
        [
          `operator CPU over ${r.idle.seconds} s idle`,
          `${idleCpuMs.toFixed(0)} ms (${idlePerMinute.toFixed(0)} ms per idle minute, ${((idleCpuMs / (r.idle.seconds * 1000)) * 100).toFixed(2)}% of a core)`,
          `≤ 60 ms per idle minute: ${goal(idlePerMinute <= 60)}`,
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
