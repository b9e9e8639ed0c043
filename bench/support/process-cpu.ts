/**
 * CPU time of this machine's processes by name, read from /proc: who used the two cores during a
 * window of the controller benchmark (the operator, the API server, etcd, the controllers, the
 * benchmark itself). Linux only; elsewhere every reading is empty.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds (user + system) so far per process id, with the process's name. */
export type CpuReading = Map<number, { name: string; ms: number }>;

/**
 * Reads every process's CPU so far, by name: `labels` names chosen processes (the operator and the
 * benchmark are both "node"); the others go by /proc/<pid>/comm (15 characters at most).
 */
export function readCpu(labels: ReadonlyMap<number, string> = new Map()): CpuReading {
  const totals: CpuReading = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return totals;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ")".
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const name = labels.get(Number(pid)) ?? groupName(stat.slice(open + 1, close));
    const fields = stat.slice(close + 2).split(' ');
    // Fields after comm start at field 3 (state); utime is field 14 and stime field 15.
    const ticks = Number(fields[11]) + Number(fields[12]);
    if (Number.isFinite(ticks)) totals.set(Number(pid), { name, ms: (ticks * 1000) / TICKS_PER_SECOND });
  }
  return totals;
}

/**
 * The kernel renames its worker threads after the work they run ("kworker/1:1-events"), so they
 * are counted together, as the kernel's.
 */
function groupName(comm: string): string {
  return comm.startsWith('kworker/') ? 'kernel workers' : comm;
}

/**
 * CPU ms each name used between two readings, largest first; names under `minMs` left out.
 * Compared per process id, so a renamed process is not counted from its start. A process that
 * started and exited between the readings is not counted.
 */
export function cpuBetween(before: CpuReading, after: CpuReading, minMs = 50): Array<[string, number]> {
  const byName = new Map<string, number>();
  for (const [pid, { name, ms }] of after) {
    const delta = ms - (before.get(pid)?.ms ?? 0);
    byName.set(name, (byName.get(name) ?? 0) + delta);
  }
  return [...byName].filter(([, ms]) => ms >= minMs).sort((a, b) => b[1] - a[1]);
}
