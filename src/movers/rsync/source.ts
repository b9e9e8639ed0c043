/**
 * Entrypoint of the rsync source mover: pushes the volume to the destination over ssh, retrying
 * while the destination is unreachable, then tells the destination the result.
 *
 * Environment (defaults are the container's layout):
 *   SCRIBE_DESTINATION_ADDRESS  host name or IP of the destination's ssh Service  (required)
 *   SCRIBE_DESTINATION_PORT     its port                                              (22)
 *   SCRIBE_SSH_USER             user to log in as (seed: sshUser)                     (root)
 *   SCRIBE_DESTINATION_PATH     directory inside the destination volume (seed: path)  (/)
 *   SCRIBE_DATA_DIR             the volume to send                                    (/data)
 *   SCRIBE_KEYS_DIR             the mounted key Secret: `source` (private key) and
 *                               `destination.pub` (the destination's host key, pinned) (/keys)
 *   SCRIBE_RUN_DIR              writable parent of the private run directory (key copy,
 *                               known_hosts, ssh_config); the root fs is read-only     (os.tmpdir())
 *   SCRIBE_RETRY_DEADLINE_SECONDS     stop retrying connection failures after this long (300)
 *   SCRIBE_RETRY_INITIAL_DELAY_SECONDS first wait between attempts; doubles each time  (0.1)
 *   SCRIBE_RETRY_MAX_DELAY_SECONDS    cap on the wait between attempts                 (30)
 *   SCRIBE_CONNECT_TIMEOUT_SECONDS    ssh ConnectTimeout                               (30)
 *   SCRIBE_PRESERVE_XATTRS      also copy extended attributes (rsync -X)              (true)
 *   SCRIBE_RSYNC_BWLIMIT        bandwidth limit in KiB/s (rsync --bwlimit)            (none)
 *   SCRIBE_RSYNC, SCRIBE_SSH    executables, name on PATH or path               (rsync, ssh)
 *   SCRIBE_NSS_WRAPPER          libnss_wrapper.so, for a uid without a passwd entry (Debian:
 *                               libnss-wrapper; see prepareRunDir)           (found where installed)
 *
 * It runs as root (privileged: it reads every file) or as any other user (unprivileged: it reads
 * what that user may; a file it cannot read fails the sync, naming the file, see unreadable.ts).
 *
 * Output: rsync's itemized changes and statistics, one line per attempt, `scribe progress: …`
 * every 5 s while rsync runs (../runtime/progress.ts: what `kubectl scribe sync` shows), a summary block for
 * status.latestMoverStatus (see summary.ts) and a final `scribe rsync source: result: …` line.
 *
 * Exit code: rsync's exit code (0 = the volume arrived and the destination was told; also when
 * rsync's 23 said only that the destination's user could not set attributes of entries it does
 * not own, see unreadable.ts); 1 for a configuration error, or when the data arrived but the
 * destination did not acknowledge it.
 */
