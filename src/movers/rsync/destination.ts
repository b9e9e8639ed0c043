/**
 * Entrypoint of the rsync destination mover: runs sshd so the source can push the volume's data,
 * and exits with the source's result once the source says it is done and the ssh connection that
 * said so has closed (so the source has the acknowledgement before this container goes away).
 *
 * Environment (all optional; defaults are the container's layout):
 *   SCRIBE_DATA_DIR        the destination volume                                  (/data)
 *   SCRIBE_KEYS_DIR        the mounted key Secret: `destination` (host private key),
 *                          `destination.pub`, `source.pub` (the only accepted client key) (/keys)
 *   SCRIBE_LISTEN_PORT     sshd's port; non-privileged, the Service maps 22 to it   (8022)
 *   SCRIBE_LISTEN_ADDRESS  sshd's ListenAddress                         (every address)
 *   SCRIBE_RUN_DIR         writable parent of the private run directory (sshd config, host key
 *                          copy, authorized_keys, handshake socket); the root fs is read-only (os.tmpdir())
 *   SCRIBE_TIMEOUT_SECONDS give up waiting for the source after this long; 0 waits forever (0)
 *   SCRIBE_SSHD            sshd executable, name on PATH or path                     (sshd)
 *   SCRIBE_RRSYNC          rrsync executable, name on PATH or path (Debian: rsync package) (rrsync)
 *   SCRIBE_RSYNC           rsync executable, for the source's own push (direct-push.ts)    (rsync)
 *   SCRIBE_SSHD_PRIVSEP_DIR sshd's compiled-in privilege separation directory, created
 *                          when running as root (Debian's sshd: /run/sshd)          (/run/sshd)
 *   SCRIBE_SSHD_LOG_LEVEL  sshd LogLevel                                             (VERBOSE)
 *   SCRIBE_NSS_WRAPPER     libnss_wrapper.so, for a destination not running as root (Debian:
 *                          libnss-wrapper; see loginSetup)                 (found where installed)
 *
 * It runs as root (privileged: sshd logs in `root`, rsync preserves owners) or as any other user
 * (unprivileged: sshd, rsync and the sessions all run as that user, which keeps every file it
 * writes; see loginSetup for how the source still logs in as `root`). Nothing needs to say which.
 *
 * Output: progress on stderr; the line `scribe rsync destination: ready on port <port>` once sshd
 * accepts connections; a final `scribe rsync destination: result: …` line.
 *
 * Exit code: the code the source sent with `shutdown <code>` (0 = the data arrived); 124 when
 * SCRIBE_TIMEOUT_SECONDS passed first; 1 for a configuration error or sshd dying; 128+n on signal n.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError, findExecutable, numberEnv, portEnv, stringEnv } from '../runtime/env.js';
import { findDirectPush } from './direct-push.js';
import { listenForShutdown } from './handshake.js';
import { isOpenSshPublicKey } from './keys.js';
import { readMountedKey } from './key-files.js';
import { currentIds, describeIds, findNssWrapperLibrary, hasPasswdEntry, writeNssWrapper } from './nss-wrapper.js';
import { ancestorUnder, delay, siblingEntrypointArgv, waitForEnd, type ProcessIdentity } from './process.js';
import { exitStatus } from '../runtime/process.js';
import type { SessionSettings } from './session.js';
import { writeTerminationMessage } from '../runtime/termination.js';
import { renderAuthorizedKey, renderSessionScript, renderSshdConfig, shellQuote } from './sshd-config.js';

const PREFIX = 'scribe rsync destination:';

/** The destination's settings, read from the environment. */
interface DestinationConfig {
  dataDir: string;
  keysDir: string;
  port: number;
  listenAddress?: string;
  runDir: string;
  timeoutSeconds: number;
  sshd: string;
  rrsync: string;
  privsepDir: string;
  logLevel: string;
  /** libnss_wrapper.so when installed (used only when not running as root). */
  nssWrapper?: string;
}

