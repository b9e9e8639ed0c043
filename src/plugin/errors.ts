/** Errors the plugin reports to the user as one clear line, with an exit code. */

/** Exit codes: 1 failure or bad input, 2 timeout. */
export const EXIT_FAILURE = 1;
export const EXIT_TIMEOUT = 2;

/** An error meant for the user: printed without a stack trace. */
export class PluginError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'PluginError';
  }
}
