/**
 * Every benchmark with its defaults, one after the other, recorded as one run in bench/history/.
 *
 *   npm run bench                    rsync, restic and rclone (1 GiB / 10,000 files each),
 *                                    controller (1,000 CRs) and cycle-tail (50 syncs); records the run
 *   npm run bench:smoke              tiny sizes (20 MiB / 200 files, 20 CRs, 3 syncs): only checks
 *                                    that all still run and print figures; records nothing
 *   npm run bench -- --only rsync|restic|rclone|controller|cycle-tail|whole-cycle|controller-scale   one of them
 *                                    (whole-cycle and controller-scale also run in `npm run bench`;
 *                                    `npm run bench:smoke` checks whole-cycle's path through cycle-tail's smoke)
 *   npm run bench -- --mover-seconds S   the controller's Jobs complete S s after they appear
 *   npm run bench -- --initial-delay S   cycle-tail with the source's first retry wait S (2: before issue 27)
 *   npm run bench -- --note "TEXT"   a remark recorded with the results (shared machine, say)
 *   npm run bench -- --no-record     print only
 *
 * The shared flags, the header, printing and recording are the scaffold's (scaffold/benchmark.ts),
 * as for each `npm run bench:<name>` alone.
 */
import { parseArgs } from 'node:util';
import { CONTROLLER_BENCHMARK } from './controller.js';
import { CONTROLLER_SCALE_BENCHMARK } from './controller-scale.js';
import { CYCLE_TAIL_BENCHMARK } from './cycle-tail.js';
import { RCLONE_BENCHMARK } from './rclone.js';
import { RESTIC_BENCHMARK } from './restic.js';
import { RSYNC_BENCHMARK } from './rsync.js';
import { WHOLE_CYCLE_BENCHMARK } from './whole-cycle.js';
import { exitWith, plan, runPlanned, takeSharedFlags, type Planned } from './scaffold/benchmark.js';

const BENCHMARKS = [
  'rsync',
  'restic',
  'rclone',
  'controller',
  'cycle-tail',
  'whole-cycle',
  'controller-scale',
] as const;
type Name = (typeof BENCHMARKS)[number];

async function main(): Promise<void> {
  const { mode, rest } = takeSharedFlags(process.argv.slice(2));
  const { values } = parseArgs({
    args: rest,
    options: {
      only: { type: 'string' },
      'mover-seconds': { type: 'string' },
      'initial-delay': { type: 'string' },
    },
  });
  const only = values.only;
  if (only !== undefined && !(BENCHMARKS as readonly string[]).includes(only))
    throw new Error(`--only must be one of ${BENCHMARKS.join(', ')}`);
  const runs = (name: Name) => only === undefined || only === name;
  // In a smoke run of all, the cycle tail's smoke takes whole-cycle's path, and controller-scale's
  // only new part (its counts) is not worth a third control plane: neither runs alone there.
  const smokeOfAll = mode.smoke && only === undefined;
  // The flags that belong to one benchmark go to it, parsed as its own command parses them.
  const moverSeconds = values['mover-seconds'];
  const initialDelay = values['initial-delay'];
  const planned: Planned[] = [];
  if (runs('rsync')) planned.push(plan(RSYNC_BENCHMARK, [], mode.smoke));
  if (runs('restic')) planned.push(plan(RESTIC_BENCHMARK, [], mode.smoke));
  if (runs('rclone')) planned.push(plan(RCLONE_BENCHMARK, [], mode.smoke));
  if (runs('controller'))
    planned.push(
      plan(CONTROLLER_BENCHMARK, moverSeconds === undefined ? [] : ['--mover-seconds', moverSeconds], mode.smoke),
    );
  if (runs('cycle-tail'))
    planned.push(
      plan(CYCLE_TAIL_BENCHMARK, initialDelay === undefined ? [] : ['--initial-delay', initialDelay], mode.smoke),
    );
  if (runs('whole-cycle') && !smokeOfAll) planned.push(plan(WHOLE_CYCLE_BENCHMARK, [], mode.smoke));
  if (runs('controller-scale') && !smokeOfAll) planned.push(plan(CONTROLLER_SCALE_BENCHMARK, [], mode.smoke));
  const benchArgs = [
    ...(only ? ['--only', only] : []),
    ...(moverSeconds !== undefined && runs('controller') ? ['--mover-seconds', moverSeconds] : []),
    ...(initialDelay !== undefined && runs('cycle-tail') ? ['--initial-delay', initialDelay] : []),
  ];
  await runPlanned(planned, mode, `npm run bench${benchArgs.length > 0 ? ` -- ${benchArgs.join(' ')}` : ''}`);
}

exitWith(main());