import { copyFileSync, chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { booleanEnv, ConfigError, findExecutable, numberEnv, portEnv, requiredEnv, stringEnv } from '../runtime/env.js';
import { FIRST_ATTEMPT_WAIT_SECONDS, waitForSsh } from './destination-wait.js';
import { sentFilePath } from './itemize.js';
import { isOpenSshPublicKey } from './keys.js';
import { readMountedKey } from './key-files.js';
import { currentIds, describeIds, findNssWrapperLibrary, hasPasswdEntry, writeNssWrapper } from './nss-wrapper.js';
import { delay } from './process.js';
import { runTool, signalRunningTools, type ToolResult } from '../runtime/process.js';
import { SHUTDOWN_FROM_STDIN, shutdownCommand } from './remote-command.js';
import {
  classifyAttempt,
  DEFAULT_BACKOFF,
  DEFAULT_RETRY_DEADLINE_SECONDS,
  handshakeRetrySeconds,
  nextDelaySeconds,
  type AttemptVerdict,
  type BackoffPolicy,
} from './retry.js';
import {
  destinationSubPath,
  knownHostsLine,
  renderSshClientConfig,
  rsyncArgs,
  rsyncRemoteShell,
} from './ssh-client.js';
import { summarizeRsyncLog } from './summary.js';
import { FileErrorTally } from './unreadable.js';
import { ProgressMeter } from '../runtime/progress.js';
import { writeTerminationMessage } from '../runtime/termination.js';

const PREFIX = 'scribe rsync source:';
/** rsync's output is read only through the attempt's tail: keep no more of each stream. */
const RSYNC_TAIL_BYTES = 64 * 1024;

function log(message: string): void {
  process.stdout.write(`${PREFIX} ${message}\n`);
}

function sourceConfig(env: NodeJS.ProcessEnv) {
  const address = requiredEnv(env, 'SCRIBE_DESTINATION_ADDRESS');
  if (!/^[A-Za-z0-9.:_[\]%-]+$/.test(address))
    throw new ConfigError(`SCRIBE_DESTINATION_ADDRESS "${address}" is not a host name or IP address`);
  const user = stringEnv(env, 'SCRIBE_SSH_USER', 'root');
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(user))
    throw new ConfigError(`SCRIBE_SSH_USER "${user}" is not a user name`);
  let subPath: string;
  try {
    subPath = destinationSubPath(stringEnv(env, 'SCRIBE_DESTINATION_PATH', '/'));
  } catch (error) {
    throw new ConfigError(`SCRIBE_DESTINATION_PATH: ${(error as Error).message}`);
  }
  const bwlimit = env.SCRIBE_RSYNC_BWLIMIT;
  // ssh exits with "No user exists for uid N" when the user it runs as has no passwd entry.
  const needsNssWrapper = !hasPasswdEntry();
  return {
    // ssh takes a bare IPv6 address; rsync's brackets are added where rsync needs them.
    address: address.replace(/^\[(.*)\]$/, '$1'),
    port: portEnv(env, 'SCRIBE_DESTINATION_PORT', 22),
    user,
    subPath,
    dataDir: stringEnv(env, 'SCRIBE_DATA_DIR', '/data'),
    keysDir: stringEnv(env, 'SCRIBE_KEYS_DIR', '/keys'),
    runDir: stringEnv(env, 'SCRIBE_RUN_DIR', tmpdir()),
    deadlineSeconds: numberEnv(env, 'SCRIBE_RETRY_DEADLINE_SECONDS', DEFAULT_RETRY_DEADLINE_SECONDS, 0, 7 * 24 * 3600),
    backoff: {
      initialSeconds: numberEnv(env, 'SCRIBE_RETRY_INITIAL_DELAY_SECONDS', DEFAULT_BACKOFF.initialSeconds, 0.01, 3600),
      maxSeconds: numberEnv(env, 'SCRIBE_RETRY_MAX_DELAY_SECONDS', DEFAULT_BACKOFF.maxSeconds, 0.01, 3600),
    } satisfies BackoffPolicy,
    connectTimeoutSeconds: Math.ceil(numberEnv(env, 'SCRIBE_CONNECT_TIMEOUT_SECONDS', 30, 1, 3600)),
    preserveXattrs: booleanEnv(env, 'SCRIBE_PRESERVE_XATTRS', true),
    ...(bwlimit === undefined || bwlimit === ''
      ? {}
      : { bwlimitKiB: Math.ceil(numberEnv(env, 'SCRIBE_RSYNC_BWLIMIT', 0, 1, 1e9)) }),
    rsync: findExecutable(stringEnv(env, 'SCRIBE_RSYNC', 'rsync'), env.PATH, 'SCRIBE_RSYNC'),
    ssh: findExecutable(stringEnv(env, 'SCRIBE_SSH', 'ssh'), env.PATH, 'SCRIBE_SSH'),
    ...(needsNssWrapper ? { nss: nssWrapperConfig(env) } : {}),
  };
}
type SourceConfig = ReturnType<typeof sourceConfig>;

/** The wrapper library and `env`, which rsync runs ssh through with it; only for a uid without a passwd entry. */
function nssWrapperConfig(env: NodeJS.ProcessEnv): { library: string; envCommand: string } {
  const library = findNssWrapperLibrary(env);
  if (library === undefined)
    throw new ConfigError(
      `uid ${currentIds().uid} has no passwd entry, which ssh needs, and libnss_wrapper.so was not found (Debian package libnss-wrapper, or SCRIBE_NSS_WRAPPER)`,
    );
  return { library, envCommand: findExecutable('env', env.PATH, 'PATH') };
}

