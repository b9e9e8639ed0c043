/**
 * One container run with runc, from its image's root filesystem, as containerd's CRI plugin runs
 * it:
 * - the image's unpacked root filesystem is the read-only lower layer of an overlay mounted at
 *   <bundleDir>/rootfs, its upper and work dirs in the bundle, so each run writes its own layer
 *   (containerd's overlayfs snapshotter) and the shared rootfs is never written;
 * - <bundleDir>/config.json is the OCI runtime spec ociSpec() writes: the process's ids,
 *   capabilities and no_new_privs from the resolved securityContext (security.ts), containerd's
 *   default mounts, then the volumes; its own PID, IPC, UTS and mount namespaces but the host's
 *   network (pods listen on their own loopback address) and no user namespace (real ids);
 * - `runc run` in the foreground is the container's parent, in a process group of its own (a
 *   Ctrl-C meant for the agent is not forwarded); its exit status is the container's (128+n for
 *   signal n). The container's stdout and stderr are the log file itself: output survives the
 *   agent;
 * - signals go through `runc kill`; after the exit, `runc delete --force` and the overlay is
 *   unmounted; the bundle dir stays for the caller to remove;
 * - a process that cannot start (missing executable, permission denied, a mount that fails)
 *   makes runc print its error to the log and exit 1; its JSON log (--log) says it was runc's
 *   error, so the run ends with 128 and `startError` holds runc's text, as containerd's
 *   StartError.
 * Unlike bubblewrap's --die-with-parent, a runc container outlives an agent that is killed: the
 * agent calls cleanupNodeContainers() when it starts, which kills and deletes whatever runc still
 * lists under its state root and unmounts every overlay it mounted (each is tagged with the state
 * root, see overlaySource), including those of runs whose `runc run` ended while it was gone.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { delimiter, join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { ContainerSecurity } from './security.js';

const execFileAsync = promisify(execFile);

/** One bind mount into the container. */
export interface ContainerMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Everything needed to run one container once. */
export interface ContainerRun {
  runc: string;
  /** runc --root: one per node agent, so its containers can be found again after a restart. */
  stateRoot: string;
  /** Unique per container run (letters, digits, `_+-.`). */
  id: string;
  /** Per run: config.json, the overlay's upper and work dirs, the merged root at rootfs/. */
  bundleDir: string;
  /** The image's unpacked root filesystem: the overlay's lower layer, shared, never written. */
  rootfs: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  hostname: string;
  security: ContainerSecurity;
  mounts: ContainerMount[];
  logFile: string;
}

/** How a run ended. */
export interface ContainerOutcome {
  /** The process's exit code (128+n for signal n), or START_ERROR_EXIT_CODE. */
  exitCode: number;
  /** runc's error when the process never started (the container status's StartError message). */
  startError?: string;
}

/** A running container. */
export interface ContainerProcess {
  readonly id: string;
  /** The pid of its `runc run` (the container's own process is its child, in its PID namespace). */
  readonly runcPid: number;
  /** Resolves with the exit code once the container has exited (128+n for signal n). */
  readonly exited: Promise<number>;
  /** SIGTERM to the container's process, SIGKILL after `graceMs`; resolves on exit. */
  terminate(graceMs: number): Promise<number>;
  /** SIGKILL at once; resolves on exit. */
  kill(): Promise<number>;
  /** Resolves after the container is deleted and its overlay unmounted. */
  readonly outcome: Promise<ContainerOutcome>;
}

/** The exit code containerd gives a container whose process could not start. */
export const START_ERROR_EXIT_CODE = 128;

const RUNC_ID = /^[\w+.-]+$/;
const KILL_RETRY_MS = 50;

/** The absolute path of `runc` on PATH, or an error saying how to install it. */
export function findRunc(): string {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const candidate = join(dir, 'runc');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error('runc not found on PATH: install the Debian package "runc"');
}

type Mount = { destination: string; type: string; source: string; options: string[] };

/** containerd's default mounts as its CRI plugin keeps them (no /run; cgroup added, read-only). */
function defaultMounts(privileged: boolean): Mount[] {
  // A privileged container gets /sys and its cgroups writable, as containerd gives them.
  const ro = privileged ? [] : ['ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    // containerd binds the pod sandbox's /dev/shm; without a sandbox each container has its own.
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', ...ro],
    },
  ];
}

const depth = (path: string) => posix.normalize(path).split('/').length;

/** The volumes as binds, parents before children so a child is not hidden by its parent. */
function bindMounts(mounts: ContainerMount[]): Mount[] {
  return [...mounts]
    .sort((a, b) => depth(a.target) - depth(b.target))
    .map((m) => ({
      destination: m.target,
      type: 'bind',
      source: m.source,
      options: ['rbind', 'rprivate', m.readOnly ? 'ro' : 'rw'],
    }));
}

