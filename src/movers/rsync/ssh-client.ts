/**
 * The source's ssh client configuration and rsync command line (pure).
 *
 * The host key is pinned with a HostKeyAlias, so known_hosts holds one line that does not depend on
 * how the destination is addressed (Service IP, load balancer name, IPv6, non-default port).
 */

/** The name under which the destination's host key is pinned in known_hosts. */
export const HOST_KEY_ALIAS = 'scribe-destination';

/** Inputs of the client's ssh_config. */
export interface SshClientConfigInput {
  port: number;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  connectTimeoutSeconds: number;
  /** The Unix socket of the handshake session's connection, which rsync's ssh reuses (source.ts). */
  controlPath?: string;
}

/** ssh_config text for every connection the source makes (rsync's transport and the handshake). */
export function renderSshClientConfig(input: SshClientConfigInput): string {
  return [
    '# Written by the Scribe rsync source entrypoint.',
    'Host *',
    `  Port ${input.port}`,
    `  User ${input.user}`,
    `  IdentityFile ${quote(input.identityFile)}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${quote(input.knownHostsFile)}`,
    '  GlobalKnownHostsFile /dev/null',
    `  HostKeyAlias ${HOST_KEY_ALIAS}`,
    // We know the destination's key from the Secret, so nothing else is acceptable.
    '  StrictHostKeyChecking yes',
    '  CheckHostIP no',
    '  UpdateHostKeys no',
    // Never prompt: a mover has no terminal, and a prompt would hang the Job.
    '  BatchMode yes',
    '  PasswordAuthentication no',
    '  KbdInteractiveAuthentication no',
    '  ForwardAgent no',
    '  ForwardX11 no',
    '  ClearAllForwardings yes',
    `  ConnectTimeout ${input.connectTimeoutSeconds}`,
    // Protocol-level keepalive notices a destination that vanished without closing the connection.
    '  ServerAliveInterval 15',
    '  ServerAliveCountMax 4',
    '  TCPKeepAlive no',
    '  LogLevel ERROR',
    // Sessions go over the connection the handshake session made, when it is up; without it
    // (not yet made, or gone) ssh connects by itself. Only that session makes it (ControlMaster
    // yes on its command line). ControlPath expands %-tokens, so a literal % is doubled.
    ...(input.controlPath === undefined
      ? []
      : [`  ControlPath ${quote(input.controlPath.replace(/%/g, '%%'))}`, '  ControlMaster no']),
    '',
  ].join('\n');
}

/** The known_hosts line pinning the destination's host key from `destination.pub`. */
export function knownHostsLine(destinationPublicKey: string): string {
  const [type, blob] = destinationPublicKey.trim().split(/\s+/);
  if (type === undefined || blob === undefined) throw new Error('destination.pub is not an OpenSSH public key');
  return `${HOST_KEY_ALIAS} ${type} ${blob}\n`;
}

/**
 * The seed's `path` (a directory inside the destination volume, default "/") as the relative path
 * rrsync expects: "/" → ".", "/a/b/" → "a/b". Refuses ".." so the path cannot leave the volume.
 */
export function destinationSubPath(path: string): string {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new Error(`path "${path}" must not contain ".."`);
  // eslint-disable-next-line no-control-regex
  if (parts.some((part) => /[\u0000-\u001f]/.test(part))) throw new Error(`path "${path}" contains control characters`);
  return parts.length === 0 ? '.' : parts.join('/');
}

/** The host part of an rsync remote spec: a bare IPv6 address needs brackets there (not for ssh). */
export function rsyncHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/** Inputs of the rsync command line. */
export interface RsyncArgsInput {
  sshCommand: string;
  dataDir: string;
  address: string;
  subPath: string;
  preserveXattrs: boolean;
  /** Whether rsync runs as root (a privileged mover): it then sees every namespace's xattrs. */
  asRoot?: boolean;
  bwlimitKiB?: number;
}

/**
 * rsync's xattr rules. As a user rsync copies `user.*` only, what any owner may set. As root it
 * would copy every namespace but `system.*` (the ACLs, which -A carries): `security.selinux` is
 * left out, because a label belongs to the destination's policy; `security.capability` and
 * `trusted.*` go, which a privileged destination can set. Both sides should run in the same
 * mode: a user destination cannot set what a root source sends beyond `user.*`.
 */
function xattrArgs(input: RsyncArgsInput): string[] {
  if (!input.preserveXattrs) return [];
  return input.asRoot ? ['-X', '--filter=-x system.*', '--filter=-x security.selinux'] : ['-X'];
}

/**
 * rsync's arguments for one push. The seed's flags `-aAhHSxz --delete` (archive, ACLs, hard links,
 * sparse files, one file system, compression) plus:
 * - `--itemize-changes --info=stats2,misc2` for the log and the status summary (as the seed's mover);
 * - `--numeric-ids`: a volume's files belong to the application's UIDs, which the mover image's
 *   /etc/passwd does not know; mapping by name could change ownership;
 * - `--exclude=/lost+found`: the file system's own directory on the volume root, not user data;
 * - `--remote-option=--modify-window=-1`: compare modification times to the nanosecond. rsync's default compares
 *   whole seconds, so a file rewritten with the same size in the same second as the last sync was
 *   skipped for good, and a directory whose destination copy was touched within the second of the
 *   source's time (renaming a received file into it does that) kept the wrong time. The receiving
 *   side makes that comparison, and rrsync accepts only the long form, so it goes as a remote option;
 * - `--mkpath` only for a sub-path, so nested destination directories are created;
 * - `-X` (xattrArgs), unless turned off: extended attributes, but never security labels (SELinux),
 *   which must not be copied onto a volume that has its own.
 */
export function rsyncArgs(input: RsyncArgsInput): string[] {
  return [
    '-aAhHSxz',
    ...xattrArgs(input),
    '--delete',
    '--numeric-ids',
    '--itemize-changes',
    '--info=stats2,misc2',
    '--exclude=/lost+found',
    '--remote-option=--modify-window=-1',
    ...(input.subPath === '.' ? [] : ['--mkpath']),
    ...(input.bwlimitKiB === undefined ? [] : [`--bwlimit=${input.bwlimitKiB}`]),
    '-e',
    input.sshCommand,
    // The trailing slash copies the directory's contents, not the directory itself.
    `${input.dataDir.replace(/\/+$/, '')}/`,
    `${rsyncHost(input.address)}:${input.subPath}`,
  ];
}

/** A command that runs ssh with extra environment variables (`env NAME=value … ssh`). */
export interface EnvPrefix {
  /** The `env` executable. */
  command: string;
  variables: Record<string, string>;
}

/**
 * The `-e` value for rsync: ssh with our config file, through `env` with `through`'s variables
 * when given (nss_wrapper's, so that only ssh loads it, not rsync). rsync splits it on spaces,
 * honouring quotes.
 */
export function rsyncRemoteShell(sshPath: string, configFile: string, through?: EnvPrefix): string {
  const prefix =
    through === undefined
      ? []
      : [through.command, ...Object.entries(through.variables).map(([name, value]) => `${name}=${value}`)];
  return [...prefix, sshPath, '-F', configFile].map(rsyncQuote).join(' ');
}

function rsyncQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  if (!word.includes("'")) return `'${word}'`;
  if (!word.includes('"')) return `"${word}"`;
  throw new Error(`cannot pass ${word} to rsync -e`);
}

function quote(path: string): string {
  if (path.includes('"')) throw new Error(`path ${path} contains a double quote, which ssh_config cannot express`);
  return /\s/.test(path) ? `"${path}"` : path;
}
