/**
 * Every benchmark with its defaults, and the figures appended to bench/RESULTS.md.
 *
 *   npm run bench                    rsync, restic and rclone (1 GiB / 10,000 files each),
 *                                    controller (1,000 CRs) and cycle-tail (50 syncs); appends
 *   npm run bench:smoke              tiny sizes (20 MiB / 200 files, 20 CRs, 3 syncs): only checks
 *                                    that all still run and print figures; appends nothing
 *   npm run bench -- --only rsync|restic|rclone|controller|cycle-tail   one of them
 *   npm run bench -- --initial-delay S   cycle-tail with the source's first retry wait S (2: before issue 27)
 *   npm run bench -- --note "TEXT"   a remark recorded with the results (shared machine, say)
 *   npm run bench -- --no-record     print only
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CONTROLLER_DEFAULTS,
  formatControllerResult,
  runControllerBench,
  type ControllerBenchOptions,
} from './controller.js';
import {
  CYCLE_TAIL_DEFAULTS,
  formatCycleTailResult,
  runCycleTailBench,
  type CycleTailBenchOptions,
} from './cycle-tail.js';
import { formatRcloneResult, RCLONE_DEFAULTS, runRcloneBench, type RcloneBenchOptions } from './rclone.js';
import { formatResticResult, RESTIC_DEFAULTS, runResticBench, type ResticBenchOptions } from './restic.js';
import { formatRsyncResult, RSYNC_DEFAULTS, runRsyncBench, type RsyncBenchOptions } from './rsync.js';
import { positiveNumber, REPO_ROOT, seconds } from './support/common.js';
import { formatMachine, machineFacts } from './support/machine.js';
import { objectStorageVersions } from './support/object-storage.js';

const RESULTS = join(REPO_ROOT, 'bench', 'RESULTS.md');

const SMOKE_RSYNC: Partial<RsyncBenchOptions> = { sizeMiB: 20, files: 200, runs: 1 };
// Every restic call spends ~0.5 s deriving the repository key (scrypt), whatever the size: one
// variant (compiled, as the image runs it) keeps the smoke run near 20 s.
const SMOKE_RESTIC: Partial<ResticBenchOptions> = { sizeMiB: 20, files: 200, runs: 1, variants: ['compiled'] };
const SMOKE_RCLONE: Partial<RcloneBenchOptions> = { sizeMiB: 20, files: 200, runs: 1 };
const BENCHMARKS = ['rsync', 'restic', 'rclone', 'controller', 'cycle-tail'] as const;
const SMOKE_CONTROLLER: Partial<ControllerBenchOptions> = { crs: 20, idleSeconds: 3, paced: 5, soakCycles: 80 };
const SMOKE_CYCLE_TAIL: Partial<CycleTailBenchOptions> = { syncs: 3 };

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      note: { type: 'string' },
      'no-record': { type: 'boolean', default: false },
      'mover-seconds': { type: 'string' },
      'initial-delay': { type: 'string' },
    },
  });
  const smoke = values.smoke ?? false;
  const only = values.only;
  if (only !== undefined && !(BENCHMARKS as readonly string[]).includes(only))
    throw new Error(`--only must be one of ${BENCHMARKS.join(', ')}`);
  const runs = (name: (typeof BENCHMARKS)[number]) => only === undefined || only === name;
  const record = !smoke && !(values['no-record'] ?? false);
  const started = new Date();
  const t0 = performance.now();
  const machine = await machineFacts({ kubernetes: runs('controller') || runs('cycle-tail') });
  if (runs('restic') || runs('rclone')) Object.assign(machine.versions, await objectStorageVersions());
  process.stdout.write(`${formatMachine(machine)}\n\n`);

  const sections: string[] = [];
  if (runs('rsync')) {
    const options = { ...RSYNC_DEFAULTS, ...(smoke ? SMOKE_RSYNC : {}) };
    process.stdout.write(`== rsync mover vs raw rsync (${options.sizeMiB} MiB, ${options.files} files) ==\n`);
    const result = await runRsyncBench(options);
    const text = formatRsyncResult(result);
    process.stdout.write(`\n${text}\n\n`);
    sections.push(
      `### rsync mover vs raw rsync (\`npm run bench:rsync -- --size-mib ${options.sizeMiB} --files ${options.files} --runs ${options.runs}\`)\n\n${text}`,
    );
  }
  if (runs('restic')) {
    const options = { ...RESTIC_DEFAULTS, ...(smoke ? SMOKE_RESTIC : {}) };
    process.stdout.write(`== restic mover vs raw restic (${options.sizeMiB} MiB, ${options.files} files) ==\n`);
    const result = await runResticBench(options);
    const text = formatResticResult(result);
    process.stdout.write(`\n${text}\n\n`);
    sections.push(
      `### restic mover vs raw restic (\`npm run bench:restic -- --size-mib ${options.sizeMiB} --files ${options.files} --runs ${options.runs}\`)\n\n${text}`,
    );
  }
  if (runs('rclone')) {
    const options = { ...RCLONE_DEFAULTS, ...(smoke ? SMOKE_RCLONE : {}) };
    process.stdout.write(`== rclone mover vs raw rclone (${options.sizeMiB} MiB, ${options.files} files) ==\n`);
    const result = await runRcloneBench(options);
    const text = formatRcloneResult(result);
    process.stdout.write(`\n${text}\n\n`);
    sections.push(
      `### rclone mover vs raw rclone (\`npm run bench:rclone -- --size-mib ${options.sizeMiB} --files ${options.files} --runs ${options.runs}\`)\n\n${text}`,
    );
  }
  if (runs('controller')) {
    const moverSeconds = Number(values['mover-seconds'] ?? CONTROLLER_DEFAULTS.moverSeconds);
    if (!(moverSeconds >= 0)) throw new Error('--mover-seconds must be a number of seconds, 0 or more');
    const options = { ...CONTROLLER_DEFAULTS, ...(smoke ? SMOKE_CONTROLLER : {}), moverSeconds };
    process.stdout.write(`== controller (${options.crs} CRs) ==\n`);
    const result = await runControllerBench(options);
    const text = formatControllerResult(result);
    process.stdout.write(`\n${text}\n\n`);
    sections.push(
      `### controller (\`npm run bench:controller -- --crs ${options.crs} --idle-seconds ${options.idleSeconds}${options.moverSeconds > 0 ? ` --mover-seconds ${options.moverSeconds}` : ''}\`)\n\n${text}`,
    );
  }
  if (runs('cycle-tail')) {
    const initial = values['initial-delay'];
    const options: CycleTailBenchOptions = {
      ...CYCLE_TAIL_DEFAULTS,
      ...(smoke ? SMOKE_CYCLE_TAIL : {}),
      ...(initial === undefined ? {} : { initialDelaySeconds: positiveNumber('--initial-delay', initial, 2) }),
    };
    process.stdout.write(`== rsync cycle tail (${options.syncs} manual syncs on the local runtime) ==\n`);
    const result = await runCycleTailBench(options);
    const text = formatCycleTailResult(result);
    process.stdout.write(`\n${text}\n\n`);
    sections.push(
      `### rsync cycle tail (\`npm run bench:cycle-tail -- --syncs ${options.syncs}${options.initialDelaySeconds === undefined ? '' : ` --initial-delay ${options.initialDelaySeconds}`}\`)\n\n${text}`,
    );
  }
  const total = performance.now() - t0;
  process.stdout.write(`benchmarks finished in ${seconds(total)}\n`);
  if (!record) return;
  if (!existsSync(RESULTS))
    writeFileSync(RESULTS, '# Benchmark results\n\nAppended by `npm run bench`; see README.md for how to read them.\n');
  const benchArgs = [
    ...(only ? ['--only', only] : []),
    ...(values['initial-delay'] !== undefined && runs('cycle-tail')
      ? ['--initial-delay', values['initial-delay']]
      : []),
  ];
  const header = [
    '',
    `## ${started.toISOString()} — \`npm run bench${benchArgs.length > 0 ? ` -- ${benchArgs.join(' ')}` : ''}\``,
    '',
    formatMachine(machine),
    ...(values.note ? [`- Note: ${values.note}`] : []),
    `- Total time: ${seconds(total)}`,
    '',
  ].join('\n');
  appendFileSync(RESULTS, `${header}\n${sections.join('\n\n')}\n`);
  process.stdout.write(`appended to ${RESULTS}\n`);
}

// Exit at once: lingering keep-alive sockets or esbuild's service must not hold the process open.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