/** Reads and checks the destination's settings (throws ConfigError naming the variable). */
function destinationConfig(env: NodeJS.ProcessEnv): DestinationConfig {
  const listenAddress = stringEnv(env, 'SCRIBE_LISTEN_ADDRESS', '');
  const nssWrapper = process.getuid?.() === 0 ? undefined : findNssWrapperLibrary(env);
  return {
    dataDir: stringEnv(env, 'SCRIBE_DATA_DIR', '/data'),
    keysDir: stringEnv(env, 'SCRIBE_KEYS_DIR', '/keys'),
    port: portEnv(env, 'SCRIBE_LISTEN_PORT', 8022),
    ...(listenAddress === '' ? {} : { listenAddress }),
    runDir: stringEnv(env, 'SCRIBE_RUN_DIR', tmpdir()),
    timeoutSeconds: numberEnv(env, 'SCRIBE_TIMEOUT_SECONDS', 0, 0, 365 * 24 * 3600),
    sshd: findExecutable(stringEnv(env, 'SCRIBE_SSHD', 'sshd'), env.PATH, 'SCRIBE_SSHD'),
    rrsync: findExecutable(stringEnv(env, 'SCRIBE_RRSYNC', 'rrsync'), env.PATH, 'SCRIBE_RRSYNC'),
    privsepDir: stringEnv(env, 'SCRIBE_SSHD_PRIVSEP_DIR', '/run/sshd'),
    logLevel: stringEnv(env, 'SCRIBE_SSHD_LOG_LEVEL', 'VERBOSE'),
    ...(nssWrapper === undefined ? {} : { nssWrapper }),
  };
}

function log(message: string): void {
  process.stderr.write(`${PREFIX} ${message}\n`);
}

/** The login names sshd allows and the environment it runs with. */
interface LoginSetup {
  allowedUsers: string[];
  sshdEnv: NodeJS.ProcessEnv;
}

/**
 * Who may log in, and sshd's environment. As root: `root`, from the image's user database, as
 * before issue 20. As any other user, sshd can log in only the user it runs as, and the source
 * cannot know which one that is: the destination's mode depends on its namespace, which may be in
 * another cluster, and the source's sshUser defaults to `root` (the seed's default, the only
 * login a Scribe destination ever accepted). So the destination names its own uid `root`, besides
 * the uid's own name if it has one, in an nss_wrapper passwd given to sshd alone (nss-wrapper.ts),
 * with /bin/sh to run the forced command (the image's `nobody` has nologin) and the private run
 * directory as its home. A source with the default sshUser then logs in unchanged, whatever mode
 * each side runs in. The name gives nothing: sshd cannot change uid, so the session runs as the
 * destination's user with exactly its permissions, and the key's forced command still decides
 * what runs.
 */
function loginSetup(config: DestinationConfig, dir: string): LoginSetup {
  const ids = currentIds();
  if (ids.uid === 0) return { allowedUsers: [userInfo().username], sshdEnv: process.env };
  const ownName = hasPasswdEntry() ? userInfo().username : undefined;
  if (config.nssWrapper === undefined) {
    if (ownName === undefined)
      throw new ConfigError(
        `uid ${ids.uid} has no passwd entry and libnss_wrapper.so was not found (Debian package libnss-wrapper, or SCRIBE_NSS_WRAPPER): sshd cannot log the source in`,
      );
    log(
      `warning: libnss_wrapper.so was not found (Debian package libnss-wrapper, or SCRIBE_NSS_WRAPPER): only "${ownName}" can log in, so the source's sshUser must be "${ownName}"`,
    );
    return { allowedUsers: [ownName], sshdEnv: process.env };
  }
  const names = ['root', ...(ownName === undefined || ownName === 'root' ? [] : [ownName])];
  const wrapper = writeNssWrapper(
    dir,
    config.nssWrapper,
    names.map((name) => ({
      name,
      uid: ids.uid,
      gid: ids.gid,
      gecos: 'Scribe rsync destination',
      home: dir,
      shell: '/bin/sh',
    })),
    [ids.gid, ...ids.groups],
  );
  log(`running as ${describeIds(ids)}: sshd logs in ${names.map((n) => `"${n}"`).join(' and ')} as this user`);
  return { allowedUsers: names, sshdEnv: { ...process.env, ...wrapper.env } };
}

