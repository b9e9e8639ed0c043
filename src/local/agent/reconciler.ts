/**
 * The agent's controllers are level-based: any change of a watched kind (or a periodic tick,
 * for dependencies that are not watched, e.g. a Secret a pod waits for) schedules one pass
 * over the cached state. Passes never overlap and a burst of events coalesces into one pass.
 */

/** Runs `pass` after triggers (coalesced) and every `periodMs`; never two passes at once. */
export class Reconciler {
  private running: Promise<void> | undefined;
  private pending = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: string,
    private readonly pass: () => Promise<void>,
    private readonly periodMs: number,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts the periodic tick and runs a first pass. */
  start(): void {
    this.timer = setInterval(() => this.trigger(), this.periodMs);
    this.trigger();
  }

  /** Asks for a pass; one that is running now is followed by exactly one more. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = (async () => {
      do {
        this.pending = false;
        try {
          await this.pass();
        } catch (error) {
          this.log(`${this.name}: pass failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      } while (this.pending && !this.stopped);
      this.running = undefined;
    })();
  }

  /** Stops ticking and waits for a running pass. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}

/**
 * Long work for one object (a copy, a provisioning) runs in the background, at most once per
 * key at a time, so a pass stays short; when it ends, `done` asks for another pass.
 */
export class KeyedTasks {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly done: () => void,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts `task` for `key` unless one is already running for it. */
  run(key: string, task: () => Promise<void>): void {
    if (this.inFlight.has(key)) return;
    const promise = task()
      .catch((error: unknown) => this.log(`${key}: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        this.inFlight.delete(key);
        this.done();
      });
    this.inFlight.set(key, promise);
  }

  /** Waits for every running task. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