/**
 * Longest control socket path that connection sharing is used with: a Unix socket path has at
 * most 107 bytes, and ssh binds a temporary name 17 bytes longer before renaming it (a longer one
 * is a fatal error, so the sync goes without sharing instead).
 */
const MAX_CONTROL_PATH_BYTES = 90;

/** The private run directory's files, and how ssh is run. */
interface RunDir {
  dir: string;
  sshConfig: string;
  controlPath?: string;
  /** ssh's environment (ours, plus nss_wrapper's for a uid without a passwd entry). */
  sshEnv: NodeJS.ProcessEnv;
  /** What rsync runs as its remote shell (-e): ssh, through `env` with nss_wrapper's variables when needed. */
  remoteShell: string;
}

/**
 * Writes the key copy, known_hosts and ssh_config into a fresh private directory; for a uid
 * without a passwd entry also nss_wrapper's passwd and group there (nss-wrapper.ts), which only
 * ssh gets: the name it gives the uid is never sent (ssh_config's User is the login name).
 */
function prepareRunDir(config: SourceConfig): RunDir {
  const destinationKey = readMountedKey(config.keysDir, 'destination.pub', 'source');
  if (!isOpenSshPublicKey(destinationKey)) throw new ConfigError('destination.pub is not an OpenSSH public key');
  readMountedKey(config.keysDir, 'source', 'source');
  if (!statSync(config.dataDir, { throwIfNoEntry: false })?.isDirectory())
    throw new ConfigError(`the data directory ${config.dataDir} (SCRIBE_DATA_DIR) does not exist`);
  const dir = mkdtempSync(join(config.runDir, 'scribe-rsync-source-'));
  const identity = join(dir, 'source');
  // ssh ignores a private key that others can read, and Secret volumes are often mounted 0644.
  copyFileSync(join(config.keysDir, 'source'), identity);
  chmodSync(identity, 0o600);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, knownHostsLine(destinationKey), { mode: 0o600 });
  const sshConfig = join(dir, 'ssh_config');
  const socket = join(dir, 'connection');
  const controlPath = Buffer.byteLength(socket) <= MAX_CONTROL_PATH_BYTES ? socket : undefined;
  writeFileSync(
    sshConfig,
    renderSshClientConfig({
      port: config.port,
      user: config.user,
      identityFile: identity,
      knownHostsFile: knownHosts,
      connectTimeoutSeconds: config.connectTimeoutSeconds,
      ...(controlPath === undefined ? {} : { controlPath }),
    }),
    { mode: 0o600 },
  );
  if (controlPath === undefined)
    log(`the run directory's path is too long for a shared ssh connection (${socket}); rsync connects by itself`);
  let sshEnv: NodeJS.ProcessEnv = process.env;
  let remoteShell = rsyncRemoteShell(config.ssh, sshConfig);
  if (config.nss !== undefined) {
    const ids = currentIds();
    const wrapper = writeNssWrapper(
      dir,
      config.nss.library,
      [{ name: 'scribe', uid: ids.uid, gid: ids.gid, gecos: 'Scribe rsync source', home: dir, shell: '/bin/sh' }],
      [ids.gid, ...ids.groups],
    );
    sshEnv = { ...process.env, ...wrapper.env };
    remoteShell = rsyncRemoteShell(config.ssh, sshConfig, { command: config.nss.envCommand, variables: wrapper.env });
    log(`running as ${describeIds(ids)}, which has no passwd entry: ssh looks it up through nss_wrapper`);
  }
  return { dir, sshConfig, ...(controlPath === undefined ? {} : { controlPath }), sshEnv, remoteShell };
}

/** A sent file's size for progress; 0 when it is gone already (it changed while being copied). */
function fileSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

