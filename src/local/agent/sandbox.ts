/**
 * One container as a local process in a bubblewrap sandbox. What the process sees:
 * - a fresh mount namespace whose root is a tmpfs holding the host's /usr and /etc read-only,
 *   the host's /bin, /sbin, /lib* (symlinks recreated, directories bound read-only), the
 *   directory of the node binary (read-only), the repository at /scribe (read-only: the mover
 *   image's app dir), the mover bundles at /scribe-bundles (read-only, see bundles.ts), a private
 *   /proc, /dev and /tmp, and /root as an empty tmpfs;
 * - every volume at its mountPath (read-only ones with --ro-bind);
 * - its own PID namespace with the command as PID 1 (--as-pid-1), as in a container: SIGTERM
 *   reaches it only if it handles it, and when it exits every process it left is killed;
 * - its own UTS namespace (hostname = the pod's hostname);
 * - the host's network namespace (loopback): it must listen on $POD_IP.
 * The process runs as root; securityContext users are not applied.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, openSync, closeSync, readlinkSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { BUNDLES_IN_CONTAINER } from './bundles.js';

/** One bind mount into the sandbox. */
export interface SandboxMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Everything needed to start one container process. */
export interface SandboxSpec {
  bwrap: string;
  command: string[];
  env: Record<string, string>;
  workingDir?: string;
  hostname: string;
  repoRoot: string;
  /** Bound read-only at BUNDLES_IN_CONTAINER and named in SCRIBE_BUNDLES, for bin/scribe. */
  bundlesDir?: string;
  mounts: SandboxMount[];
  logFile: string;
}

/** A running sandboxed process. */
export interface SandboxProcess {
  /** The bwrap process id (the command's pid in the host namespace comes later, see pid()). */
  readonly bwrapPid: number;
  /** Resolves with the exit code once the sandbox has exited (128+n for signal n). */
  readonly exited: Promise<number>;
  /** SIGTERM to the command, SIGKILL to the sandbox after `graceMs`; resolves on exit. */
  terminate(graceMs: number): Promise<number>;
  /** SIGKILL at once; resolves on exit. */
  kill(): Promise<number>;
}

/** The absolute path of `bwrap` on PATH, or an error saying how to install it. */
export function findBwrap(): string {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir, 'bwrap');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error('bwrap not found on PATH: install the Debian package "bubblewrap"');
}

/** The read-only host view every sandbox starts from. */
function rootFilesystemArgs(repoRoot: string, bundlesDir: string | undefined): string[] {
  const args = ['--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc'];
  for (const path of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(path), path);
    else if (stat.isDirectory()) args.push('--ro-bind', path, path);
  }
  // Node may live outside /usr (nvm, a tarball): bind its directory so `node` resolves the same.
  const nodeDir = dirname(realpathSync(process.execPath));
  if (!nodeDir.startsWith('/usr/')) args.push('--ro-bind', nodeDir, nodeDir);
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/root');
  args.push('--ro-bind', repoRoot, '/scribe');
  if (bundlesDir) args.push('--ro-bind', bundlesDir, BUNDLES_IN_CONTAINER);
  return args;
}

/** The bwrap argument list for `spec` (exported for tests and debugging). */
export function bwrapArgs(spec: SandboxSpec): string[] {
  const args = [
    '--die-with-parent', // the agent dying takes its containers with it
    '--unshare-pid',
    '--as-pid-1',
    '--unshare-uts',
    '--unshare-ipc',
    '--hostname',
    spec.hostname,
    ...rootFilesystemArgs(spec.repoRoot, spec.bundlesDir),
  ];
  // Parents before children, so a mount at /data/sub lands inside the one at /data.
  const mounts = [...spec.mounts].sort((a, b) => a.target.split('/').length - b.target.split('/').length);
  for (const mount of mounts) args.push(mount.readOnly ? '--ro-bind' : '--bind', mount.source, mount.target);
  const workingDir = spec.workingDir || '/';
  const insideMount = mounts.some((m) => workingDir === m.target || workingDir.startsWith(`${m.target}/`));
  // A container runtime creates a missing workingDir; on the tmpfs root bwrap can do the same.
  if (workingDir !== '/' && !insideMount && !/^\/(usr|etc|proc|dev|scribe)(\/|$)/.test(workingDir)) {
    args.push('--dir', workingDir);
  }
  args.push('--chdir', workingDir, '--info-fd', '3', '--', ...spec.command);
  return args;
}

/** Starts the container process; its stdout and stderr go to `spec.logFile` (appended). */
export function startSandbox(spec: SandboxSpec): SandboxProcess {
  const logFd = openSync(spec.logFile, 'a');
  const child = spawn(spec.bwrap, bwrapArgs(spec), {
    // The image's app dir holds its bundles; here they are beside it, and bin/scribe is told where.
    env: spec.bundlesDir ? { SCRIBE_BUNDLES: BUNDLES_IN_CONTAINER, ...spec.env } : spec.env,
    // The log file descriptor goes straight to the process: output survives the agent.
    stdio: ['ignore', logFd, logFd, 'pipe'],
  });
  closeSync(logFd);
  // bwrap reports the command's host pid on fd 3; signals go to it, not to bwrap, which
  // would otherwise die at once and SIGKILL the command without a grace period.
  let commandPid: number | undefined;
  let info = '';
  child.stdio[3]?.on('data', (chunk: Buffer) => {
    info += chunk.toString('utf8');
    const match = /"child-pid":\s*(\d+)/.exec(info);
    if (match) commandPid = Number(match[1]);
  });
  child.stdio[3]?.on('error', () => undefined);
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
    child.once('error', () => resolve(127));
  });
  let done = false;
  void exited.then(() => (done = true));
  const signal = (name: NodeJS.Signals) => {
    // SIGKILL to PID 1 of the sandbox ends its whole PID namespace; bwrap then exits too.
    const targets = name === 'SIGTERM' ? [commandPid] : [commandPid, child.pid];
    for (const pid of targets) {
      try {
        if (pid) process.kill(pid, name);
      } catch {
        // already gone
      }
    }
  };
  return {
    bwrapPid: child.pid ?? -1,
    exited,
    async terminate(graceMs: number) {
      if (done) return exited;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), Math.max(0, graceMs));
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (!done) signal('SIGKILL');
      return exited;
    },
  };
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && SIGNALS[signal]) || 9;
}
