/**
 * A plain sshd on 127.0.0.1 for the raw-rsync baseline: its own sshd_config, host key and
 * authorized_keys in a private directory, no forced command, StrictModes off (the files live
 * under the temporary directory), plus the client ssh_config that pins its host key.
 */
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { generateSshKeyPair } from '../../src/movers/rsync/keys.js';
import { freePort } from '../../src/local/processes.js';
import { withPodLogin, type PodLogin } from './pod-login.js';
import { podEnv, start, toolPath, type Proc } from './processes.js';

/** A running plain sshd. */
export interface PlainSshd {
  proc: Proc;
  port: number;
  /** ssh_config for clients: port, user, identity, pinned host key, no prompts. */
  clientConfig: string;
  stop(): Promise<void>;
}

/**
 * Starts sshd -D on a free loopback port with files under `dir` (created, 0700); its sessions log
 * in as `login` says (pod-login.ts: as in a container, or as this machine's user does).
 */
export async function startPlainSshd(
  dir: string,
  login: PodLogin = { prefix: [], description: '' },
): Promise<PlainSshd> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = generateSshKeyPair('bench-host');
  const client = generateSshKeyPair('bench-client');
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600 });
    return path;
  };
  const hostKey = file('ssh_host_key', host.privateKey);
  const authorizedKeys = file('authorized_keys', client.publicKey);
  const identity = file('client_key', client.privateKey);
  const knownHosts = file('known_hosts', `bench-sshd ${host.publicKey.trim().split(/\s+/).slice(0, 2).join(' ')}`);
  const port = await freePort();
  const user = userInfo().username;
  // sshd running as root insists on its compiled-in privilege separation directory.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const config = file(
    'sshd_config',
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `AllowUsers ${user}`,
      'AuthenticationMethods publickey',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'UseDNS no',
      // As the mover's sshd: rsync -z compresses, ssh does not.
      'Compression no',
      'PrintMotd no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const clientConfig = file(
    'ssh_config',
    [
      'Host *',
      `  Port ${port}`,
      `  User ${user}`,
      `  IdentityFile ${identity}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  HostKeyAlias bench-sshd',
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // sshd re-executes itself, so it needs its absolute path (Debian: in sbin, on toolPath()).
  const sshd = onPath('sshd', toolPath());
  const proc = start(...withPodLogin(login, sshd, ['-D', '-e', '-f', config]), { env: podEnv({}) });
  // sshd writes its pid file once it listens; a connection probe is simpler and as reliable.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const probe = start('ssh', ['-F', clientConfig, '127.0.0.1', 'true'], { env: podEnv({}) });
    if ((await probe.exited) === 0) break;
    if (Date.now() > deadline) {
      proc.killTree();
      throw new Error(`plain sshd did not accept connections within 20 s:\n${proc.output}\n${probe.output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    proc,
    port,
    clientConfig,
    async stop() {
      proc.child.kill('SIGTERM');
      await proc.exited;
    },
  };
}

/** The first executable `name` in the directories of `path`. */
function onPath(name: string, path: string): string {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found on ${path}`);
}
