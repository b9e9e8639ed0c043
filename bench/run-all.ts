/**
 * Every benchmark with its defaults, and the figures appended to bench/RESULTS.md.
 *
 *   npm run bench                    rsync (1 GiB / 10,000 files) and controller (1,000 CRs); appends
 *   npm run bench:smoke              tiny sizes (20 MiB / 200 files, 20 CRs): only checks that both
 *                                    still run and print figures; appends nothing
 *   npm run bench -- --only rsync|controller   one of them
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
import { formatRsyncResult, RSYNC_DEFAULTS, runRsyncBench, type RsyncBenchOptions } from './rsync.js';
import { REPO_ROOT, seconds } from './support/common.js';
import { formatMachine, machineFacts } from './support/machine.js';

const RESULTS = join(REPO_ROOT, 'bench', 'RESULTS.md');

const SMOKE_RSYNC: Partial<RsyncBenchOptions> = { sizeMiB: 20, files: 200, runs: 1 };
const SMOKE_CONTROLLER: Partial<ControllerBenchOptions> = { crs: 20, idleSeconds: 3 };

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      note: { type: 'string' },
      'no-record': { type: 'boolean', default: false },
    },
  });
  const smoke = values.smoke ?? false;
  const only = values.only;
  if (only !== undefined && only !== 'rsync' && only !== 'controller')
    throw new Error('--only must be rsync or controller');
  const record = !smoke && !(values['no-record'] ?? false);
  const started = new Date();
  const t0 = performance.now();
  const machine = await machineFacts({ kubernetes: only !== 'rsync' });
  process.stdout.write(`${formatMachine(machine)}\n\n`);

  const sections: string[] = [];
  if (only !== 'controller') {
    const options = { ...RSYNC_DEFAULTS, ...(smoke ? SMOKE_RSYNC : {}) };
    process.stdout.write(`== rsync mover vs raw rsync (${options.sizeMiB} MiB, ${options.files} files) ==\n`);
    const result = await runRsyncBench(options);
    const text = formatRsyncResult(result);
    process.stdout.write(`\n${text}\n\n`);
    sections.push(
      `### rsync mover vs raw rsync (\`npm run bench:rsync -- --size-mib ${options.sizeMiB} --files ${options.files} --runs ${options.runs}\`)\n\n${text}`,
    );
  }
  if (only !== 'rsync') {
    const options = { ...CONTROLLER_DEFAULTS, ...(smoke ? SMOKE_CONTROLLER : {}) };
    process.stdout.write(`== controller (${options.crs} CRs) ==\n`);
    const result = await runControllerBench(options);
    const text = formatControllerResult(result);
    process.stdout.write(`\n${text}\n\n`);
    sections.push(
      `### controller (\`npm run bench:controller -- --crs ${options.crs} --idle-seconds ${options.idleSeconds}\`)\n\n${text}`,
    );
  }
  const total = performance.now() - t0;
  process.stdout.write(`benchmarks finished in ${seconds(total)}\n`);
  if (!record) return;
  if (!existsSync(RESULTS))
    writeFileSync(RESULTS, '# Benchmark results\n\nAppended by `npm run bench`; see README.md for how to read them.\n');
  const header = [
    '',
    `## ${started.toISOString()} — \`npm run bench${only ? ` -- --only ${only}` : ''}\``,
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
