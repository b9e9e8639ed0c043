/**
 * A per-key work queue with controller-runtime's semantics: a key is processed by at most one
 * worker at a time; requests for a key that arrive while it is being processed coalesce into
 * exactly one more run afterwards (level-based: the handler reads the latest state itself);
 * different keys proceed concurrently up to `concurrency`.
 */
import { Observable, Subject } from 'rxjs';

/** The outcome of one run of the handler for a key. */
export interface RunResult<K> {
  key: K;
  durationMs: number;
  error?: unknown;
}

/** Options of a work queue. */
export interface WorkQueueOptions {
  /** Keys processed at the same time at most. */
  concurrency?: number;
}

/** A keyed queue; `results$` reports each finished run (for logs, metrics and tests). */
export class KeyedWorkQueue<K extends string> {
  private readonly running = new Set<K>();
  private readonly dirty = new Set<K>();
  private readonly waiting: K[] = [];
  private readonly waitingSet = new Set<K>();
  private readonly resultsSubject = new Subject<RunResult<K>>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  readonly results$: Observable<RunResult<K>> = this.resultsSubject.asObservable();

  constructor(
    private readonly handler: (key: K) => Promise<void>,
    private readonly options: WorkQueueOptions = {},
  ) {}

  /** Asks for `key` to be processed (again). */
  add(key: K): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waitingSet.has(key)) return;
    this.waiting.push(key);
    this.waitingSet.add(key);
    this.pump();
  }

  /** Number of keys running or waiting. */
  get size(): number {
    return this.running.size + this.waiting.length;
  }

  /** Resolves when nothing is running or waiting. */
  whenIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Accepts no more keys; resolves once the runs in flight have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    this.waitingSet.clear();
    this.dirty.clear();
    await this.whenIdle();
    this.resultsSubject.complete();
  }

  private pump(): void {
    const limit = this.options.concurrency ?? 16;
    while (this.running.size < limit && this.waiting.length > 0) {
      const key = this.waiting.shift() as K;
      this.waitingSet.delete(key);
      this.running.add(key);
      void this.run(key);
    }
    if (this.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private async run(key: K): Promise<void> {
    const started = performance.now();
    let error: unknown;
    try {
      await this.handler(key);
    } catch (e) {
      error = e;
    }
    this.running.delete(key);
    this.resultsSubject.next({ key, durationMs: performance.now() - started, error });
    if (this.dirty.delete(key) && !this.stopped) {
      this.waiting.push(key);
      this.waitingSet.add(key);
    }
    this.pump();
  }
}