/** Writes sshd's files into a fresh private directory and returns their paths. */
function prepareRunDir(config: DestinationConfig) {
  const hostKey = readMountedKey(config.keysDir, 'destination', 'destination');
  const hostPublicKey = readMountedKey(config.keysDir, 'destination.pub', 'destination');
  const sourcePublicKey = readMountedKey(config.keysDir, 'source.pub', 'destination');
  if (!isOpenSshPublicKey(sourcePublicKey)) throw new ConfigError('source.pub is not an OpenSSH public key');
  if (!isOpenSshPublicKey(hostPublicKey)) throw new ConfigError('destination.pub is not an OpenSSH public key');
  if (!statSync(config.dataDir, { throwIfNoEntry: false })?.isDirectory())
    throw new ConfigError(`the data directory ${config.dataDir} (SCRIBE_DATA_DIR) does not exist`);

  // mkdtemp creates the directory 0700: nobody else can swap the files sshd trusts (StrictModes off).
  const dir = mkdtempSync(join(config.runDir, 'scribe-rsync-destination-'));
  const files = {
    dir,
    config: join(dir, 'sshd_config'),
    hostKey: join(dir, 'ssh_host_key'),
    authorizedKeys: join(dir, 'authorized_keys'),
    pid: join(dir, 'sshd.pid'),
    session: join(dir, 'session.json'),
    sessionScript: join(dir, 'session.sh'),
    socket: join(dir, 'control.sock'),
  };
  const login = loginSetup(config, dir);
  // Secret volumes are often mounted 0644; sshd refuses a host key anyone else can read.
  writeFileSync(files.hostKey, hostKey.endsWith('\n') ? hostKey : `${hostKey}\n`, { mode: 0o600 });
  const session: SessionSettings = { dataDir: config.dataDir, controlSocket: files.socket, rrsync: config.rrsync };
  writeFileSync(files.session, JSON.stringify(session), { mode: 0o600 });
  const argv = siblingEntrypointArgv('session', import.meta.url, (specifier) => import.meta.resolve(specifier));
  const direct = findDirectPush(process.env, config.dataDir);
  if ('unavailable' in direct) log(`every push goes through rrsync: ${direct.unavailable}`);
  writeFileSync(
    files.sessionScript,
    renderSessionScript({
      rrsync: config.rrsync,
      dataDir: config.dataDir,
      sessionArgv: [...argv, files.session],
      ...('push' in direct ? { directPush: direct.push } : {}),
    }),
    { mode: 0o600 },
  );
  // Read by sh rather than executed, so a run directory mounted noexec does not matter.
  writeFileSync(
    files.authorizedKeys,
    renderAuthorizedKey(sourcePublicKey, `/bin/sh ${shellQuote(files.sessionScript)}`),
    {
      mode: 0o600,
    },
  );
  writeFileSync(
    files.config,
    renderSshdConfig({
      port: config.port,
      ...(config.listenAddress === undefined ? {} : { listenAddress: config.listenAddress }),
      hostKeyFile: files.hostKey,
      authorizedKeysFile: files.authorizedKeys,
      pidFile: files.pid,
      allowedUsers: login.allowedUsers,
      logLevel: config.logLevel,
    }),
    { mode: 0o600 },
  );
  return { ...files, sshdEnv: login.sshdEnv };
}

/**
 * Resolves once sshd has written its pid file, which it does after binding its listening sockets
 * (probing the port instead would leave a failed-handshake line in the log for every probe).
 */
async function waitForListening(pidFile: string, exited: Promise<number>, timeoutMs: number): Promise<void> {
  let sshdGone = false;
  void exited.then(() => (sshdGone = true));
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(pidFile)) {
    if (sshdGone) throw new Error('sshd exited before it listened (see its messages above)');
    if (Date.now() > deadline) throw new Error(`sshd did not start listening within ${timeoutMs / 1000}s`);
    await delay(50);
  }
}

/** How the destination ends; `connection` (when the source delivered a result) is the sshd process it came over. */
type Ending = { code: number; result: string; connection?: ProcessIdentity | undefined };

async function main(): Promise<number> {
  const config = destinationConfig(process.env);
  // sshd running as root insists on its compiled-in privilege separation directory.
  if (process.getuid?.() === 0) mkdirSync(config.privsepDir, { recursive: true, mode: 0o755 });
  const files = prepareRunDir(config);
  let ending: Ending;
  try {
    ending = await serve(config, files);
  } finally {
    rmSync(files.dir, { recursive: true, force: true });
  }
  log(`result: ${ending.result}; exit code ${ending.code}`);
  writeTerminationMessage(`${PREFIX} result: ${ending.result}; exit code ${ending.code}`);
  return ending.code;
}

