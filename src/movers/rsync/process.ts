/** Small process helpers shared by the rsync entrypoints. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { extname, isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How a child ended: its exit code, or 128 + signal number as a shell reports it. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : constants.signals[signal]);
}

/** Output of a finished command: its status and the last `tailBytes` of stdout and stderr interleaved. */
export interface CommandResult {
  status: number;
  tail: string;
}

const running = new Set<ChildProcess>();

/** Sends `signal` to every command runStreaming has running (so a stopped mover leaves no rsync behind). */
export function signalRunning(signal: NodeJS.Signals): void {
  for (const child of running) child.kill(signal);
}

/** Options of runStreaming beyond spawn's. */
export interface StreamingOptions extends SpawnOptions {
  /** Called with each complete stdout line (e.g. rsync's itemized changes, for progress). */
  onStdoutLine?: (line: string) => void;
  /** Called with each complete stderr line (e.g. rsync's error messages, tallied over the whole run). */
  onStderrLine?: (line: string) => void;
  /** Text for the command's stdin, written (then stdin closed) once it settles; without it stdin is /dev/null. */
  input?: Promise<string>;
  /** Keep the output for the tail only, without copying it to ours. */
  quiet?: boolean;
}

/**
 * Runs a command, copying its output to ours as it comes (the Pod log is the full record) and
 * keeping a bounded tail for classification and the summary. Stdout is copied whole lines at a
 * time, so lines this process writes meanwhile (progress) never land inside one of the tool's.
 */
export function runStreaming(
  command: string,
  args: string[],
  options: StreamingOptions = {},
  tailBytes = 64 * 1024,
): Promise<CommandResult> {
  const { onStdoutLine, onStderrLine, input, quiet, ...spawnOptions } = options;
  return new Promise((resolve) => {
    let tail = '';
    let partialLine = '';
    let partialErrorLine = '';
    const keep = (text: string, out: NodeJS.WriteStream) => {
      if (!quiet) out.write(text);
      tail = (tail + text).slice(-tailBytes);
    };
    const child = spawn(command, args, { ...spawnOptions, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    running.add(child);
    if (input) {
      // The command may be gone before the input is ready; writing to it then is not an error here.
      child.stdin?.on('error', () => undefined);
      void input.then((text) => child.stdin?.end(text));
    }
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = partialLine + chunk.toString('utf8');
      const end = text.lastIndexOf('\n') + 1;
      partialLine = text.slice(end);
      if (end === 0) return;
      keep(text.slice(0, end), process.stdout);
      if (onStdoutLine) for (const line of text.slice(0, end - 1).split('\n')) onStdoutLine(line);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      keep(text, process.stderr);
      if (!onStderrLine) return;
      const lines = (partialErrorLine + text).split('\n');
      partialErrorLine = lines.pop() ?? '';
      for (const line of lines) onStderrLine(line);
    });
    child.on('error', (error) => {
      tail += `\n${command}: ${error.message}\n`;
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      if (partialLine !== '') {
        keep(`${partialLine}\n`, process.stdout);
        onStdoutLine?.(partialLine);
      }
      if (partialErrorLine !== '') onStderrLine?.(partialErrorLine);
      resolve({ status: exitStatus(code, signal), tail });
    });
  });
}

/**
 * The argv that runs the sibling entrypoint `name` with the same Node and loaders as this process
 * (e.g. `--import tsx` on the local runtime, nothing for compiled JavaScript in the image). sshd
 * runs it from the user's home directory, so bare and relative loader specifiers are resolved to
 * absolute ones here.
 */
export function siblingEntrypointArgv(
  name: string,
  moduleUrl: string,
  resolveSpecifier: (specifier: string) => string,
): string[] {
  const ownFile = fileURLToPath(moduleUrl);
  const script = fileURLToPath(new URL(`./${name}${extname(ownFile)}`, moduleUrl));
  return [process.execPath, ...absoluteExecArgv(process.execArgv, resolveSpecifier), script];
}

const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/** process.execArgv with every loader specifier made absolute. */
export function absoluteExecArgv(
  execArgv: readonly string[],
  resolveSpecifier: (specifier: string) => string,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] ?? '';
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    if (!LOADER_FLAGS.has(flag)) {
      out.push(arg);
      continue;
    }
    const value = inline ?? execArgv[++i] ?? '';
    const isRequire = flag === '--require' || flag === '-r';
    out.push(flag, absoluteSpecifier(value, isRequire, resolveSpecifier));
  }
  return out;
}

function absoluteSpecifier(
  specifier: string,
  asPath: boolean,
  resolveSpecifier: (specifier: string) => string,
): string {
  if (specifier.startsWith('file:')) return asPath ? fileURLToPath(specifier) : specifier;
  if (isAbsolute(specifier)) return specifier;
  if (specifier.startsWith('.')) return resolvePath(specifier);
  const resolved = resolveSpecifier(specifier);
  return asPath && resolved.startsWith('file:') ? fileURLToPath(resolved) : resolved;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A process as /proc shows it: its pid and its start time, so a reused pid is not taken for it. */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** Parent pid, state and start time of `pid` from /proc/<pid>/stat; undefined when it is gone. */
function procStat(pid: number): { ppid: number; state: string; startTime: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; field 3 (state) follows the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state = '', ppid = '', startTime = ''] = [fields[0], fields[1], fields[19]];
  return { ppid: Number(ppid), state, startTime };
}

/**
 * The ancestor of `pid` (or `pid` itself) whose parent is `parentPid`: for an ssh session's
 * process and sshd's listener, the sshd process that serves the session's connection. Undefined
 * when `pid` does not descend from `parentPid` or /proc cannot say (not Linux).
 */
export function ancestorUnder(pid: number, parentPid: number): ProcessIdentity | undefined {
  let current = pid;
  for (let depth = 0; depth < 32; depth++) {
    const stat = procStat(current);
    if (stat === undefined) return undefined;
    if (stat.ppid === parentPid) return { pid: current, startTime: stat.startTime };
    if (stat.ppid <= 1) return undefined;
    current = stat.ppid;
  }
  return undefined;
}

/** Whether the process has ended (gone from /proc, a zombie, or its pid reused by another). */
export function hasEnded(target: ProcessIdentity): boolean {
  const stat = procStat(target.pid);
  return stat === undefined || stat.state === 'Z' || stat.startTime !== target.startTime;
}

/** Resolves true once `target` has ended, false if it still runs after `timeoutMs`. */
export async function waitForEnd(target: ProcessIdentity, timeoutMs: number, pollMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!hasEnded(target)) {
    if (Date.now() >= deadline) return false;
    await delay(pollMs);
  }
  return true;
}
