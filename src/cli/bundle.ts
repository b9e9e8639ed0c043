/**
 * Single-file bundles of Scribe's programs, every dependency inlined and tree-shaken by esbuild
 * (`npm run build` makes both; the image runs them):
 *
 * - dist/kubectl-scribe: the plugin; runs when copied alone into a directory on PATH.
 * - dist/operator.mjs: the operator, which bin/scribe runs when it exists. Loaded as separate
 *   modules, @kubernetes/client-node brings every generated API class with it (~60 MiB of
 *   resident memory for code Scribe never calls); the bundle keeps only what is used.
 */
import { chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `npm run build` puts the operator bundle. */
export const OPERATOR_BUNDLE = join(root, 'dist', 'operator.mjs');

/** Where `npm run build` and `npm run build:plugin` put the plugin. */
export const PLUGIN_BUNDLE = join(root, 'dist', 'kubectl-scribe');

/** Bundles the TypeScript program `entry` into one ES module at `outfile`. */
export async function bundleProgram(entry: string, outfile: string, options: { executable?: boolean } = {}) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // xstate's higher-order guards are told apart by function name in the chart (src/inspect).
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    // Some bundled CommonJS dependencies call require() for Node built-ins; ESM has no require.
    banner: {
      js: "import { createRequire as __scribeCreateRequire } from 'node:module';\nconst require = __scribeCreateRequire(import.meta.url);",
    },
  });
  if (options.executable) await chmod(outfile, 0o755);
  return outfile;
}

/** Builds dist/operator.mjs (or `outfile`; `entry` for a variant such as the benchmark's). */
export function bundleOperator(
  outfile: string = OPERATOR_BUNDLE,
  entry: string = join(root, 'src', 'cli', 'operator.ts'),
): Promise<string> {
  return bundleProgram(entry, outfile);
}

/** Builds the plugin at `outfile` (dist/kubectl-scribe by default), executable. */
export function bundlePlugin(outfile: string = PLUGIN_BUNDLE): Promise<string> {
  return bundleProgram(join(root, 'src', 'cli', 'kubectl-scribe.ts'), outfile, { executable: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`built ${await bundleOperator()}`);
  console.log(`built ${await bundlePlugin()}`);
}
