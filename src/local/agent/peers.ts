/**
 * Which node's container is at the other end of a loopback connection. Local pods share the
 * host's network namespace, so a connection's addresses do not tell one cluster's pods from
 * another's; the process holding the connecting socket does. The kernel lists each TCP socket
 * with its inode (/proc/net/tcp), /proc/<pid>/fd names the process holding it, and every
 * container process descends from the `runc --root <node's state dir> run` that started it.
 * The service proxy uses this to keep ClusterIPs private to their cluster (services.ts).
 */
import { readFile, readdir, readlink } from 'node:fs/promises';

/** A TCP endpoint as /proc/net/tcp writes it: the IPv4 address's bytes reversed, in hex, and the port. */
export function procNetEndpoint(address: string, port: number): string {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');
  return `${octets
    .reverse()
    .map((o) => hex(o, 2))
    .join('')}:${hex(port, 4)}`;
}

/** The inode of the socket from `local` to `remote` in a /proc/net/tcp table, or undefined. */
export function socketInode(table: string, local: string, remote: string): string | undefined {
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[2] === remote) return fields[9];
  }
  return undefined;
}

/** The value of `--root` in a runc command line, when it is one. */
export function runcRootOf(argv: string[]): string | undefined {
  if (!argv[0]?.endsWith('runc')) return undefined;
  const i = argv.indexOf('--root');
  return i >= 0 ? argv[i + 1] : undefined;
}

const PID = /^\d+$/;

async function pidHolding(inode: string): Promise<number | undefined> {
  const target = `socket:[${inode}]`;
  for (const pid of await readdir('/proc')) {
    if (!PID.test(pid)) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === target) return Number(pid);
    }
  }
  return undefined;
}

async function parentOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The command name (field 2) may hold spaces and parentheses: the fields after the last ')'.
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(after[1]);
  return ppid > 1 ? ppid : undefined;
}

/**
 * The runc state root of the container whose process opened the connection from
 * `peer` to `local` (this end), or undefined for a process that is no container (the host's).
 */
export async function peerRuncRoot(
  peer: { address: string; port: number },
  local: { address: string; port: number },
): Promise<string | undefined> {
  const table = await readFile('/proc/net/tcp', 'utf8');
  const inode = socketInode(
    table,
    procNetEndpoint(peer.address, peer.port),
    procNetEndpoint(local.address, local.port),
  );
  if (!inode || inode === '0') return undefined;
  let pid = await pidHolding(inode);
  // A container's process tree hangs below its `runc run`; a handful of levels is plenty.
  for (let depth = 0; pid !== undefined && depth < 16; depth++) {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const root = runcRootOf(argv);
    if (root) return root;
    pid = await parentOf(pid);
  }
  return undefined;
}
