/**
 * Child processes for the benchmarks: the environment a pod gives them, output capture, waiting
 * for a line, killing a whole tree (their CPU and memory: proc.ts).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { userInfo } from 'node:os';
import { delimiter } from 'node:path';
import { descendants, processTable } from './proc.js';

/** PATH plus the sbin directories where Debian puts sshd for non-root users. */
export function toolPath(): string {
  return [process.env.PATH ?? '', '/usr/sbin', '/sbin'].join(delimiter);
}

/** PATH in Scribe's images (Containerfile: ENV PATH), which a mover pod's processes start with. */
export const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment the timed processes run with, raw tools and mover entrypoints alike: what a
 * process in a pod has, as `env -i` would start it — the image's PATH, HOME (the user's home as
 * /etc/passwd gives it: the container runtime sets it so; no USER, which it does not set), and
 * TMPDIR when the benchmark was given one — plus its settings, not the benchmark's own
 * environment. A shell's variables can slow a start-up: NODE_EXTRA_CA_CERTS naming a 215 KiB CA
 * bundle, as on the machine these figures were first taken on, adds 0.03–0.06 s to each start of
 * node (it is read at start), and a PATH with pyenv's shims first runs a shell script for every
 * `python3`. No pod pays that: the Job gives it its whole environment. Both sides get the same, so
 * neither pays what the other does not. (What sshd's sessions read at start: pod-login.ts.)
 */
export function podEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const { TMPDIR } = process.env;
  return {
    PATH: IMAGE_PATH,
    HOME: userInfo().homedir,
    ...(TMPDIR === undefined ? {} : { TMPDIR }),
    ...settings,
  };
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
