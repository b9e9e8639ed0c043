/**
 * A per-key work queue with controller-runtime's semantics: a key is processed by at most one
 * worker at a time; requests for a key that arrive while it is being processed coalesce into
 * exactly one more run afterwards (level-based: the handler reads the latest state itself);
 * different keys proceed concurrently up to `concurrency`.
 *
 * Two lanes: a key added as `urgent` runs before every key waiting in the normal lane. The
 * controller puts a CR there when a user changed its spec (a new trigger, say), so that a burst
 * of cycles finishing elsewhere does not stand between a trigger and its mover Job. While urgent
 * keys keep coming, the normal lane runs one key at a time (see UrgentHold).
 *
 * The outcome of a run is a value, as in controller-runtime: the handler returns when the key is
 * to run again even if nothing changes (`requeueAt`), or throws. The queue owns the timers (one
 * per key; a run that asks for none cancels the key's timer) and the per-key back-off after
 * errors (doubling from `backoff.initialMs` up to `backoff.maxMs`, reset by a run that succeeds).
 */
import { BehaviorSubject, distinctUntilChanged, Observable, Subject } from 'rxjs';
import { WakeTimers } from './wake-timers.js';

/** What a successful run of the handler asks for: when to run the key again (epoch ms), if at all. */
export interface Requeue {
  requeueAt?: number | undefined;
}

/** The outcome of one run of the handler for a key. */
export interface RunResult<K> {
  key: K;
  durationMs: number;
  error?: unknown;
  /** After an error: how long the key's back-off waits before its next run. */
  retryInMs?: number;
}

/**
 * How the normal lane yields to urgent work. A hold lasts while urgent keys wait or run and for
 * `quietMs` after the last one ended: a burst of triggers arrives as watch events with gaps between
 * them, and each normal run in a gap (a status write, a finished Job's clean-up) is a request on the
 * API server in front of the Jobs still to come. During a hold at most `heldConcurrency` normal keys
 * run at a time: a trickle, so that a steady stream of triggers slows the normal lane (and the
 * Events, see urgentHold$) but never stops it. 0 stops it for the whole hold (for tests).
 */
export interface UrgentHold {
  quietMs: number;
  heldConcurrency: number;
}

/** The hold unless the options say otherwise: while urgent keys wait or run, one normal key at a time. */
export const DEFAULT_URGENT_HOLD: UrgentHold = { quietMs: 0, heldConcurrency: 1 };

/** Options of a work queue. */
export interface WorkQueueOptions {
  /** Keys processed at the same time at most. */
  concurrency?: number;
  /** Back-off of a key whose runs fail: the first delay, doubled per failure up to the last. */
  backoff?: { initialMs: number; maxMs: number };
  /** The clock of the requeue timers (default Date.now); the urgent hold runs on real time. */
  clock?: () => number;
  /** How the normal lane waits for urgent work (default DEFAULT_URGENT_HOLD). */
  urgentHold?: UrgentHold;
}

/** Back-off after a failed run unless the options say otherwise (an API server down, say). */
export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 60_000 };

/** A keyed queue; `results$` reports each finished run (for logs, metrics and tests). */
export class KeyedWorkQueue<K extends string> {
  private readonly running = new Set<K>();
  private readonly dirty = new Set<K>();
  private readonly waiting: K[] = [];
  private readonly urgent: K[] = [];
  /** Keys waiting in either lane, and whether in the urgent one. */
  private readonly waitingLane = new Map<K, 'normal' | 'urgent'>();
  /** Keys to run in the urgent lane when their current run ends. */
  private readonly dirtyUrgent = new Set<K>();
  /** Keys running now that were taken from the urgent lane. */
  private readonly runningUrgent = new Set<K>();
  private readonly holdSubject = new BehaviorSubject(false);
  /** When an urgent key last arrived or ended its run. */
  private lastUrgentAt = -Infinity;
  /** Runs the normal lane in full when the current hold's quiet time is over. */
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly resultsSubject = new Subject<RunResult<K>>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  /** One requeue timer per key: the latest run's request, or the back-off after a failed run. */
  private readonly timers: WakeTimers<K>;
  /** Failed runs in a row, per key. */
  private readonly failures = new Map<K, number>();
  readonly results$: Observable<RunResult<K>> = this.resultsSubject.asObservable();
  /**
   * true while the normal lane yields to urgent work (UrgentHold), false once it runs in full:
   * whoever shares the API server with the handler (the Event recorder) can yield for as long.
   */
  readonly urgentHold$: Observable<boolean> = this.holdSubject.pipe(distinctUntilChanged());

  constructor(
    private readonly handler: (key: K) => Promise<Requeue | void>,
    private readonly options: WorkQueueOptions = {},
  ) {
    this.timers = new WakeTimers((key) => this.add(key), options.clock ?? Date.now);
  }

  /** When `key` is to run again by a timer (its requeue or its back-off), if at all. */
  requeuedAt(key: K): number | undefined {
    return this.timers.scheduledAt(key);
  }

