/** What the controller benchmark measured (run.ts fills it, report.ts writes it out). */
import type { FloorResult, FloorVariant } from './floor.js';

/**
 * Memory of the operator process, bytes: its RSS read from /proc as every process's is
 * (scaffold/proc.ts), and V8's heap as the operator reports it (only node can say that).
 */
export interface MemoryFigures {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** Everything the benchmark measured. */
export interface ControllerBenchResult {
  crs: number;
  moverSeconds: number;
  sources: number;
  destinations: number;
  namespaces: number;
  runtime: string;
  applyMs: number;
  allReconciledMs: number;
  firstSyncAllCompleteMs: number;
  startupMemory: MemoryFigures;
  idleMemory: MemoryFigures;
  /** At the end of the idle window, before the forced GC. */
  idleEndMemory: MemoryFigures;
  /** Highest RSS read from /proc during the idle window. */
  idleMaxRss: number;
  idleMemoryAfterGc: MemoryFigures;
  /** CPU read from /proc (user and system), requests counted by the API server. */
  idle: { seconds: number; cpuUserMs: number; cpuSystemMs: number; operatorRequests: number; allRequests: number };
  idleOtherRequests: Array<[string, number]>;
  trigger: {
    latenciesMs: number[];
    fromWatchMs: number[];
    sendMs: number;
    allCompleteMs: number;
    operatorRequests: number;
    allRequests: number;
    byVerbResource: Array<[string, number]>;
    secondsByVerbResource: Array<[string, number]>;
    jobsCompletedByBenchmark: number;
    operatorCpuMs: number;
    reconciles: number;
    /** From the first trigger sent until every burst Job was seen. */
    burstMs: number;
    /** CPU ms by process over burstMs, largest first. */
    burstCpu: Array<[string, number]>;
  };
  /** Trigger-to-Job latencies when triggers arrive one at a time at a steady rate. */
  paced: { count: number; rate: number; latenciesMs: number[] };
  /** The same burst handled by a minimal controller (floor.ts), per variant: the machine's floors. */
  floors: Record<FloorVariant, FloorResult>;
  /**
   * Each burst round's p99 and the p99 of the running floor's burst right after it (the first
   * round is `trigger` and `floors.running`): one round's ratio swings with the machine, their
   * median is the figure.
   */
  burstRounds: Array<{ p99Ms: number; floorP99Ms: number }>;
  /** After the soak rounds: cycles completed in all, their time, memory after a full GC, and after idling again (no forced GC). */
  soak: { cycles: number; rounds: number; ms: number; memoryAfterGc: MemoryFigures; idleAgainMemory: MemoryFigures };
  /** Operator CPU from the first create until every first sync completed. */
  applyOperatorCpuMs: number;
  afterRoundsMemoryAfterGc: MemoryFigures;
  reconciles: { ok: number; failed: number; lastError: string };
  artifacts: string[];
}
