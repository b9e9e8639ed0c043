/**
 * Child processes for the benchmarks: output capture, waiting for a line, killing a whole tree,
 * and sampling the resident memory of a process tree from /proc (Linux).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter } from 'node:path';

/** PATH plus the sbin directories where Debian puts sshd for non-root users. */
export function toolPath(): string {
  return [process.env.PATH ?? '', '/usr/sbin', '/sbin'].join(delimiter);
}

/**
 * The environment the timed processes run with, raw tools and mover entrypoints alike: what a
 * process in a pod has (PATH, HOME, and TMPDIR when the benchmark was given one) plus its
 * settings, not the benchmark's own environment. A shell's variables can slow a start-up:
 * NODE_EXTRA_CA_CERTS naming a 215 KiB CA bundle, as on the machine these figures were first
 * taken on, adds 0.03–0.06 s to each start of node (it is read at start). No pod pays that: the
 * Job gives it its whole environment. Both sides get the same, so neither pays what the other does not.
 */
export function podEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const { HOME, TMPDIR } = process.env;
  return {
    PATH: toolPath(),
    ...(HOME === undefined ? {} : { HOME }),
    ...(TMPDIR === undefined ? {} : { TMPDIR }),
    ...settings,
  };
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A started process with its combined output, start time and exit. */
export class Proc {
  output = '';
  readonly startedAt = performance.now();
  endedAt = Number.NaN;
  readonly exited: Promise<number>;
  private readonly listeners = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    const record = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      // Keep only the tail: rsync's itemized output of 10,000 files is large and not needed.
      if (this.output.length > 256 * 1024) this.output = this.output.slice(-128 * 1024);
      for (const listener of this.listeners) listener();
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    this.exited = new Promise((resolve) => {
      child.on('error', (error) => {
        this.output += `\n${error.message}\n`;
        this.endedAt = performance.now();
        resolve(127);
      });
      child.on('close', (code, signal) => {
        this.endedAt = performance.now();
        resolve(code ?? (signal === 'SIGKILL' ? 137 : 143));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Wall time from spawn to exit, in milliseconds. */
  get wallMs(): number {
    return this.endedAt - this.startedAt;
  }

  /** Resolves when the output matches `pattern`; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        this.listeners.delete(check);
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (pattern.test(this.output)) done();
      };
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${pattern}:\n${this.output}`)), timeoutMs);
      this.listeners.add(check);
      void this.exited.then(() => {
        if (!pattern.test(this.output)) done(new Error(`process exited before ${pattern}:\n${this.output}`));
      });
      check();
    });
  }

  /** Kills the process and its descendants. */
  killTree(): void {
    if (this.child.pid !== undefined) killTree(this.child.pid);
  }
}

/** Spawns a process with piped output. */
export function start(command: string, args: readonly string[], options: SpawnOptions = {}): Proc {
  return new Proc(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }));
}

/** Runs a command to completion; throws with its output when it fails. */
export async function runChecked(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<Proc> {
  const proc = start(command, args, options);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${proc.output}`);
  return proc;
}

/** pid → parent pid and resident set size (bytes) of every process, from /proc/<pid>/stat. */
function processTable(): Map<number, { ppid: number; rss: number }> {
  const table = new Map<number, { ppid: number; rss: number }>();
  const pageSize = 4096;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(fields[1]), rss: Number(fields[21]) * pageSize });
    } catch {
      // The process ended while we looked.
    }
  }
  return table;
}

/** Every pid in the tree rooted at `pid` (itself included). */
function descendants(table: Map<number, { ppid: number }>, pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const [child, { ppid }] of table) children.set(ppid, [...(children.get(ppid) ?? []), child]);
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const child of children.get(p) ?? []) visit(child);
  };
  visit(pid);
  return out;
}

/** Kills `pid` and all its descendants with SIGKILL. */
export function killTree(pid: number): void {
  for (const p of descendants(processTable(), pid).reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** The process's own peak resident set size (VmHWM) in bytes, or undefined once it is gone. */
export function peakRss(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples memory every `intervalMs` while running: the peak VmHWM of each root process (its own
 * high-water mark, read until it exits) and the peak summed RSS of each root's whole tree.
 */
export class MemorySampler {
  private readonly roots = new Map<string, { pid: number; excludeSelf: boolean }>();
  readonly ownPeak = new Map<string, number>();
  readonly treePeak = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 100) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Tracks a process under `name`; `excludeSelf` counts only its descendants (a shared daemon). */
  track(name: string, pid: number | undefined, excludeSelf = false): void {
    if (pid === undefined) return;
    this.roots.set(name, { pid, excludeSelf });
    this.sample();
  }

  /** Takes one sample now (also call it just before a tracked process is expected to exit). */
  sample(): void {
    const table = processTable();
    for (const [name, { pid, excludeSelf }] of this.roots) {
      if (!table.has(pid)) continue;
      const own = peakRss(pid);
      if (own !== undefined && !excludeSelf) this.ownPeak.set(name, Math.max(this.ownPeak.get(name) ?? 0, own));
      const tree = descendants(table, pid)
        .filter((p) => !(excludeSelf && p === pid))
        .reduce((sum, p) => sum + (table.get(p)?.rss ?? 0), 0);
      this.treePeak.set(name, Math.max(this.treePeak.get(name) ?? 0, tree));
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
