/**
 * The one process runner of every mover's tools (rsync, ssh, restic, rclone): output is echoed
 * line by line through the redactor (the Pod log is the full record, without secrets; whole
 * lines, so lines the mover writes meanwhile, such as progress, never land inside one of the
 * tool's), kept for parsing and the summary, and a deadline kills a tool that hangs (restic
 * retries an unreachable back end for 15 minutes).
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { constants } from 'node:os';

/** How a child ended: its exit code, or 128 + signal number as a shell reports it. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : constants.signals[signal]);
}

/** How a tool ended. */
export interface ToolResult {
  /** The exit code, or 128 + signal number as a shell reports it. */
  status: number;
  /** Redacted stdout (at most `keepBytes`, the end kept). */
  stdout: string;
  /** Redacted stderr (at most `keepBytes`, the end kept). */
  stderr: string;
  /** True when the deadline passed and the tool was killed. */
  timedOut: boolean;
  /** The stderr line that matched `failFast`, when the tool was killed for it. */
  failedFast?: string;
  /** The last `tailBytes` of stdout and stderr interleaved as they came (redacted). */
  tail: string;
}

/** Options of runTool. */
export interface ToolOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv | undefined;
  /** Applied to every line before it is echoed or kept (none by default). */
  redact?: (text: string) => string;
  /** Text for the tool's stdin, written (then stdin closed) once it settles; without it stdin is /dev/null. */
  input?: Promise<string>;
  /** Keep the output for the result only, echoing nothing. */
  quiet?: boolean;
  /** How much of the interleaved output `tail` keeps. */
  tailBytes?: number;
  /** Kill the tool after this long (no deadline when absent). */
  timeoutMs?: number;
  /**
   * The deadline ends at the tool's first stdout line instead of its exit: `restic backup --json`
   * prints nothing until it has opened the repository, so its first line proves the back end
   * answered, and the backup itself may then take as long as it needs.
   */
  deadlineEndsAtOutput?: boolean;
  /** Echo stdout lines to our stdout (false for machine output such as `snapshots --json`). */
  echoStdout?: boolean;
  keepBytes?: number;
  /**
   * A stderr line matching this kills the tool at once: for errors it would retry in vain
   * (restic retries "bucket does not exist" for 15 minutes).
   */
  failFast?: RegExp;
  /**
   * Called with each stdout line as the tool wrote it (before redaction; for parsing numbers,
   * e.g. restic's status lines, never for printing). Returning false drops the line: it is
   * neither echoed nor kept.
   */
  onStdoutLine?: (line: string) => boolean | void;
  /** Called with each stderr line as the tool wrote it (e.g. rclone's per-file log lines). */
  onStderrLine?: (line: string) => void;
}

const running = new Set<{ kill(signal: NodeJS.Signals): boolean }>();

/** Sends `signal` to every running tool (a stopped mover leaves nothing behind). */
export function signalRunningTools(signal: NodeJS.Signals): void {
  for (const child of running) child.kill(signal);
}

/** Runs `command args`, resolving when it has exited; never rejects (a spawn error is status 127). */
export function runTool(command: string, args: string[], options: ToolOptions = {}): Promise<ToolResult> {
  const keep = options.keepBytes ?? 4 * 1024 * 1024;
  const tailBytes = options.tailBytes ?? 64 * 1024;
  const redact = options.redact ?? ((text: string) => text);
  return new Promise((resolve) => {
    const spawnOptions: SpawnOptions = { stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] };
    if (options.env !== undefined) spawnOptions.env = options.env;
    if (options.cwd !== undefined) spawnOptions.cwd = options.cwd;
    const child = spawn(command, args, spawnOptions);
    running.add(child);
    if (options.input) {
      // The tool may be gone before the input is ready; writing to it then is not an error here.
      child.stdin?.on('error', () => undefined);
      void options.input.then((text) => child.stdin?.end(text));
    }
    let tail = '';
    const toTail = (line: string) => {
      tail = (tail + line).slice(-tailBytes);
    };
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    const out = lineCollector(
      redact,
      keep,
      toTail,
      options.echoStdout === false || options.quiet ? undefined : process.stdout,
      (line) => {
        if (options.deadlineEndsAtOutput && timer) clearTimeout(timer);
        return options.onStdoutLine?.(line);
      },
    );
    let failedFast: string | undefined;
    const err = lineCollector(redact, keep, toTail, options.quiet ? undefined : process.stderr, (line) => {
      if (failedFast === undefined && options.failFast?.test(line)) {
        failedFast = line;
        child.kill('SIGKILL');
      }
      options.onStderrLine?.(line);
    });
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    let spawnError: Error | undefined;
    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      if (timer) clearTimeout(timer);
      const stdout = out.end();
      const spawnMessage = spawnError ? `${command}: ${spawnError.message}\n` : '';
      const stderr = err.end() + spawnMessage;
      toTail(spawnMessage);
      const status = spawnError ? 127 : exitStatus(code, signal);
      resolve({ status, stdout, stderr, tail, timedOut, ...(failedFast === undefined ? {} : { failedFast }) });
    });
  });
}

/**
 * Splits a stream into lines, redacts each, echoes it and keeps the last `keep` bytes; a line
 * for which `onLine` returns false is dropped (neither echoed nor kept).
 */
function lineCollector(
  redact: (text: string) => string,
  keep: number,
  toTail: (line: string) => void,
  echo?: NodeJS.WriteStream,
  onLine?: (line: string) => boolean | void,
) {
  let partial = '';
  let kept = '';
  const emit = (line: string) => {
    if (onLine?.(line) === false) return;
    const clean = `${redact(line)}\n`;
    echo?.write(clean);
    kept = (kept + clean).slice(-keep);
    toTail(clean);
  };
  return {
    push(chunk: Buffer) {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      lines.forEach(emit);
    },
    end(): string {
      if (partial !== '') emit(partial);
      partial = '';
      return kept;
    },
  };
}
