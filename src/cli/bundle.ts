/**
 * Single-file bundles of Scribe's programs, every dependency inlined and tree-shaken by esbuild
 * (`npm run build` makes both; the image runs them):
 *
 * - dist/kubectl-scribe: the plugin; runs when copied alone into a directory on PATH.
 * - dist/operator.mjs: the operator, which bin/scribe runs when it exists. Loaded as separate
 *   modules, @kubernetes/client-node brings every generated API class with it (~60 MiB of
 *   resident memory for code Scribe never calls); the bundle keeps only what is used.
 * - dist/movers/<mover>/<entrypoint>.mjs: each mover entrypoint, which bin/scribe runs for
 *   `scribe mover <mover>-<entrypoint>` when it exists. A mover starts on every sync's path: its
 *   bundle starts in ~35 ms, the CLI with the same code as separate modules in ~55 ms. The rsync
 *   destination's ssh session entrypoint lies beside it, where the destination looks for it.
 */
import { chmod } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { MOVERS, type MoverDescriptor } from '../movers/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The module that stands in for client-node's serializer in ListWatch (see leanerDependencies). */
const SELECTOR_SERIALIZER = join(root, 'src', 'kube', 'selector-serializer.ts');

/** node:url's URL as the whatwg-url package's default export (see leanerDependencies). */
const NODE_URL = join(root, 'src', 'kube', 'whatwg-url.ts');

/** The two exports of client-node's generated index its KubeConfig uses (see leanerDependencies). */
const KUBECONFIG_CONFIGURATION = join(root, 'src', 'kube', 'client-node-configuration.ts');

/** rxjs's ES build (its package resolves to CommonJS on Node). */
const RXJS_ES_BUILD = join(
  dirname(createRequire(import.meta.url).resolve('rxjs/package.json')),
  'dist',
  'esm',
  'index.js',
);

/** Where `npm run build` puts the operator bundle. */
export const OPERATOR_BUNDLE = join(root, 'dist', 'operator.mjs');

/** Where `npm run build` and `npm run build:plugin` put the plugin. */
export const PLUGIN_BUNDLE = join(root, 'dist', 'kubectl-scribe');

/** Where `npm run build` puts the mover bundles. */
export const MOVER_BUNDLES = join(root, 'dist', 'movers');

/** Every mover entrypoint, as src/movers/<mover>/<entrypoint>.ts, from the catalog (rsync's session: sshd runs it). */
export const MOVER_ENTRYPOINTS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  MOVERS.map((mover) => [mover.kind, mover.bundled]),
);

/** A mover with bundled entrypoints. */
export type MoverName = MoverDescriptor['kind'];

/**
 * Two dependencies whose defaults cost the operator memory for code it never runs:
 * - client-node's ListWatch imports its ObjectSerializer, which holds every generated API model
 *   (~600 KB of code, ~8 MiB of heap at start), to pass label and field selectors through
 *   unchanged; the bundle gives it a serializer that does just that (SELECTOR_SERIALIZER).
 * - rxjs resolves to its CommonJS build on Node, which esbuild cannot tree-shake; its ES build
 *   is the same code.
 * - node-fetch (client-node's HTTP client) falls back to the whatwg-url package where Node has no
 *   URL; its tables cost ~4 MiB of heap at start, so the bundle hands it Node's URL.
 */
const leanerDependencies: Plugin = {
  name: 'leaner-dependencies',
  setup(build) {
    build.onResolve({ filter: /^\.\/serializer\.js$/ }, (args) =>
      /@kubernetes[\\/]client-node[\\/]dist[\\/]cache\.js$/.test(args.importer)
        ? { path: SELECTOR_SERIALIZER }
        : undefined,
    );
    build.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (args) =>
      /@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/.test(args.importer)
        ? { path: KUBECONFIG_CONFIGURATION }
        : undefined,
    );
    build.onResolve({ filter: /^rxjs$/ }, () => ({ path: RXJS_ES_BUILD }));
    build.onResolve({ filter: /^whatwg-url$/ }, (args) =>
      /[\\/]node-fetch[\\/]/.test(args.importer) ? { path: NODE_URL } : undefined,
    );
  },
};

/** esbuild's options shared by every bundle. */
const COMMON = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // xstate's higher-order guards are told apart by function name in the chart (src/inspect).
  keepNames: true,
  legalComments: 'none',
  minifyWhitespace: true,
  logLevel: 'warning',
  // Some bundled CommonJS dependencies call require() for Node built-ins; ESM has no require.
  plugins: [leanerDependencies],
  banner: {
    js: "import { createRequire as __scribeCreateRequire } from 'node:module';\nconst require = __scribeCreateRequire(import.meta.url);",
  },
} satisfies BuildOptions;

/** Bundles the TypeScript program `entry` into one ES module at `outfile`. */
export async function bundleProgram(entry: string, outfile: string, options: { executable?: boolean } = {}) {
  await build({ ...COMMON, entryPoints: [entry], outfile });
  if (options.executable) await chmod(outfile, 0o755);
  return outfile;
}

/** Builds dist/movers/<mover>/<entrypoint>.mjs for `movers` (all by default) into `outdir`. */
export async function bundleMovers(
  outdir: string = MOVER_BUNDLES,
  movers: readonly MoverName[] = MOVERS.map((mover) => mover.kind),
): Promise<string> {
  const source = join(root, 'src', 'movers');
  await build({
    ...COMMON,
    entryPoints: movers.flatMap((mover) =>
      (MOVER_ENTRYPOINTS[mover] ?? []).map((name) => join(source, mover, `${name}.ts`)),
    ),
    outbase: source,
    outdir,
    outExtension: { '.js': '.mjs' },
  });
  return outdir;
}

/** Where the operator bundle's lazily loaded parts go, beside it (the image copies the folder). */
export const OPERATOR_CHUNKS = 'operator-chunks';

/**
 * Builds dist/operator.mjs (or `outfile`; `entry` for a variant such as the benchmark's). Code
 * imported only on demand (the state chart's layout engine, ~3.7 MB, for the /debug pages) goes
 * into files of its own in OPERATOR_CHUNKS beside it: one file would keep its source in memory
 * from the start even in an operator that never draws a chart.
 */
export async function bundleOperator(
  outfile: string = OPERATOR_BUNDLE,
  entry: string = join(root, 'src', 'cli', 'operator.ts'),
): Promise<string> {
  await build({
    ...COMMON,
    entryPoints: { [basename(outfile, '.mjs')]: entry },
    outdir: dirname(outfile),
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: `${OPERATOR_CHUNKS}/[name]-[hash]`,
  });
  return outfile;
}

/** Builds the plugin at `outfile` (dist/kubectl-scribe by default), executable. */
export function bundlePlugin(outfile: string = PLUGIN_BUNDLE): Promise<string> {
  return bundleProgram(join(root, 'src', 'cli', 'kubectl-scribe.ts'), outfile, { executable: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`built ${await bundleOperator()}`);
  console.log(`built ${await bundlePlugin()}`);
  console.log(`built ${await bundleMovers()}`);
}
