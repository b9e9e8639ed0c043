#!/usr/bin/env node
/** `kubectl-scribe`: the kubectl plugin (`kubectl scribe ...`); bundled into dist/kubectl-scribe. */
import { PluginError } from '../plugin/errors.js';
import { buildProgram } from '../plugin/program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    // User-facing errors are one clear message; anything else is a bug and keeps its stack.
    if (error instanceof PluginError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    }
  });
