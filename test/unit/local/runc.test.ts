/**
 * The node agent's container runner (src/local/agent/runc.ts) with the real runc and the real
 * mover image (scripts/image.sh builds it when missing; umoci unpacks it once here). Needs root,
 * as the agent does: runc and the overlay mount. Each container runs from its own bundle in a
 * temp dir, under a runc --root of this file's own.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupNodeContainers,
  findRunc,
  ociSpec,
  overlaySource,
  START_ERROR_EXIT_CODE,
  startContainer,
  type ContainerMount,
  type ContainerRun,
} from '../../../src/local/agent/runc.js';
import type { ContainerSecurity } from '../../../src/local/agent/security.js';

const exec = promisify(execFile);
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const moduleUrl = new URL('../../../src/local/agent/runc.ts', import.meta.url).href;

/** Bit numbers of the capabilities used here (linux/capability.h). */
const CAP_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_RAW: 13,
  CAP_SYS_CHROOT: 18,
  CAP_MKNOD: 27,
  CAP_AUDIT_WRITE: 29,
  CAP_SETFCAP: 31,
};
const DEFAULT_CAPS = Object.keys(CAP_BITS);
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function security(overrides: Partial<ContainerSecurity> = {}, caps = DEFAULT_CAPS): ContainerSecurity {
  return {
    identity: { uid: 0, gid: 0, additionalGids: [] },
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
    noNewPrivileges: false,
    readOnlyRootFilesystem: false,
    privileged: false,
    maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    ...overrides,
  };
}

let work = '';
let rootfs = '';
let stateRoot = '';
let runc = '';
let runs = 0;

/** A run in a bundle of its own; `script` runs with /bin/sh -c unless `args` are given. */
function containerRun(script: string, options: Partial<ContainerRun> = {}): ContainerRun {
  const n = ++runs;
  const bundleDir = join(work, `bundle-${n}`);
  return {
    runc,
    stateRoot,
    id: `runc-test-${process.pid}-${n}`,
    bundleDir,
    rootfs,
    args: ['/bin/sh', '-c', script],
    env: { PATH },
    cwd: '/',
    hostname: 'runc-test',
    security: security(),
    mounts: [],
    logFile: join(work, `bundle-${n}.log`),
    ...options,
  };
}

async function runToEnd(run: ContainerRun) {
  const outcome = await startContainer(run).outcome;
  return { ...outcome, log: await readFile(run.logFile, 'utf8') };
}

/** Polls `condition` every 20 ms until it holds, failing after `timeoutMs`. */
async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const logShows = (run: ContainerRun, text: string) => async () =>
  (await readFile(run.logFile, 'utf8').catch(() => '')).includes(text);

