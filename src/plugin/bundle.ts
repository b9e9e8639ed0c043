/**
 * Bundles the plugin into one executable file, dist/kubectl-scribe, that runs when copied alone
 * into a directory on PATH (`npm run build:plugin`). Node only; nothing of the checkout is needed.
 */
import { chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The bundle's default location. */
export const PLUGIN_BUNDLE = join(root, 'dist', 'kubectl-scribe');

/** Builds the bundle at `outfile` and makes it executable. */
export async function bundlePlugin(outfile: string = PLUGIN_BUNDLE): Promise<string> {
  await build({
    entryPoints: [join(root, 'src', 'cli', 'kubectl-scribe.ts')],
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
  await chmod(outfile, 0o755);
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? PLUGIN_BUNDLE;
  await bundlePlugin(out);
  console.log(`built ${out}`);
}