/** Default mounts minus those a volume replaces (all of /dev's when /dev is one), as containerd. */
function keptDefaults(run: ContainerRun): Mount[] {
  const targets = new Set(run.mounts.map((m) => posix.normalize(m.target)));
  return defaultMounts(run.security.privileged).filter(
    (m) => !targets.has(m.destination) && !(targets.has('/dev') && m.destination.startsWith('/dev/')),
  );
}

/** The OCI runtime spec (config.json) for `run`, as containerd's CRI plugin writes one. */
export function ociSpec(run: ContainerRun): object {
  const { security } = run;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: {
        uid: security.identity.uid,
        gid: security.identity.gid,
        additionalGids: [...security.identity.additionalGids],
      },
      args: [...run.args],
      env: Object.entries(run.env).map(([key, value]) => `${key}=${value}`),
      cwd: run.cwd || '/',
      capabilities: {
        bounding: [...security.capabilities.bounding],
        effective: [...security.capabilities.effective],
        permitted: [...security.capabilities.permitted],
        inheritable: [...security.capabilities.inheritable],
        ambient: [...security.capabilities.ambient],
      },
      noNewPrivileges: security.noNewPrivileges,
      // No rlimits: the CRI plugin removes containerd's default RLIMIT_NOFILE (containerd/cri#515),
      // so the process inherits the runtime's limits.
    },
    // Relative to the bundle, where the overlay is mounted.
    root: { path: 'rootfs', readonly: security.readOnlyRootFilesystem },
    hostname: run.hostname,
    mounts: [...keptDefaults(run), ...bindMounts(run.mounts)],
    linux: {
      resources: { devices: [{ allow: !!security.privileged, access: 'rwm' }] },
      // No network namespace (the host's loopback) and no user namespace (real ids).
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [...security.maskedPaths],
      readonlyPaths: [...security.readonlyPaths],
    },
  };
}

/** The overlay's source name: marks the overlays of one state root for cleanupNodeContainers. */
export function overlaySource(stateRoot: string): string {
  return `scribe-runc-${createHash('sha256').update(resolve(stateRoot)).digest('hex').slice(0, 16)}`;
}

const bundlePaths = (run: ContainerRun) => ({
  upper: resolve(run.bundleDir, 'upper'),
  work: resolve(run.bundleDir, 'work'),
  merged: resolve(run.bundleDir, 'rootfs'),
  runcLog: resolve(run.bundleDir, 'runc.log'),
});