  /** Number of keys waiting for a timer. */
  get timerCount(): number {
    return this.timers.size;
  }

  /** Asks for `key` to be processed (again); `urgent` puts it before every key of the normal lane. */
  add(key: K, options: { urgent?: boolean } = {}): void {
    if (this.stopped) return;
    const urgent = options.urgent ?? false;
    if (this.running.has(key)) {
      this.dirty.add(key);
      if (urgent) this.dirtyUrgent.add(key);
      return;
    }
    const lane = this.waitingLane.get(key);
    if (lane === 'urgent' || (lane === 'normal' && !urgent)) return;
    // Waiting in the normal lane and now urgent: it moves; the normal lane skips it (see pump).
    this.enqueue(key, urgent);
    this.pump();
  }

  /** Number of keys running or waiting. */
  get size(): number {
    return this.running.size + this.waitingLane.size;
  }

  /** Resolves when nothing is running or waiting. */
  whenIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Accepts no more keys; resolves once the runs in flight have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clear();
    clearTimeout(this.holdTimer);
    this.waiting.length = 0;
    this.urgent.length = 0;
    this.waitingLane.clear();
    this.dirty.clear();
    this.dirtyUrgent.clear();
    await this.whenIdle();
    this.resultsSubject.complete();
    this.holdSubject.complete();
  }

  /** Counts a failed run of `key` and arms its next run after the back-off; returns the delay. */
  private backOff(key: K): number {
    const { initialMs, maxMs } = this.options.backoff ?? DEFAULT_BACKOFF;
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = Math.min(maxMs, initialMs * 2 ** (failures - 1));
    if (!this.stopped) this.timers.schedule(key, (this.options.clock ?? Date.now)() + delay);
    return delay;
  }

  private enqueue(key: K, urgent: boolean): void {
    if (urgent) this.lastUrgentAt = this.now();
    (urgent ? this.urgent : this.waiting).push(key);
    this.waitingLane.set(key, urgent ? 'urgent' : 'normal');
  }

  /**
   * The next key to run: urgent ones first, then the normal lane's, of which only
   * `heldConcurrency` run at a time while `held`; a normal-lane entry of a key since moved is skipped.
   */
  private next(held: boolean): K | undefined {
    const key = this.urgent.shift();
    if (key !== undefined) return key;
    const { heldConcurrency } = this.options.urgentHold ?? DEFAULT_URGENT_HOLD;
    if (held && this.running.size - this.runningUrgent.size >= heldConcurrency) return undefined;
    for (let candidate = this.waiting.shift(); candidate !== undefined; candidate = this.waiting.shift()) {
      if (this.waitingLane.get(candidate) === 'normal') return candidate;
    }
    return undefined;
  }

  /** Real time for the urgent hold: a test's frozen clock would hold the normal lane for good. */
  private now(): number {
    return performance.now();
  }

  /** Whether the normal lane yields to urgent work now (see UrgentHold). */
  private holding(now: number): boolean {
    const { quietMs } = this.options.urgentHold ?? DEFAULT_URGENT_HOLD;
    return this.urgentInFlight() || now < this.lastUrgentAt + quietMs;
  }

  private urgentInFlight(): boolean {
    return this.urgent.length > 0 || this.runningUrgent.size > 0;
  }

  /** While held by the quiet time alone, pumps again when it is over (urgent runs pump as they end). */
  private armHoldTimer(held: boolean, now: number): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (!held || this.stopped || this.urgentInFlight()) return;
    const { quietMs } = this.options.urgentHold ?? DEFAULT_URGENT_HOLD;
    this.holdTimer = setTimeout(() => this.pump(), Math.max(0, this.lastUrgentAt + quietMs - now));
  }

  private pump(): void {
    const limit = this.options.concurrency ?? 16;
    const now = this.now();
    const held = this.holding(now);
    while (this.running.size < limit) {
      const key = this.next(held);
      if (key === undefined) break;
      if (this.waitingLane.get(key) === 'urgent') this.runningUrgent.add(key);
      this.waitingLane.delete(key);
      this.running.add(key);
      void this.run(key);
    }
    this.holdSubject.next(held);
    this.armHoldTimer(held, now);
    if (this.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private async run(key: K): Promise<void> {
    const started = performance.now();
    let error: unknown;
    let retryInMs: number | undefined;
    try {
      const outcome = await this.handler(key);
      this.failures.delete(key);
      const at = outcome ? outcome.requeueAt : undefined;
      if (at !== undefined && !this.stopped) this.timers.schedule(key, at);
      else this.timers.cancel(key);
    } catch (e) {
      error = e;
      retryInMs = this.backOff(key);
    }
    this.running.delete(key);
    if (this.runningUrgent.delete(key)) this.lastUrgentAt = this.now();
    this.resultsSubject.next({
      key,
      durationMs: performance.now() - started,
      ...(error !== undefined ? { error, retryInMs } : {}),
    });
    const urgent = this.dirtyUrgent.delete(key);
    if (this.dirty.delete(key) && !this.stopped) this.enqueue(key, urgent);
    this.pump();
  }
}
