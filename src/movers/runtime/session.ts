/**
 * One run of a mover entrypoint, the same for every mover that drives a tool (restic, rclone):
 * prefixed, redacted lines with a transcript of everything printed, the tool stopped on
 * SIGTERM/SIGINT, and at the end a summary block (the runtime's summary engine over the
 * transcript, by the mover's rules) whose last line is the result, written as the termination
 * message too. The exit code comes from the failure: a ConfigError or an unexpected error is 1,
 * a MoverFailure carries its own.
 */
import { ConfigError } from './env.js';
import { signalRunningTools } from './process.js';
import { makeRedactor, secretValues } from './redact.js';
import { summarize, type SummaryRules } from './summary.js';
import { writeTerminationMessage } from './termination.js';
import { EXIT_CONFIG_ERROR, EXIT_OK, stoppedExitCode } from './exit-codes.js';

/** A failure that ends the run with `code` (1 unless the mover says otherwise) and `message`. */
export class MoverFailure extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT_CONFIG_ERROR,
  ) {
    super(message);
  }
}

/** How a session stops its tools and cleans up. */
export interface SessionOptions {
  /** `scribe <mover> <role>`: the prefix of every line the session prints. */
  prefix: string;
  env: NodeJS.ProcessEnv;
  summary: SummaryRules;
  /** The signal a stopped run sends its tools (restic removes its own lock on SIGINT). */
  stopSignal: NodeJS.Signals;
}

/** One run of a mover entrypoint. */
export class MoverSession {
  redact: (text: string) => string;
  protected readonly transcript: string[] = [];

  constructor(protected readonly options: SessionOptions) {
    this.redact = makeRedactor(secretValues(options.env));
  }

  /** The environment the entrypoint was started with. */
  protected get env(): NodeJS.ProcessEnv {
    return this.options.env;
  }

  /** Prints `<prefix>: message` (redacted) and records it. */
  log(message: string): void {
    const line = this.redact(`${this.options.prefix}: ${message}`);
    process.stdout.write(`${line}\n`);
    this.transcript.push(line);
  }

  /** Prints a machine-readable line without the prefix. */
  print(line: string): void {
    process.stdout.write(`${line}\n`);
    this.transcript.push(line);
  }

  /** Records a tool's (already redacted) output for the summary. */
  record(...texts: string[]): void {
    this.transcript.push(...texts);
  }

  /** Removes what the run made (a run directory); called when the run ends or is stopped. */
  protected cleanup(): void {}

  /** Lines the termination message carries before the summary, from the transcript (none by default). */
  protected terminationPreamble(_transcript: string): string | undefined {
    return undefined;
  }

  /** Runs `body`, cleans up, prints the summary ending with the result line; resolves with the exit code. */
  async run(body: () => Promise<string>): Promise<number> {
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      process.once(signal, () => {
        signalRunningTools(this.options.stopSignal);
        this.cleanup();
        this.log(`result: stopped by ${signal}`);
        process.exit(stoppedExitCode(signal));
      });
    let code: number = EXIT_OK;
    let result: string;
    try {
      result = await body();
    } catch (error) {
      if (error instanceof MoverFailure) {
        code = error.code;
        result = `failed: ${error.message}`;
      } else if (error instanceof ConfigError) {
        code = EXIT_CONFIG_ERROR;
        result = `configuration error: ${error.message}`;
      } else {
        code = EXIT_CONFIG_ERROR;
        result = `failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      }
      this.log(`error: ${result.replace(/^(failed|configuration error): /, '')}`);
    } finally {
      this.cleanup();
    }
    const final = this.redact(`${this.options.prefix}: result: ${result}; exit code ${code}`);
    this.transcript.push(final);
    const summary = summarize(this.transcript.join('\n'), this.options.summary, this.redact);
    // The summary ends with the result line, so it is also the last line of the output.
    process.stdout.write(`${this.options.prefix}: summary:\n${summary}\n`);
    const preamble = this.terminationPreamble(this.transcript.join('\n'));
    writeTerminationMessage(preamble === undefined ? summary : `${preamble}\n${summary}`);
    return code;
  }
}
