/**
 * Progress of a transfer as one log line every few seconds, the same for every mover, so
 * `kubectl scribe sync` can show bytes and files moved, the rate and the elapsed time by reading
 * the mover pod's log (the one channel that works the same on every cluster):
 *
 *   scribe progress: files=1234 bytes=56789012 elapsed=12.0
 *
 * `files` and `bytes` count what this run moved so far (a file's full size once it was sent),
 * `elapsed` the seconds since the transfer started.
 */

export interface Progress {
  files: number;
  bytes: number;
  elapsedSeconds: number;
}

const PREFIX = 'scribe progress:';

/**
 * A meter also reports after this many lines of the tool's output, so the last
 * PROGRESS_TAIL_LINES lines of a pod's log always hold a progress line, however chatty the tool
 * (rsync itemizes every file): readers fetch a bounded tail instead of the whole log.
 */
export const REPORT_EVERY_LINES = 1000;
/** How many lines at the end of a mover's log to read for its latest progress. */
export const PROGRESS_TAIL_LINES = REPORT_EVERY_LINES + 200;
const LINE = /scribe progress: files=(\d+) bytes=(\d+) elapsed=(\d+(?:\.\d+)?)/g;

/** The log line for `progress`. */
export function progressLine(progress: Progress): string {
  return `${PREFIX} files=${progress.files} bytes=${progress.bytes} elapsed=${progress.elapsedSeconds.toFixed(1)}`;
}

/** The last progress line in a log, or undefined when there is none. */
export function lastProgress(log: string): Progress | undefined {
  let last: RegExpExecArray | undefined;
  for (const match of log.matchAll(LINE)) last = match;
  if (!last) return undefined;
  return { files: Number(last[1]), bytes: Number(last[2]), elapsedSeconds: Number(last[3]) };
}

/** Counts what a transfer moved and writes a progress line every `intervalMs` while it runs. */
export class ProgressMeter {
  private files = 0;
  private bytes = 0;
  private linesSinceReport = 0;
  private readonly started: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs = 5000,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  /** Starts the periodic lines (the timer does not keep the process alive). */
  start(): this {
    this.timer = setInterval(() => this.report(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Records one more file of `bytes` moved. */
  add(bytes: number): void {
    this.files += 1;
    this.bytes += bytes;
  }

  /**
   * Sets the totals so far, for a tool that reports running totals itself (restic's status
   * lines) rather than file by file. Totals never go down: a late or repeated report of smaller
   * figures is ignored, so the lines a reader sees only grow.
   */
  set(files: number, bytes: number): void {
    if (Number.isFinite(files)) this.files = Math.max(this.files, Math.floor(files));
    if (Number.isFinite(bytes)) this.bytes = Math.max(this.bytes, Math.floor(bytes));
  }

  /** Notes one line of the tool's output (see REPORT_EVERY_LINES). */
  observeLine(): void {
    if (++this.linesSinceReport >= REPORT_EVERY_LINES) this.report();
  }

  /** Stops the timer and writes the final figures. */
  stop(): Progress {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.report();
  }

  private report(): Progress {
    this.linesSinceReport = 0;
    const progress = { files: this.files, bytes: this.bytes, elapsedSeconds: (this.now() - this.started) / 1000 };
    this.write(progressLine(progress));
    return progress;
  }
}
