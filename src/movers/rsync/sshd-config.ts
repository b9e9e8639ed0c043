/**
 * The destination's sshd configuration and authorized_keys, rendered as text (pure).
 *
 * sshd is started with `-f` on this file only, so nothing from /etc/ssh applies. Everything sshd
 * writes or reads lives in one private run directory, because the container's root filesystem is
 * read-only.
 */

/** Inputs of the sshd configuration. */
export interface SshdConfigInput {
  /** Port to listen on; non-privileged so sshd needs no CAP_NET_BIND_SERVICE. */
  port: number;
  /** Address to listen on; undefined listens on every address of every family. */
  listenAddress?: string;
  hostKeyFile: string;
  authorizedKeysFile: string;
  pidFile: string;
  /**
   * The login names allowed: names of the user the destination runs as (only it can write the
   * data; a non-root sshd can log in no other). Running as root that is `root`; unprivileged,
   * `root` and the uid's own name both name it (destination.ts, loginNames).
   */
  allowedUsers: readonly string[];
  logLevel: string;
}

/** sshd_config text for the destination. */
export function renderSshdConfig(input: SshdConfigInput): string {
  const lines = [
    '# Written by the Scribe rsync destination entrypoint; sshd reads no other configuration.',
    `Port ${input.port}`,
    ...(input.listenAddress === undefined ? [] : [`ListenAddress ${input.listenAddress}`]),
    `HostKey ${quote(input.hostKeyFile)}`,
    `PidFile ${quote(input.pidFile)}`,
    `AuthorizedKeysFile ${quote(input.authorizedKeysFile)}`,
    'AuthorizedKeysCommand none',
    'AuthorizedPrincipalsFile none',
    `AllowUsers ${allowedUsers(input.allowedUsers)}`,
    // Only the source's key, and for root only with its forced command.
    'AuthenticationMethods publickey',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'HostbasedAuthentication no',
    'PermitEmptyPasswords no',
    'PermitRootLogin forced-commands-only',
    // No PAM stack in the image, and none is wanted: the key is the only credential.
    'UsePAM no',
    // StrictModes walks every parent of authorized_keys and rejects a world-writable one, which
    // /tmp and emptyDir mounts are. The files sit in a mkdtemp directory (0700, ours) instead.
    'StrictModes no',
    'PermitUserEnvironment no',
    'PermitUserRC no',
    'PermitTTY no',
    'PermitTunnel no',
    'AllowTcpForwarding no',
    'AllowStreamLocalForwarding no',
    'AllowAgentForwarding no',
    'X11Forwarding no',
    'GatewayPorts no',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    // rsync -z already compresses; compressing twice costs CPU for nothing.
    'Compression no',
    'MaxAuthTries 3',
    'LoginGraceTime 30',
    // Notice a vanished source within about two minutes instead of holding the volume forever.
    'ClientAliveInterval 30',
    'ClientAliveCountMax 4',
    `LogLevel ${input.logLevel}`,
    '',
  ];
  return lines.join('\n');
}

/** Inputs of the forced command's script. */
export interface SessionScriptInput {
  rrsync: string;
  dataDir: string;
  /** The session entrypoint's argv (node, its flags, the script, the settings file). */
  sessionArgv: string[];
  /** When set, the source's own push into the volume's root runs rsync directly (directPushLines). */
  directPush?: DirectPush;
}

/**
 * What the direct push needs: the rsync and flock executables and the volume's real path (what
 * rrsync confines to, `realpath` of its directory). Only when the installed rsync knows the
 * options rrsync adds (`--drop-D`, `--confine-root`), so the argv is the one rrsync would run.
 */
export interface DirectPush {
  rsync: string;
  flock: string;
  root: string;
}

/**
 * The forced command of the source's key, a POSIX shell script. A plain push (`rsync --server`
 * without `--sender`, in the characters rsync's own command lines use) goes straight to
 * `rrsync -wo <dataDir>`, which checks every option and path and refuses to send; everything
 * else (the shutdown handshake, refusals and their explanations) goes to the session entrypoint
 * (session.ts), whose decision for a push is the same. The shortcut spares each sync the start
 * of a node process on the destination; the direct push (directPushLines) spares the source's
 * own push rrsync's start too (a Python program, most of a sync's fixed cost on the destination).
 */
