/**
 * CPU and memory of processes, read from /proc the same way for every figure of every benchmark:
 * the operator's idle CPU and RSS, a mover entrypoint's peak, the API server's share of a burst.
 * Nothing is asked of the process itself (asking would wake it, and another program, VolSync's
 * manager say, cannot be asked the same question), so a later side-by-side run compares like with
 * like. Linux only; elsewhere every reading is empty.
 *
 * - CPU: user + system time from /proc/<pid>/stat (fields 14 and 15, in clock ticks: 10 ms);
 * - RSS: resident set now (/proc/<pid>/stat field 24, pages), and the process's own high-water
 *   mark (VmHWM in /proc/<pid>/status).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

/** One process as /proc/<pid>/stat describes it. */
export interface ProcStat {
  pid: number;
  /** /proc/<pid>/comm: at most 15 characters. */
  comm: string;
  ppid: number;
  /** Resident set, bytes. */
  rss: number;
  /** User CPU of the process itself so far, ms. */
  userMs: number;
  /** System CPU of the process itself so far, ms. */
  systemMs: number;
  /** User + system, ms. */
  cpuMs: number;
}

/** Parses one /proc/<pid>/stat line. */
function parseStat(pid: number, stat: string): ProcStat | undefined {
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ")".
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < 0) return undefined;
  // Fields after comm start at field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
  const fields = stat.slice(close + 2).split(' ');
  const userMs = (Number(fields[11]) * 1000) / TICKS_PER_SECOND;
  const systemMs = (Number(fields[12]) * 1000) / TICKS_PER_SECOND;
  return {
    pid,
    comm: stat.slice(open + 1, close),
    ppid: Number(fields[1]),
    rss: Number(fields[21]) * PAGE_SIZE,
    userMs,
    systemMs,
    cpuMs: userMs + systemMs,
  };
}

/** One process now, or undefined once it is gone. */
export function procStat(pid: number | undefined): ProcStat | undefined {
  if (pid === undefined) return undefined;
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every process now, by pid. */
export function processTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return table;
  }
  for (const entry of entries) {
    const stat = procStat(Number(entry));
    if (stat) table.set(stat.pid, stat); // else it ended while we looked
  }
  return table;
}

/** Every pid in the tree rooted at `pid` (itself included). */
export function descendants(table: ReadonlyMap<number, { ppid: number }>, pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const [child, { ppid }] of table) children.set(ppid, [...(children.get(ppid) ?? []), child]);
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const child of children.get(p) ?? []) visit(child);
  };
  visit(pid);
  return out;
}

/** The process's own peak resident set (VmHWM), bytes, or undefined once it is gone. */
export function peakRss(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU so far and RSS now of one process: what the controller benchmark reads of the operator. */
export type ProcessUsage = Pick<ProcStat, 'userMs' | 'systemMs' | 'cpuMs' | 'rss'>;

/** CPU so far and RSS now of `pid`; throws once it is gone (a figure of a process that is not there is no figure). */
export function processUsage(pid: number | undefined): ProcessUsage {
  const stat = procStat(pid);
  if (!stat) throw new Error(`process ${pid} is gone: no CPU or RSS to read`);
  return { userMs: stat.userMs, systemMs: stat.systemMs, cpuMs: stat.cpuMs, rss: stat.rss };
}

/** CPU milliseconds (user + system) so far per process id, with the process's name. */
export type CpuReading = Map<number, { name: string; ms: number }>;

/**
 * Reads every process's CPU so far, by name: `labels` names chosen processes (the operator and the
 * benchmark are both "node"); the others go by their comm.
 */
export function readCpu(labels: ReadonlyMap<number, string> = new Map()): CpuReading {
  const totals: CpuReading = new Map();
  for (const [pid, stat] of processTable())
    if (Number.isFinite(stat.cpuMs)) totals.set(pid, { name: labels.get(pid) ?? groupName(stat.comm), ms: stat.cpuMs });
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

/**
 * Samples memory every `intervalMs` while running: the peak VmHWM of each root process (its own
 * high-water mark, read until it exits) and the peak summed RSS of each root's whole tree.
 */
export class MemorySampler {
  private readonly roots = new Map<string, { pid: number; excludeSelf: boolean }>();
  readonly ownPeak = new Map<string, number>();
  readonly treePeak = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 100) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Tracks a process under `name`; `excludeSelf` counts only its descendants (a shared daemon). */
  track(name: string, pid: number | undefined, excludeSelf = false): void {
    if (pid === undefined) return;
    this.roots.set(name, { pid, excludeSelf });
    this.sample();
  }

  /** Takes one sample now (also call it just before a tracked process is expected to exit). */
  sample(): void {
    const table = processTable();
    for (const [name, { pid, excludeSelf }] of this.roots) {
      if (!table.has(pid)) continue;
      const own = peakRss(pid);
      if (own !== undefined && !excludeSelf) this.ownPeak.set(name, Math.max(this.ownPeak.get(name) ?? 0, own));
      const tree = descendants(table, pid)
        .filter((p) => !(excludeSelf && p === pid))
        .reduce((sum, p) => sum + (table.get(p)?.rss ?? 0), 0);
      this.treePeak.set(name, Math.max(this.treePeak.get(name) ?? 0, tree));
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Resident set now per name (summed over processes of one name), bytes; named as readCpu names them. */
export function readRss(labels: ReadonlyMap<number, string> = new Map()): Map<string, number> {
  const byName = new Map<string, number>();
  for (const [pid, stat] of processTable()) {
    const name = labels.get(pid) ?? groupName(stat.comm);
    byName.set(name, (byName.get(name) ?? 0) + stat.rss);
  }
  return byName;
}