const mountedAt = async (path: string) =>
  (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((line) => line.split(' ')[4] === path);

async function listed(root: string): Promise<{ id: string; status: string }[]> {
  const { stdout } = await exec(runc, ['--root', root, 'list', '--format', 'json']);
  return (JSON.parse(stdout) as { id: string; status: string }[] | null) ?? [];
}

/**
 * The mover image's layout as DIR:REF. When the current inputs have none it is built, and the
 * layout the build reports is used: sources edited meanwhile would change what `path` prints.
 */
async function moverImage(): Promise<string> {
  const { stdout } = await exec('bash', ['scripts/image.sh', 'path', 'scribe-mover'], { cwd: repo });
  const layout = stdout.trim();
  if (existsSync(layout.slice(0, layout.lastIndexOf(':')))) return layout;
  const built = await exec('bash', ['scripts/image.sh', '--json'], { cwd: repo, maxBuffer: 16 * 1024 * 1024 });
  for (const line of built.stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const image = JSON.parse(line) as { name: string; layout: string; ref: string };
    if (image.name === 'scribe-mover') return `${image.layout}:${image.ref}`;
  }
  throw new Error(`scripts/image.sh --json built no scribe-mover: ${built.stdout}`);
}

beforeAll(async () => {
  runc = findRunc();
  work = await mkdtemp(join(tmpdir(), 'scribe-runc-test-'));
  stateRoot = join(work, 'state');
  rootfs = join(work, 'rootfs');
  await exec('umoci', ['raw', 'unpack', '--image', await moverImage(), rootfs], { maxBuffer: 64 * 1024 * 1024 });
}, 600_000);

afterAll(async () => {
  if (!work) return;
  await cleanupNodeContainers(runc, stateRoot);
  await rm(work, { recursive: true, force: true });
});

describe('ociSpec', () => {
  it('writes containerd defaults, then the volumes parents first, without network or user namespaces', () => {
    const mounts: ContainerMount[] = [
      { source: '/h/sub', target: '/data/sub', readOnly: true },
      { source: '/h/data', target: '/data', readOnly: false },
      { source: '/h/shm', target: '/dev/shm', readOnly: false },
    ];
    const spec = ociSpec({ ...containerRun('true'), mounts }) as {
      process: { rlimits?: unknown; terminal: boolean };
      root: { path: string; readonly: boolean };
      mounts: { destination: string; type: string; options: string[] }[];
      linux: { namespaces: { type: string }[] };
    };
    expect(spec.process.terminal).toBe(false);
    expect(spec.process.rlimits).toBeUndefined();
    expect(spec.root).toEqual({ path: 'rootfs', readonly: false });
    expect(spec.mounts.map((m) => m.destination)).toEqual([
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/mqueue',
      '/sys',
      '/sys/fs/cgroup',
      '/data',
      '/data/sub',
      '/dev/shm',
    ]);
    expect(spec.mounts.find((m) => m.destination === '/data/sub')?.options).toEqual(['rbind', 'rprivate', 'ro']);
    expect(spec.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(spec.linux.namespaces.map((n) => n.type).sort()).toEqual(['ipc', 'mount', 'pid', 'uts']);
  });
});

describe('startContainer', () => {
  it('runs the process with the given uid, gid and additional gids', async () => {
    const identity = { uid: 1000, gid: 1000, additionalGids: [2000] };
    const result = await runToEnd(containerRun('', { args: ['id'], security: security({ identity }) }));
    expect(result).toEqual({ exitCode: 0, log: 'uid=1000 gid=1000 groups=1000,2000\n' });
  });

  it('gives the process exactly the capabilities named', async () => {
    const caps = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const mask = caps.reduce((m, name) => m | (1n << BigInt(CAP_BITS[name] ?? -1)), 0n);
    const run = containerRun('grep -E "^Cap(Bnd|Eff):" /proc/self/status', { security: security({}, caps) });
    const { log } = await runToEnd(run);
    const hex = mask.toString(16).padStart(16, '0');
    expect(log).toBe(`CapEff:\t${hex}\nCapBnd:\t${hex}\n`);
  });

  it('sets no_new_privs when asked, and only then', async () => {
    const script = 'grep NoNewPrivs /proc/self/status';
    const on = await runToEnd(containerRun(script, { security: security({ noNewPrivileges: true }) }));
    const off = await runToEnd(containerRun(script));
    expect([on.log, off.log]).toEqual(['NoNewPrivs:\t1\n', 'NoNewPrivs:\t0\n']);
  });

  it('with a read-only root: writing / fails with EROFS, volumes work, missing mount points are made', async () => {
    const volume = join(work, 'volume-ro-root');
    await mkdir(join(volume, 'sub'), { recursive: true });
    await writeFile(join(volume, 'sub', 'f'), 'in sub\n');
    const file = join(work, 'hosts-file');
    await writeFile(file, 'a file mount\n');
    const mounts = [
      { source: join(volume, 'sub'), target: '/data/sub', readOnly: true },
      { source: volume, target: '/data', readOnly: false },
      { source: file, target: '/etc/scribe/hosts', readOnly: true },
    ];
    const script = [
      'touch /x 2>&1 || true',
      'echo written > /data/y && echo wrote-volume',
      'cat /data/sub/f /etc/scribe/hosts',
      'touch /data/sub/z 2>/dev/null || echo sub-read-only',
    ].join('; ');
    const run = containerRun(script, { mounts, security: security({ readOnlyRootFilesystem: true }) });
    const { exitCode, log } = await runToEnd(run);
    expect(exitCode).toBe(0);
    expect(log).toBe(
      "touch: cannot touch '/x': Read-only file system\nwrote-volume\nin sub\na file mount\nsub-read-only\n",
    );
    expect(await readFile(join(volume, 'y'), 'utf8')).toBe('written\n');
  });

  it('with a writable root: writes land in the run upper dir, the shared rootfs is unchanged', async () => {
    const passwd = await readFile(join(rootfs, 'etc/passwd'), 'utf8');
    const run = containerRun('echo new > /written && echo extra:x:1:1::/:/bin/sh >> /etc/passwd');
    expect((await runToEnd(run)).exitCode).toBe(0);
    expect(await readFile(join(run.bundleDir, 'upper', 'written'), 'utf8')).toBe('new\n');
    expect(await readFile(join(run.bundleDir, 'upper', 'etc/passwd'), 'utf8')).toBe(
      `${passwd}extra:x:1:1::/:/bin/sh\n`,
    );
    expect(existsSync(join(rootfs, 'written'))).toBe(false);
    expect(await readFile(join(rootfs, 'etc/passwd'), 'utf8')).toBe(passwd);
    // The overlay is unmounted after the run: the merged root is an empty directory again.
    expect(await mountedAt(join(run.bundleDir, 'rootfs'))).toBe(false);
  });

  it('gives the process its env, working directory and hostname', async () => {
    const run = containerRun('echo "$GREETING|$(pwd)|$(hostname)"', {
      env: { PATH, GREETING: 'hello, world' },
      cwd: '/usr/share',
      hostname: 'pod-a',
    });
    expect((await runToEnd(run)).log).toBe('hello, world|/usr/share|pod-a\n');
  });

  it('reports the exit code', async () => {
    expect((await runToEnd(containerRun('exit 3'))).exitCode).toBe(3);
  });

  it('terminate: a process that handles SIGTERM exits with its own code', async () => {
    const run = containerRun('trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done');
    const container = startContainer(run);
    await waitFor('the process to be ready', logShows(run, 'ready'));
    expect(await container.terminate(30_000)).toBe(7);
    expect(await readFile(run.logFile, 'utf8')).toBe('ready\ngot-term\n');
    expect(await listed(stateRoot)).toEqual([]);
  });

  it('terminate: a process that ignores SIGTERM is killed after the grace period', async () => {
    const run = containerRun('trap "" TERM; echo ready; while :; do sleep 0.1; done');
    const container = startContainer(run);
    await waitFor('the process to be ready', logShows(run, 'ready'));
    const started = Date.now();
    expect(await container.terminate(700)).toBe(137);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
  });

  it('kill: SIGKILL at once', async () => {
    const run = containerRun('echo ready; while :; do sleep 0.1; done');
    const container = startContainer(run);
    await waitFor('the process to be ready', logShows(run, 'ready'));
    expect(await container.kill()).toBe(137);
  });

  it.each([
    [
      'a missing executable',
      ['/no/such/program'],
      /exec: "\/no\/such\/program": stat \/no\/such\/program: no such file/,
    ],
    ['a program not on PATH', ['no-such-program'], /exec: "no-such-program": executable file not found in \$PATH/],
    ['a file that is not executable', ['/etc/passwd'], /exec: "\/etc\/passwd": permission denied/],
  ])('%s is a start error with runc message, in the status and the log', async (_, args, message) => {
    const run = containerRun('', { args });
    const { exitCode, startError, log } = await runToEnd(run);
    expect(exitCode).toBe(START_ERROR_EXIT_CODE);
    expect(startError).toMatch(message);
    expect(log).toContain(startError);
    expect(await mountedAt(join(run.bundleDir, 'rootfs'))).toBe(false);
  });

  it('a run that cannot be prepared is a start error too, before runc', async () => {
    const { exitCode, startError, log } = await runToEnd(containerRun('true', { id: 'not a runc id' }));
    expect(exitCode).toBe(START_ERROR_EXIT_CODE);
    expect(startError).toBe('invalid container id "not a runc id"');
    expect(log).toBe(`${startError}\n`);
  });
});

describe('cleanupNodeContainers', () => {
  it('kills the containers of an agent that was killed, and unmounts their overlays', async () => {
    const root = join(work, 'state-cleanup');
    const run = containerRun('echo ready; while :; do sleep 0.1; done', { stateRoot: root });
    // An agent of its own that starts the container, then is killed with SIGKILL.
    const script = join(work, 'agent.ts');
    await writeFile(
      script,
      `import { startContainer } from ${JSON.stringify(moduleUrl)};\n` +
        `startContainer(JSON.parse(process.argv[2]));\nsetInterval(() => undefined, 1000);\n`,
    );
    const agent = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(run)], {
      cwd: repo,
      stdio: 'ignore',
    });
    const agentExit = new Promise((r) => agent.once('exit', r));
    await waitFor('the process to be ready', logShows(run, 'ready'));
    agent.kill('SIGKILL');
    await agentExit;
    expect(await listed(root)).toEqual([expect.objectContaining({ id: run.id, status: 'running' })]);

    // An overlay left mounted without a container (the agent was killed between mount and run).
    const orphan = join(work, 'orphan');
    await Promise.all(['upper', 'work', 'rootfs'].map((d) => mkdir(join(orphan, d), { recursive: true })));
    const options = `lowerdir=${rootfs},upperdir=${join(orphan, 'upper')},workdir=${join(orphan, 'work')}`;
    await exec('mount', ['-t', 'overlay', overlaySource(root), '-o', options, join(orphan, 'rootfs')]);

    expect(await cleanupNodeContainers(runc, root)).toEqual([run.id]);
    expect(await listed(root)).toEqual([]);
    expect(await mountedAt(join(run.bundleDir, 'rootfs'))).toBe(false);
    expect(await mountedAt(join(orphan, 'rootfs'))).toBe(false);
    expect(await cleanupNodeContainers(runc, root)).toEqual([]);
  });
});