export function renderSessionScript(input: SessionScriptInput): string {
  const rrsync = `LANG=C exec ${shellQuote(input.rrsync)} -wo ${shellQuote(input.dataDir)}`;
  return [
    '#!/bin/sh',
    "# Written by the Scribe rsync destination entrypoint: the forced command of the source's key.",
    'case "$SSH_ORIGINAL_COMMAND" in',
    // Anything unusual (tabs, quotes, newlines, globs) is for the session entrypoint to judge.
    // `%` is rsync's own: every push asks for `--log-format=%i` (--itemize-changes).
    "  *[!A-Za-z0-9._,=/:@+%' '-]*) ;;",
    "  'rsync --server --sender'* | 'rsync --server '*' --sender'*) ;;",
    ...(input.directPush === undefined
      ? []
      : [
          `  'rsync --server '*' . .')`,
          ...directPushLines(input.directPush).map((line) => `    ${line}`),
          `    ${rrsync} ;;`,
        ]),
    `  'rsync --server '*) ${rrsync} ;;`,
    'esac',
    `exec ${input.sessionArgv.map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}

/**
 * rsync's long options the Scribe source sends to the server (ssh-client.ts, rsyncArgs), besides
 * `--bwlimit=<digits>`: the direct push takes these and no other.
 */
const DIRECT_PUSH_LONG_OPTIONS = [
  '--log-format=%i',
  '--delete',
  '--numeric-ids',
  '--info=MISC2,STATS2',
  '--modify-window=-1',
];

/**
 * The direct push: a push of the shape the Scribe source sends into the volume's root (`rsync
 * --server <short options> <DIRECT_PUSH_LONG_OPTIONS> . .`, every word checked against an
 * allow-list) runs the rsync command rrsync would run for it, without rrsync: `rsync --server
 * <the same options> --drop-D --confine-root=<root> -- . .` in the root, under rrsync's own
 * single-run lock (flock on the root; rrsync and this path exclude each other). The short options
 * are the letters rrsync allows that rsync -aAhHSxz(X) sends, then rsync's `e.<capabilities>`.
 * Anything else (another path, option or shape: an external rsync client) falls through to
 * rrsync. The command holds only the characters of the first pattern, and globbing is off, so
 * splitting it into words is safe.
 */
function directPushLines(push: DirectPush): string[] {
  const root = shellQuote(push.root);
  return [
    'set -f',
    'set -- $SSH_ORIGINAL_COMMAND',
    'shift 2',
    'direct=yes n=$# i=0',
    'for word do',
    '  i=$((i + 1))',
    '  case "$word" in',
    `    ${DIRECT_PUSH_LONG_OPTIONS.join(' | ')}) ;;`,
    '    --bwlimit=[0-9]*) case "${word#--bwlimit=}" in *[!0-9]*) direct= ;; esac ;;',
    '    -[!-]*e.*)',
    '      case "${word%%e.*}" in -*[!lHogDtpAXrxSz]*) direct= ;; esac',
    '      case "${word#*e.}" in *[!A-Za-z]*) direct= ;; esac ;;',
    '    .) [ "$i" -ge $((n - 1)) ] || direct= ;;',
    '    *) direct= ;;',
    '  esac',
    'done',
    'if [ -n "$direct" ]; then',
    '  i=0',
    '  for word do',
    '    shift',
    '    i=$((i + 1))',
    `    [ "$i" -eq $((n - 1)) ] && set -- "$@" --drop-D --confine-root=${root} --`,
    '    set -- "$@" "$word"',
    '  done',
    `  cd ${root} || exit 1`,
    `  LANG=C ${shellQuote(push.flock)} -n -E 254 ${root} ${shellQuote(push.rsync)} --server "$@"`,
    '  status=$?',
    // rrsync's own lock message is classified as a refusal; so is this one (retry.ts).
    '  [ "$status" -ne 254 ] || echo "scribe rsync destination: refused the push: another push is writing to this volume" >&2',
    '  exit "$status"',
    'fi',
  ];
}

/** One authorized_keys line: the source's key, forced through `command`, with every restriction on. */
export function renderAuthorizedKey(sourcePublicKey: string, command: string): string {
  const key = sourcePublicKey.trim();
  if (key.includes('\n')) throw new Error('source.pub must be a single line');
  // `restrict` switches off everything present and future; the explicit options say what we rely on.
  const options = [
    // sshd unescapes only \" inside the quoted value; every other character is taken literally.
    `command="${command.replace(/"/g, '\\"')}"`,
    'restrict',
    'no-pty',
    'no-port-forwarding',
    'no-agent-forwarding',
    'no-X11-forwarding',
    'no-user-rc',
  ];
  return `${options.join(',')} ${key}\n`;
}

/** Quotes one word for a POSIX shell (sshd runs the forced command with the user's shell). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function allowedUsers(names: readonly string[]): string {
  if (names.length === 0) throw new Error('sshd must allow at least one user');
  for (const name of names)
    if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(name)) throw new Error(`"${name}" is not a user name sshd can allow`);
  return names.join(' ');
}

/** A path in sshd_config: double-quoted when it contains spaces. */
function quote(path: string): string {
  if (path.includes('"')) throw new Error(`path ${path} contains a double quote, which sshd_config cannot express`);
  return /\s/.test(path) ? `"${path}"` : path;
}