/** Runs a command to its end synchronously; throws with its stderr when it fails. */
function runSync(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr.trim()}`);
}

/** The bundle: its dirs, the overlay root and config.json (synchronous: startContainer is). */
function prepareBundle(run: ContainerRun): void {
  if (!RUNC_ID.test(run.id)) throw new Error(`invalid container id "${run.id}"`);
  const { upper, work, merged } = bundlePaths(run);
  // Overlay options are comma-separated and lowerdir colon-separated: such paths cannot be named.
  for (const path of [run.rootfs, upper, work]) {
    if (/[,:]/.test(path)) throw new Error(`cannot mount an overlay with "${path}": it holds ',' or ':'`);
  }
  for (const dir of [upper, work, merged]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(run.bundleDir, 'config.json'), JSON.stringify(ociSpec(run), null, 2));
  const options = `lowerdir=${resolve(run.rootfs)},upperdir=${upper},workdir=${work}`;
  runSync('mount', ['-t', 'overlay', overlaySource(run.stateRoot), '-o', options, merged]);
}

/** runc's own error (not the container's output) from its JSON log, if it logged one. */
function runcError(runcLog: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(runcLog, 'utf8');
  } catch {
    return undefined;
  }
  const errors: string[] = [];
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) errors.push(entry.msg);
    } catch {
      // not a JSON line
    }
  }
  return errors.at(-1);
}

/** Runs `runc --root <stateRoot> <args>`; resolves false when runc fails. */
async function runcQuiet(runc: string, stateRoot: string, args: string[]): Promise<boolean> {
  try {
    await execFileAsync(runc, ['--root', stateRoot, ...args]);
    return true;
  } catch {
    return false;
  }
}

/** Mount points currently mounted, deepest last, with their filesystem type and source. */
function mountTable(): { target: string; type: string; source: string }[] {
  const unescape = (field: string) =>
    field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const table = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const target = before.split(' ')[4];
    const [type, source] = after.split(' ');
    if (target && type && source !== undefined)
      table.push({ target: unescape(target), type, source: unescape(source) });
  }
  return table;
}

/** Unmounts `target` if it is mounted, lazily when something still holds it. */
async function unmount(target: string): Promise<void> {
  let real: string;
  try {
    real = realpathSync(target); // mountinfo names the real path
  } catch {
    return;
  }
  const mounted = () => mountTable().some((m) => m.target === real);
  if (!mounted()) return;
  try {
    await execFileAsync('umount', [target]);
  } catch {
    if (mounted()) await execFileAsync('umount', ['-l', target]);
  }
}

/** After `runc run` ended: runc's error if any, then the container deleted and its root unmounted. */
async function finish(run: ContainerRun, code: number, spawnError?: string): Promise<ContainerOutcome> {
  const startError = spawnError ?? (code !== 0 ? runcError(bundlePaths(run).runcLog) : undefined);
  await runcQuiet(run.runc, run.stateRoot, ['delete', '--force', run.id]);
  await unmount(bundlePaths(run).merged);
  return startError ? { exitCode: START_ERROR_EXIT_CODE, startError } : { exitCode: code };
}

/** A run that failed before runc: it ends at once as a start error. */
function failedProcess(run: ContainerRun, error: unknown): ContainerProcess {
  const startError = error instanceof Error ? error.message : String(error);
  try {
    writeFileSync(run.logFile, `${startError}\n`, { flag: 'a' });
  } catch {
    // the log dir itself is missing: the status still carries the message
  }
  const outcome = unmount(bundlePaths(run).merged)
    .catch(() => undefined)
    .then(() => ({ exitCode: START_ERROR_EXIT_CODE, startError }));
  const exited = outcome.then((o) => o.exitCode);
  return { id: run.id, runcPid: -1, outcome, exited, terminate: () => exited, kill: () => exited };
}

/** Starts the container; its stdout and stderr, and runc's errors, go to `run.logFile`. */
export function startContainer(run: ContainerRun): ContainerProcess {
  try {
    prepareBundle(run);
  } catch (error) {
    return failedProcess(run, error);
  }
  const logFd = openSync(run.logFile, 'a');
  const runcArgs = ['--root', run.stateRoot, '--log', bundlePaths(run).runcLog, '--log-format', 'json'];
  const child = spawn(run.runc, [...runcArgs, 'run', '--bundle', resolve(run.bundleDir), run.id], {
    // Its own process group: a Ctrl-C meant for the agent is not forwarded to the container.
    detached: true,
    // Non-terminal runc passes these descriptors to the process itself: output survives the agent.
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  let spawnError: string | undefined;
  const code = new Promise<number>((resolveCode) => {
    child.once('exit', (exitCode, signal) => resolveCode(exitCode ?? 128 + signalNumber(signal)));
    child.once('error', (error) => {
      spawnError = `${run.runc}: ${error.message}`;
      resolveCode(START_ERROR_EXIT_CODE);
    });
  });
  const outcome = code.then((c) => finish(run, c, spawnError));
  const exited = outcome.then((o) => o.exitCode);
  let done = false;
  void exited.then(() => (done = true));
  // `runc kill` fails until runc has created the container: retry until it lands or the run ends.
  const signal = async (name: 'TERM' | 'KILL') => {
    while (!done && !(await runcQuiet(run.runc, run.stateRoot, ['kill', run.id, name]))) {
      await Promise.race([exited, new Promise((r) => setTimeout(r, KILL_RETRY_MS))]);
    }
  };
  return {
    id: run.id,
    runcPid: child.pid ?? -1,
    outcome,
    exited,
    async terminate(graceMs: number) {
      if (done) return exited;
      void signal('TERM');
      const timer = setTimeout(() => void signal('KILL'), Math.max(0, graceMs));
      const exitCode = await exited;
      clearTimeout(timer);
      return exitCode;
    },
    async kill() {
      if (!done) void signal('KILL');
      return exited;
    },
  };
}

interface RuncListEntry {
  id: string;
  rootfs?: string;
}

/**
 * Kills and deletes every container runc lists under `stateRoot` and unmounts every overlay
 * mounted for it (an agent killed earlier left them); resolves with the ids it deleted.
 */
export async function cleanupNodeContainers(runc: string, stateRoot: string): Promise<string[]> {
  let listed: RuncListEntry[] = [];
  try {
    const { stdout } = await execFileAsync(runc, ['--root', stateRoot, 'list', '--format', 'json']);
    listed = (JSON.parse(stdout || 'null') as RuncListEntry[] | null) ?? [];
  } catch {
    // no state root yet: nothing was ever run
  }
  for (const container of listed) {
    // delete --force sends SIGKILL and waits for the container to stop before deleting it.
    await runcQuiet(runc, stateRoot, ['delete', '--force', container.id]);
    if (container.rootfs) await unmount(container.rootfs);
  }
  const source = overlaySource(stateRoot);
  const orphans = mountTable().filter((m) => m.type === 'overlay' && m.source === source);
  for (const mount of orphans.reverse()) await unmount(mount.target);
  return listed.map((c) => c.id);
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && SIGNALS[signal]) || 9;
}
