/**
 * What every benchmark command shares, from `npm run bench:<name>` and `npm run bench` alike: the
 * flags --smoke (tiny sizes: checks it still runs and prints figures; records nothing),
 * --no-record and --note, the machine and versions header, printing the figures, and recording
 * the run (scaffold/record.ts). A benchmark describes itself with a Benchmark and keeps only what
 * is its own: its flags, its run and its figures' text.
 */
import { parseArgs } from 'node:util';
import { seconds } from './common.js';
import { formatMachine, machineFacts, type MachineFacts } from './machine.js';
import { objectStorageVersions } from './object-storage.js';
import { recordRun, type RecordedSection } from './record.js';

/** One benchmark as the commands see it. */
export interface Benchmark<Options> {
  /** Its name: `npm run bench:<name>`, `npm run bench -- --only <name>`. */
  name: string;
  /** The title of its section: "rsync mover vs raw rsync". */
  title: string;
  /** Its settings from its own flags (the shared ones already taken out). */
  parse(args: string[]): Options;
  /** The smoke run's settings over `options`: tiny sizes. */
  smoke(options: Options): Options;
  /** The command line that reproduces a run with `options`, for the record. */
  command(options: Options): string;
  /** What it runs on, in a few words, for the progress line. */
  describe(options: Options): string;
  /** Runs it; resolves with its figures as Markdown. */
  run(options: Options): Promise<string>;
  /** What the header's versions need: Kubernetes and etcd, restic, rclone and MinIO. */
  needs: { kubernetes?: boolean; objectStorage?: boolean };
}

/** The flags every command takes. */
export const SHARED_FLAGS = {
  smoke: { type: 'boolean', default: false },
  'no-record': { type: 'boolean', default: false },
  note: { type: 'string' },
} as const;

/** How a run goes: tiny and unrecorded (--smoke), printed only (--no-record), with a note. */
export interface RunMode {
  smoke: boolean;
  record: boolean;
  note?: string;
}

/** Splits the shared flags off `args`; the rest are the benchmark's own. */
export function takeSharedFlags(args: readonly string[]): { mode: RunMode; rest: string[] } {
  const { values, tokens } = parseArgs({ args: [...args], options: SHARED_FLAGS, strict: false, tokens: true });
  const shared = new Set<number>();
  for (const token of tokens ?? []) {
    if (token.kind !== 'option' || !(token.name in SHARED_FLAGS)) continue;
    shared.add(token.index);
    if (token.value !== undefined && !token.inlineValue) shared.add(token.index + 1);
  }
  const smoke = values.smoke === true;
  const note = typeof values.note === 'string' ? values.note : undefined;
  return {
    mode: { smoke, record: !smoke && values['no-record'] !== true, ...(note === undefined ? {} : { note }) },
    rest: args.filter((_, i) => !shared.has(i)),
  };
}

/** The machine facts with every version the chosen benchmarks need. */
export async function machineFor(benchmarks: ReadonlyArray<Benchmark<never>>): Promise<MachineFacts> {
  const machine = await machineFacts({ kubernetes: benchmarks.some((b) => b.needs.kubernetes) });
  if (benchmarks.some((b) => b.needs.objectStorage)) Object.assign(machine.versions, await objectStorageVersions());
  return machine;
}

/** One benchmark ready to run: its settings chosen. */
export interface Planned {
  benchmark: Benchmark<never>;
  run(): Promise<RecordedSection>;
  describe: string;
}

/** Plans `benchmark` with its own `args`, smoke-sized when `smoke`. */
export function plan<Options>(benchmark: Benchmark<Options>, args: string[], smoke: boolean): Planned {
  const parsed = benchmark.parse(args);
  const options = smoke ? benchmark.smoke(parsed) : parsed;
  return {
    benchmark: benchmark as unknown as Benchmark<never>,
    describe: benchmark.describe(options),
    run: async () => ({
      title: benchmark.title,
      command: benchmark.command(options),
      text: await benchmark.run(options),
    }),
  };
}

/**
 * Runs the planned benchmarks one after the other: the machine header, each one's figures
 * printed as they come, then the run recorded unless the mode says not to.
 */
export async function runPlanned(planned: readonly Planned[], mode: RunMode, invocation: string): Promise<void> {
  const started = new Date();
  const t0 = performance.now();
  const machine = await machineFor(planned.map((p) => p.benchmark));
  process.stdout.write(`${formatMachine(machine)}\n\n`);
  const sections: RecordedSection[] = [];
  for (const { benchmark, describe, run } of planned) {
    process.stdout.write(`== ${benchmark.title} (${describe}) ==\n`);
    const section = await run();
    process.stdout.write(`\n${section.text}\n\n`);
    sections.push(section);
  }
  const totalMs = performance.now() - t0;
  process.stdout.write(`benchmarks finished in ${seconds(totalMs)}\n`);
  if (!mode.record) return;
  const file = recordRun({
    started,
    invocation,
    machine,
    totalMs,
    sections,
    ...(mode.note ? { note: mode.note } : {}),
  });
  process.stdout.write(
    `appended to ${file}; where a figure of the summary changed, update its row in bench/RESULTS.md\n`,
  );
}

/** `npm run bench:<name> -- ARGS`: the benchmark alone, recorded as `npm run bench` records it. */
export function runStandalone<Options>(benchmark: Benchmark<Options>, args: string[]): void {
  const { mode, rest } = takeSharedFlags(args);
  exitWith(
    (async () => {
      const planned = plan(benchmark, rest, mode.smoke);
      const invocation = `npm run bench:${benchmark.name}${rest.length > 0 ? ` -- ${rest.join(' ')}` : ''}`;
      await runPlanned([planned], mode, invocation);
    })(),
  );
}

/** Exits at once when `work` settles: lingering keep-alive sockets or esbuild's service must not hold the process open. */
export function exitWith(work: Promise<void>): void {
  work.then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
