/**
 * The operator under measurement: Scribe's Controller in a process of its own
 * (operator-process.ts; bundled as the image's dist/operator.mjs, or through tsx), so that its
 * CPU and RSS are its alone. Its CPU and RSS are read from /proc (scaffold/proc.ts), as any
 * other process's would be, without waking it; only V8's heap figures and "idle now?" are asked
 * of it, over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { bundleOperator } from '../../src/cli/bundle.js';
import { REPO_ROOT, TSX_LOADER } from '../scaffold/common.js';
import { processUsage, type ProcessUsage } from '../scaffold/proc.js';
import type { ControllerBenchOptions } from './options.js';
import type { MemoryFigures } from './result.js';

const PROCESS_SOURCE = join(REPO_ROOT, 'bench/controller/operator-process.ts');

/** The chart's values, whose nodeOptions the Deployment gives the operator as NODE_OPTIONS. */
const CHART_VALUES = join(REPO_ROOT, 'helm/scribe/values.yaml');

/**
 * The operator's Node options as the chart deploys it (values.yaml's nodeOptions): V8's heap
 * settings decide much of its RSS, so the benchmark measures the deployed ones, not the defaults
 * V8 derives from this machine's memory (a 4 GiB heap limit and 16 MiB semi-spaces here).
 */
export function chartNodeOptions(): string[] {
  const values = parse(readFileSync(CHART_VALUES, 'utf8')) as { nodeOptions?: string } | null;
  return (values?.nodeOptions ?? '').split(/\s+/).filter((option) => option !== '');
}

/** The operator child process, driven over IPC. */
export class Operator {
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

  get pid(): number | undefined {
    return this.child.pid;
  }

  call(op: string, extra: object = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ id, op, ...extra });
    });
  }

  /** RSS from /proc, read right after the heap figures V8 reports (after a full GC when `gc`). */
  async memory(gc = false): Promise<MemoryFigures> {
    const answer = await this.call(gc ? 'gc' : 'heap');
    const heap = answer.heap as Pick<NodeJS.MemoryUsage, 'heapUsed' | 'heapTotal' | 'external'>;
    return { rss: this.usage().rss, heapUsed: heap.heapUsed, heapTotal: heap.heapTotal, external: heap.external };
  }

  /** CPU so far and RSS now, from /proc: nothing is asked of the operator. */
  usage(): ProcessUsage {
    return processUsage(this.pid);
  }

  /** Asks it to stop, and waits for it to exit (SIGTERM if it hangs). */
  async stop(sleep: (ms: number) => Promise<void>): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) await Promise.race([this.call('stop'), sleep(10_000)]);
    // It exits by itself after stopping (writing its CPU profile, if asked); SIGTERM only if it hangs.
    await Promise.race([exited, sleep(15_000)]);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
    }
  }
}

/** Bundles the operator process as the image's dist/operator.mjs is bundled (src/cli/bundle.ts). */
async function bundleBenchOperator(): Promise<string> {
  const outdir = join(REPO_ROOT, 'node_modules', '.cache', 'scribe-bench');
  mkdirSync(outdir, { recursive: true });
  return bundleOperator(join(outdir, 'operator-process.mjs'), PROCESS_SOURCE);
}

/**
 * Starts the operator on `kubeconfig` (its own identity), its output into `logFile`; resolves
 * once its caches are synced. `artifacts` gets the CPU profile's place when --cpu-prof.
 */
export async function startOperator(
  options: Pick<ControllerBenchOptions, 'runtime' | 'cpuProf'>,
  kubeconfig: string,
  logFile: string,
  artifacts: string[],
): Promise<Operator> {
  const script = options.runtime === 'compiled' ? await bundleBenchOperator() : PROCESS_SOURCE;
  const execArgv = [
    '--expose-gc',
    ...chartNodeOptions(),
    ...(options.runtime === 'tsx' ? ['--import', TSX_LOADER] : []),
  ];
  if (options.cpuProf) {
    const dir = join(process.cwd(), 'bench-profiles');
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
    artifacts.push(`CPU profile: ${dir}/*.cpuprofile (written when the operator exits)`);
  }
  const logFd = openSync(logFile, 'a');
  const operator = new Operator(
    fork(script, [], {
      cwd: REPO_ROOT,
      execArgv,
      env: { ...process.env, KUBECONFIG: kubeconfig },
      stdio: ['ignore', logFd, logFd, 'ipc'],
    }),
  );
  await operator.started;
  return operator;
}
