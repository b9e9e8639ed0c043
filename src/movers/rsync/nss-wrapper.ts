/**
 * User names for a mover that runs as a uid the image's /etc/passwd does not know.
 *
 * An unprivileged mover runs as whatever moverSecurityContext says (999, 1000680000, ...), and
 * the root filesystem is read-only, so /etc/passwd cannot gain an entry. OpenSSH needs one: the
 * ssh client exits with "No user exists for uid N", and sshd logs in only users it can look up
 * (with a shell that runs the forced command, which the image's `nobody`, /usr/sbin/nologin, has
 * not). nss_wrapper (Debian package libnss-wrapper, as OpenShift images use it) answers those
 * look-ups from files of our own: preloaded into one process (LD_PRELOAD), it reads
 * NSS_WRAPPER_PASSWD and NSS_WRAPPER_GROUP instead of the system's databases. Only the processes
 * that look users up get it (the source's ssh, the destination's sshd), never rsync or the
 * sessions, which run with sshd's clean environment.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../runtime/env.js';

/** One passwd entry. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

/** passwd(5) text; refuses fields that would break the format. */
export function renderPasswd(entries: readonly PasswdEntry[]): string {
  return entries
    .map((e) => {
      for (const field of [e.name, e.gecos, e.home, e.shell])
        if (/[:\n]/.test(field)) throw new Error(`passwd field "${field}" contains ":" or a newline`);
      return `${e.name}:x:${e.uid}:${e.gid}:${e.gecos}:${e.home}:${e.shell}\n`;
    })
    .join('');
}

/** group(5) text: one group per gid, named `scribe-<gid>` unless `names` names it. */
export function renderGroup(gids: readonly number[], names: Readonly<Record<number, string>> = {}): string {
  return [...new Set(gids)].map((gid) => `${names[gid] ?? `scribe-${gid}`}:x:${gid}:\n`).join('');
}

/** The environment that makes one process use the wrapper with the files in `dir`. */
export interface NssWrapper {
  /** Variables to add to that process's environment. */
  env: Record<string, string>;
}

/** Directories where Debian (multiarch) and others install libnss_wrapper.so. */
function libraryCandidates(): string[] {
  const roots = ['/usr/lib', '/lib', '/usr/lib64', '/usr/local/lib'];
  const found: string[] = [];
  for (const root of roots) {
    found.push(join(root, 'libnss_wrapper.so'));
    let entries: string[];
    try {
      entries = readdirSync(root).filter((name) => name.endsWith('-linux-gnu'));
    } catch {
      continue;
    }
    for (const dir of entries) found.push(join(root, dir, 'libnss_wrapper.so'));
  }
  return found;
}

/**
 * The absolute path of libnss_wrapper.so: SCRIBE_NSS_WRAPPER when set, else where the Debian
 * package installs it; undefined when it is not installed.
 */
export function findNssWrapperLibrary(env: NodeJS.ProcessEnv): string | undefined {
  const given = env.SCRIBE_NSS_WRAPPER;
  if (given !== undefined && given !== '') {
    if (!existsSync(given)) throw new ConfigError(`SCRIBE_NSS_WRAPPER=${given} does not exist`);
    return given;
  }
  return libraryCandidates().find((path) => existsSync(path));
}

/** Whether this process's uid has a passwd entry (os.userInfo() throws for one without). */
export function hasPasswdEntry(): boolean {
  try {
    userInfo();
    return true;
  } catch {
    return false;
  }
}

/** This process's uid, gid and groups, for the files below. */
export function currentIds(): { uid: number; gid: number; groups: number[] } {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, groups: process.getgroups?.() ?? [] };
}

/** Writes the wrapper's passwd and group into `dir` (private, ours) and returns the environment that uses them. */
export function writeNssWrapper(
  dir: string,
  library: string,
  passwd: readonly PasswdEntry[],
  gids: readonly number[],
): NssWrapper {
  const passwdFile = join(dir, 'passwd');
  const groupFile = join(dir, 'group');
  writeFileSync(passwdFile, renderPasswd(passwd), { mode: 0o600 });
  writeFileSync(groupFile, renderGroup(gids), { mode: 0o600 });
  return { env: { LD_PRELOAD: library, NSS_WRAPPER_PASSWD: passwdFile, NSS_WRAPPER_GROUP: groupFile } };
}

/** "uid 999 gid 999 groups 999,1000": whom this process runs as, for messages. */
export function describeIds(ids = currentIds()): string {
  const extra = ids.groups.filter((g) => g !== ids.gid);
  return `uid ${ids.uid} gid ${ids.gid}${extra.length ? ` groups ${extra.join(',')}` : ''}`;
}