/** Runs rsync until it succeeds, fails for good, or the retry deadline passes. */
async function pushWithRetries(
  config: SourceConfig,
  run: RunDir,
  handshake: EarlyHandshake,
): Promise<{ status: number; rsyncStatus: number; verdict: AttemptVerdict; attempts: number; log: string }> {
  const args = rsyncArgs({
    sshCommand: run.remoteShell,
    dataDir: config.dataDir,
    address: config.address,
    subPath: config.subPath,
    preserveXattrs: config.preserveXattrs,
    asRoot: process.getuid?.() === 0,
    ...(config.bwlimitKiB === undefined ? {} : { bwlimitKiB: config.bwlimitKiB }),
  });
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    log(`attempt ${attempt}: syncing ${config.dataDir} to ${config.address}:${config.port} (path ${config.subPath})`);
    if (attempt === 1) await awaitDestination(config, started);
    handshake.open();
    // rsync's ssh then opens its session over the handshake's connection instead of making a
    // second one beside it; when that connection failed, rsync connects by itself and says why.
    await handshake.connected();
    const meter = new ProgressMeter((line) => process.stdout.write(`${line}\n`)).start();
    const fileErrors = new FileErrorTally(`uid ${currentIds().uid}`);
    const { status, tail } = await runTool(config.rsync, args, {
      env: { ...process.env, LANG: 'C' },
      keepBytes: RSYNC_TAIL_BYTES,
      onStdoutLine: (line) => {
        meter.observeLine();
        fileErrors.observe(line);
        const path = sentFilePath(line);
        if (path !== undefined) meter.add(fileSize(join(config.dataDir, path)));
      },
      onStderrLine: (line) => fileErrors.observe(line),
    });
    meter.stop();
    const verdict = classifyAttempt(status, tail, fileErrors.errors);
    if (verdict.outcome !== 'retry')
      return {
        status: verdict.outcome === 'success' ? 0 : status,
        rsyncStatus: status,
        verdict,
        attempts: attempt,
        log: tail,
      };
    const wait = nextDelaySeconds(attempt, (Date.now() - started) / 1000, config.deadlineSeconds, config.backoff);
    if (wait === undefined) {
      const reason = `gave up after ${attempt} attempt(s) in ${Math.round((Date.now() - started) / 1000)}s (SCRIBE_RETRY_DEADLINE_SECONDS=${config.deadlineSeconds}); last error: ${verdict.reason}`;
      return { status, rsyncStatus: status, verdict: { outcome: 'fatal', reason }, attempts: attempt, log: tail };
    }
    log(`attempt ${attempt} failed (${verdict.reason}); retrying in ${wait.toFixed(1)}s`);
    await delay(wait * 1000);
  }
}

/**
 * Before the first attempt, waits a little (within the retry deadline) for the destination's
 * sshd to answer, so that the attempt does not start ssh and rsync only to fail on a destination
 * still between two cycles (destination-wait.ts); later attempts keep the back-off (retry.ts).
 */
async function awaitDestination(config: SourceConfig, started: number): Promise<void> {
  const remainingMs = config.deadlineSeconds * 1000 - (Date.now() - started);
  if (remainingMs <= 0) return;
  const timeoutMs = Math.min(FIRST_ATTEMPT_WAIT_SECONDS * 1000, remainingMs);
  const answer = await waitForSsh(config.address, config.port, timeoutMs);
  const waited = (answer.waitedMs / 1000).toFixed(1);
  if (!answer.answered)
    log(`the destination did not answer within ${waited}s (${answer.lastMiss ?? 'no answer'}); trying anyway`);
  else if (answer.lastMiss !== undefined) log(`waited ${waited}s for the destination to listen (${answer.lastMiss})`);
}

/**
 * A `shutdown -` session opened before the transfer, on the one ssh connection of the run: its
 * ssh is the connection's master (ControlMaster), and rsync's ssh opens its session over it.
 * So the run makes one connection (key exchange and authentication on both sides, which on
 * 2 cores competed with the transfer when a second connection was made beside it), and handing
 * over the result at the end takes one round trip. A session that failed or is missing changes
 * nothing: rsync then connects by itself, and the result goes with `shutdown <code>` over a new
 * connection.
 */
class EarlyHandshake {
  private session?: {
    ended: boolean;
    deliver: (code: number) => void;
    result: Promise<ToolResult>;
    connected: Promise<boolean>;
  };

  constructor(
    private config: SourceConfig,
    /** The run directory; without its controlPath there is no sharing, and rsync connects by itself. */
    private run: RunDir,
  ) {}

  private get controlPath(): string | undefined {
    return this.run.controlPath;
  }

