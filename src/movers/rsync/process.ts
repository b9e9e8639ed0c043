/** Process helpers of the rsync entrypoints (running a tool is ../runtime/process.ts). */
import { readFileSync } from 'node:fs';
import { extname, isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

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
