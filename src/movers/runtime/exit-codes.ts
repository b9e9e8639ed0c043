/**
 * Exit codes every mover entrypoint shares, and how a mover's own codes are explained (pure).
 * The operator reads the code from the mover pod's status (ObservedMover.exitCode) and each
 * mover's descriptor says what its codes mean.
 */

/** The run succeeded. */
export const EXIT_OK = 0;
/** A configuration error, or a failure without a more specific code. */
export const EXIT_CONFIG_ERROR = 1;

/** The code of a run stopped by `signal`, as a shell reports it (128 + signal number). */
export function stoppedExitCode(signal: 'SIGTERM' | 'SIGINT'): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** What a mover's exit codes mean: its own table, else the same words for every mover. */
export function exitExplainer(meanings: Readonly<Record<number, string>>): (code: number) => string {
  return (code) => meanings[code] ?? 'unexpected error (see latestMoverStatus.logs)';
}