  /** Opens a session unless one is open (each rsync attempt calls this: the destination may have come up since). */
  open(): void {
    if (this.session !== undefined && !this.session.ended) return;
    let deliver: (code: number) => void = () => undefined;
    const input = new Promise<string>((resolve) => (deliver = (code) => resolve(`${code}\n`)));
    const master = this.controlPath === undefined ? [] : ['-o', 'ControlMaster=yes'];
    const args = ['-F', this.run.sshConfig, ...master, this.config.address, SHUTDOWN_FROM_STDIN];
    const result = runTool(this.config.ssh, args, { input, quiet: true, env: this.run.sshEnv });
    const session = { ended: false, deliver, result, connected: Promise.resolve(false) };
    void result.then(() => (session.ended = true));
    if (this.controlPath !== undefined)
      session.connected = waitForPath(this.controlPath, () => session.ended, this.config.connectTimeoutSeconds * 1000);
    this.session = session;
  }

  /** Whether the session's connection is up for other sessions to use (false: it failed or timed out). */
  connected(): Promise<boolean> {
    return this.session?.connected ?? Promise.resolve(false);
  }

  /** Hands `code` over the open session; false when none is open or the destination did not acknowledge. */
  async deliver(code: number): Promise<boolean> {
    if (this.session === undefined || this.session.ended) return false;
    this.session.deliver(code);
    const { status, tail } = await this.session.result;
    if (status !== 0) {
      log(`the handshake session failed (exit code ${status}): ${lastLine(tail)}; trying anew`);
      return false;
    }
    log(`the destination acknowledged exit code ${code} over the handshake session opened beside the transfer`);
    return true;
  }
}

/**
 * Resolves true once `path` exists (ssh creates the control socket after authenticating), false
 * when `gaveUp()` says the process making it ended first, or after `timeoutMs`. ssh gives no
 * other sign that its connection is ready, so this looks every few milliseconds.
 */
async function waitForPath(path: string, gaveUp: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) return true;
    if (gaveUp()) return false;
    await delay(5);
  }
  return false;
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** Sends `shutdown <code>` to the destination; retries briefly when the transfer itself went well. */
async function sendHandshake(config: SourceConfig, run: RunDir, code: number): Promise<boolean> {
  const attempts = code === 0 ? 3 : 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const { status, tail } = await runTool(config.ssh, ['-F', run.sshConfig, config.address, shutdownCommand(code)], {
      env: run.sshEnv,
    });
    if (status === 0) return true;
    log(`telling the destination the result failed (exit code ${status}): ${lastLine(tail)}`);
    if (attempt < attempts) await delay(handshakeRetrySeconds(config.backoff) * 1000);
  }
  return false;
}

async function main(): Promise<number> {
  const config = sourceConfig(process.env);
  const run = prepareRunDir(config);
  const { dir } = run;
  // Stopped (Pod deleted, local runtime shutting down): stop rsync and remove the key copy.
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.once(signal, () => {
      signalRunningTools('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      log(`result: stopped by ${signal}`);
      process.exit(signal === 'SIGTERM' ? 143 : 130);
    });
  try {
    const started = Date.now();
    const handshake = new EarlyHandshake(config, run);
    const push = await pushWithRetries(config, run, handshake);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const finished = `rsync finished in ${seconds}s with exit code ${push.rsyncStatus} after ${push.attempts} attempt(s)`;
    log(finished);
    const notes = [`${PREFIX} ${finished}`];
    if (push.verdict.outcome === 'fatal') {
      log(`error: ${push.verdict.reason}`);
      notes.push(`${PREFIX} error: ${push.verdict.reason}`);
    }
    if (push.verdict.outcome === 'success' && push.verdict.warning !== undefined) {
      log(`warning: ${push.verdict.warning}`);
      notes.push(`${PREFIX} warning: ${push.verdict.warning}`);
    }
    const acknowledged = (await handshake.deliver(push.status)) || (await sendHandshake(config, run, push.status));
    let code = push.status;
    let result =
      push.status === 0 ? 'synchronization succeeded' : `synchronization failed with rsync exit code ${push.status}`;
    if (push.status === 0 && !acknowledged) {
      code = 1;
      result = 'the data was sent but the destination did not acknowledge the result';
    }
    notes.push(`${PREFIX} result: ${result}`);
    const summary = summarizeRsyncLog(`${push.log}\n${notes.join('\n')}\n`);
    process.stdout.write(`${PREFIX} summary:\n${summary}\n`);
    writeTerminationMessage(summary);
    log(`result: ${result}`);
    return code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(
      `error: ${error instanceof ConfigError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    log('result: configuration error');
    process.exit(1);
  },
);
