/**
 * Runs the rsync mover entrypoints as real processes on loopback: key Secrets as directories,
 * volumes as temporary directories, sshd on a free port. Waits are for conditions with timeouts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from '../../../../src/movers/runtime/env.js';
import { generateSshKeyPair, rsyncSecretContents, type RsyncRole } from '../../../../src/movers/rsync/keys.js';

/** The repository root (tsx resolves from here). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** True when the tests run as root (ownership and sshd privilege separation need it). */
export const IS_ROOT = process.getuid?.() === 0;

/** A fresh temporary directory, removed by `cleanup`. */
export function tempDir(cleanup: (() => void)[], prefix = 'scribe-rsync-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes one replication's key Secrets as mounted-Secret-like directories (files 0644 as a Secret volume). */
export function writeKeySecrets(parent: string): Record<RsyncRole, string> {
  const contents = rsyncSecretContents(generateSshKeyPair('test-source'), generateSshKeyPair('test-destination'));
  const dirs = { source: join(parent, 'keys-source'), destination: join(parent, 'keys-destination') };
  for (const role of ['source', 'destination'] as const) {
    mkdirSync(dirs[role]);
    for (const [name, value] of Object.entries(contents[role]))
      writeFileSync(join(dirs[role], name), value, { mode: 0o644 });
  }
  return dirs;
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

/** PATH for the entrypoints: ours, plus the sbin directories where Debian puts sshd for non-root users. */
export function toolPath(): string {
  return [process.env.PATH ?? '', '/usr/sbin', '/sbin'].join(delimiter);
}

/** A running process whose combined output is recorded. */
export class RunningProcess {
  output = '';
  readonly exited: Promise<number>;
  private listeners: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    const record = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      for (const listener of this.listeners) listener();
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    this.exited = new Promise((resolve) =>
      child.on('close', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))),
    );
  }

  /** Resolves when the output matches `pattern`; rejects on exit or after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void> {
    return waitUntil(() => pattern.test(this.output), timeoutMs, `output matching ${pattern}`, this);
  }

  /** Runs `check` on every output change. */
  onOutput(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Kills the process and every descendant (sshd and its sessions), as a Pod's death would. */
  killTree(): void {
    if (this.child.pid !== undefined) killTree(this.child.pid);
  }
}

/** Resolves once `condition` holds (checked on output and every 25 ms); rejects after `timeoutMs`. */
export function waitUntil(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
  proc?: RunningProcess,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    const check = () => {
      if (condition()) finish();
    };
    const poll = setInterval(check, 25);
    const timer = setTimeout(
      () =>
        finish(
          new Error(`timed out after ${timeoutMs}ms waiting for ${what}${proc ? `; output:\n${proc.output}` : ''}`),
        ),
      timeoutMs,
    );
    proc?.onOutput(check);
    void proc?.exited.then(() => {
      check();
      finish(new Error(`process exited while waiting for ${what}; output:\n${proc.output}`));
    });
    check();
  });
}

/** How an entrypoint runs: a plain child process, or as a Pod's container runs it (see asPodArgv). */
export interface EntrypointOptions {
  asPod?: boolean;
}

/**
 * The argv that runs `argv` as PID 1 of a PID namespace of its own, with its own /proc, as a
 * container's main process runs (and as the local runtime's sandbox runs movers): when it exits,
 * the kernel kills every process it leaves behind, such as sshd's per-connection processes.
 */
export function asPodArgv(argv: string[]): string[] {
  let bwrap: string;
  try {
    bwrap = findExecutable('bwrap', toolPath(), 'PATH');
  } catch {
    throw new Error('bwrap not found on PATH: install the Debian package "bubblewrap"');
  }
  return [
    bwrap,
    '--dev-bind',
    '/',
    '/',
    '--proc',
    '/proc',
    '--unshare-pid',
    '--as-pid-1',
    '--die-with-parent',
    '--',
    ...argv,
  ];
}

/** Starts an entrypoint of src/movers/rsync with tsx, as the local runtime would. */
export function startEntrypoint(
  name: 'destination' | 'source',
  env: Record<string, string>,
  options: EntrypointOptions = {},
): RunningProcess {
  const script = join(REPO_ROOT, 'src/movers/rsync', `${name}.ts`);
  const plain = [process.execPath, '--import', 'tsx', script];
  const [command = '', ...args] = options.asPod ? asPodArgv(plain) : plain;
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, PATH: toolPath(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new RunningProcess(child);
}

/** Runs a command to completion and returns its status and combined output. */
export async function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; output: string }> {
  const proc = new RunningProcess(spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const code = await proc.exited;
  return { code, output: proc.output };
}

/** A started destination entrypoint with its settings. */
export interface Destination {
  proc: RunningProcess;
  port: number;
  dataDir: string;
}

/** Starts the destination on a free loopback port and waits until sshd listens. */
export async function startDestination(
  keysDir: string,
  dataDir: string,
  extraEnv: Record<string, string> = {},
  options: EntrypointOptions = {},
): Promise<Destination> {
  const port = await freePort();
  const proc = startEntrypoint('destination', destinationEnv(keysDir, dataDir, port, extraEnv), options);
  await proc.waitForOutput(/ready on port/, 20_000);
  return { proc, port, dataDir };
}

/** Environment for the destination entrypoint receiving into `dataDir` on a loopback port. */
export function destinationEnv(
  keysDir: string,
  dataDir: string,
  port: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    SCRIBE_DATA_DIR: dataDir,
    SCRIBE_KEYS_DIR: keysDir,
    SCRIBE_LISTEN_ADDRESS: '127.0.0.1',
    SCRIBE_LISTEN_PORT: String(port),
    SCRIBE_TIMEOUT_SECONDS: '120',
    // Next to the volume, inside the test's temporary directory, so even a killed run leaves nothing.
    SCRIBE_RUN_DIR: dirname(dataDir),
    ...extra,
  };
}

/** Environment for the source entrypoint pushing `dataDir` to a destination port. */
export function sourceEnv(
  keysDir: string,
  dataDir: string,
  port: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    SCRIBE_DESTINATION_ADDRESS: '127.0.0.1',
    SCRIBE_DESTINATION_PORT: String(port),
    SCRIBE_DATA_DIR: dataDir,
    SCRIBE_KEYS_DIR: keysDir,
    SCRIBE_RETRY_INITIAL_DELAY_SECONDS: '0.2',
    SCRIBE_RETRY_MAX_DELAY_SECONDS: '1',
    SCRIBE_RETRY_DEADLINE_SECONDS: '20',
    SCRIBE_CONNECT_TIMEOUT_SECONDS: '5',
    SCRIBE_RUN_DIR: dirname(dataDir),
    ...extra,
  };
}

/** Kills `pid` and all its descendants with SIGKILL (Linux /proc). */
export function killTree(pid: number): void {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses; the ppid follows the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const all: number[] = [];
  const visit = (p: number) => {
    all.push(p);
    for (const child of children.get(p) ?? []) visit(child);
  };
  visit(pid);
  for (const p of all) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