/**
 * How long the destination waits, once the source has delivered its result, for the ssh
 * connection it came over to close. The source's ssh learns the result (the session's exit
 * status) only after the session has ended; ending the mover first ends its container, and with it
 * the sshd process that was about to pass that status on, so the source saw "Connection closed"
 * and reported as failed a sync the destination had recorded as done. A source that keeps its
 * connection open longer than this (hung, or its network gone) is not waited for.
 */
const CONNECTION_CLOSE_GRACE_MS = 10_000;

/** Runs sshd until the handshake, a timeout, a signal or sshd's death; returns how it ended. */
async function serve(config: DestinationConfig, files: ReturnType<typeof prepareRunDir>): Promise<Ending> {
  // Called while the delivering session waits for its answer, so its process tree is still
  // there (and only once sshd runs: sessions are its children).
  const handshake = await listenForShutdown(files.socket, (sessionPid): ProcessIdentity | undefined =>
    sessionPid === undefined || sshd.pid === undefined ? undefined : ancestorUnder(sessionPid, sshd.pid),
  );
  const sshd = spawn(config.sshd, ['-D', '-e', '-f', files.config], {
    stdio: ['ignore', 'inherit', 'pipe'],
    env: files.sshdEnv,
  });
  createInterface({ input: sshd.stderr }).on('line', (line) => process.stderr.write(`sshd: ${line}\n`));
  const sshdExit = new Promise<number>((resolve) => {
    sshd.on('error', (error) => {
      log(`cannot start sshd (${config.sshd}): ${error.message}`);
      resolve(1);
    });
    sshd.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });

  const stopped = Promise.race([signalled('SIGTERM'), signalled('SIGINT')]);
  const endings: Promise<Ending>[] = [
    handshake.delivered.then(({ exitCode: code, session: connection }) => ({
      code,
      result: code === 0 ? 'the source reported success' : `the source reported failure (exit code ${code})`,
      connection,
    })),
    sshdExit.then((code) => ({ code: 1, result: `sshd exited unexpectedly with code ${code}` })),
    stopped,
    waitForListening(files.pid, sshdExit, 30_000).then(
      () => {
        log(`ready on port ${config.port}; waiting for the source to connect`);
        return new Promise<Ending>(() => undefined);
      },
      (error: Error) => ({ code: 1, result: error.message }),
    ),
  ];
  if (config.timeoutSeconds > 0)
    endings.push(
      delay(config.timeoutSeconds * 1000).then(() => ({
        code: 124,
        result: `no shutdown from the source within ${config.timeoutSeconds}s (SCRIBE_TIMEOUT_SECONDS)`,
      })),
    );
  const ending = await Promise.race(endings);
  // The result stands from here on; a signal only cuts the wait for its connection short.
  if ('connection' in ending) await Promise.race([untilConnectionClosed(ending.connection), stopped]);

  if (sshd.exitCode === null && sshd.signalCode === null) {
    sshd.kill('SIGTERM');
    await sshdExit;
  }
  await handshake.close();
  await flushToDisk();
  return { code: ending.code, result: ending.result };
}

/** Waits (bounded) until the sshd process serving the connection that delivered the result has ended. */
async function untilConnectionClosed(connection: ProcessIdentity | undefined): Promise<void> {
  if (connection === undefined) {
    log('warning: cannot tell which ssh connection delivered the result; not waiting for it to close');
    return;
  }
  if (!(await waitForEnd(connection, CONNECTION_CLOSE_GRACE_MS)))
    log(
      `the source's ssh connection was still open ${CONNECTION_CLOSE_GRACE_MS / 1000}s after it delivered the result; not waiting longer`,
    );
}

function signalled(signal: NodeJS.Signals): Promise<Ending> {
  return new Promise((resolve) =>
    process.once(signal, () =>
      resolve({ code: 128 + (signal === 'SIGTERM' ? 15 : 2), result: `stopped by ${signal}` }),
    ),
  );
}

/** Asks the kernel to write the received data out before the volume is snapshotted. */
function flushToDisk(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('sync', [], { stdio: 'ignore' });
    child.on('error', () => {
      log('warning: "sync" is not available; data may still be in the page cache');
      resolve();
    });
    child.on('exit', () => resolve());
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(
      error instanceof ConfigError
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error),
    );
    process.exit(1);
  },
);
