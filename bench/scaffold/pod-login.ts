/**
 * The login a container gives an ssh session, for the sshd of every benchmark side. sshd runs
 * each session's command, forced or not, with the user's login shell (`bash -c …` for root), and
 * Debian's bash reads `~/.bashrc` (and /etc/bash.bashrc) when sshd starts it. In a mover
 * container that is the image's stock `.bashrc` (nothing runs); on a developer's machine it may
 * run anything: here root's `.bashrc` ran `pyenv init` and put pyenv's shims first on PATH, 0.18 s
 * per session, which the mover (two sessions: rsync and the handshake) paid twice and raw rsync
 * once. No figure of a mover running in a pod includes that.
 *
 * So sshd is started in a mount namespace of its own where the user's `.bashrc` is the stock
 * Debian one (base-files' dot.bashrc), bind-mounted over it read-only: the sessions then start as
 * in the container, and nothing outside that namespace sees a change. This needs root (a mount
 * namespace) and unshare(1); without them sshd starts as it is, and `description` says so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** Debian's stock .bashrc (base-files), root's .bashrc in a Debian-based image. */
const STOCK_BASHRC = '/usr/share/base-files/dot.bashrc';

/** How sshd is started so its sessions log in as in a container. */
export interface PodLogin {
  /** argv to put before sshd's (or before a process that starts sshd): empty when nothing is masked. */
  prefix: string[];
  /** What it does, for the results. */
  description: string;
}

/** The prefix for this machine; `work` is a directory for the stock file where base-files has none. */
export function podLogin(work: string): PodLogin {
  const home = userInfo().homedir;
  const bashrc = join(home, '.bashrc');
  if (!existsSync(bashrc))
    return { prefix: [], description: `${bashrc} does not exist: sessions start as in a container` };
  let stock = STOCK_BASHRC;
  if (!existsSync(stock)) {
    stock = join(work, 'stock-bashrc');
    writeFileSync(stock, '# a container image with no .bashrc of its own\n');
  }
  if (readFileSync(stock, 'utf8') === readFileSync(bashrc, 'utf8'))
    return { prefix: [], description: `${bashrc} is the stock one: sessions start as in a container` };
  if (process.getuid?.() !== 0)
    return {
      prefix: [],
      description: `sshd's sessions read this machine's ${bashrc} (masking it needs root): figures include what it runs`,
    };
  const prefix = [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    'mount --bind -o ro "$1" "$2" && shift 2 && exec "$@"',
    'pod-login',
    stock,
    bashrc,
  ];
  const probe = spawnSync(prefix[0] as string, [...prefix.slice(1), 'cat', bashrc], { encoding: 'utf8' });
  if (probe.status !== 0 || probe.stdout !== readFileSync(stock, 'utf8'))
    return {
      prefix: [],
      description: `sshd's sessions read this machine's ${bashrc} (a mount namespace failed: ${(probe.stderr ?? '').trim()}): figures include what it runs`,
    };
  return {
    prefix,
    description: `sshd's sessions read Debian's stock .bashrc (${stock} bind-mounted over ${bashrc} in sshd's own mount namespace), as in a container`,
  };
}

/** `command args` behind `login`'s prefix. */
export function withPodLogin(login: PodLogin, command: string, args: readonly string[]): [string, string[]] {
  if (login.prefix.length === 0) return [command, [...args]];
  return [login.prefix[0] as string, [...login.prefix.slice(1), command, ...args]];
}
