/**
 * `npm run build:plugin`: the plugin alone as one executable file, dist/kubectl-scribe (or the
 * path given), that runs when copied alone into a directory on PATH. See ../cli/bundle.ts.
 */
import { fileURLToPath } from 'node:url';
import { bundlePlugin, PLUGIN_BUNDLE } from '../cli/bundle.js';

export { bundlePlugin, PLUGIN_BUNDLE };

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? PLUGIN_BUNDLE;
  await bundlePlugin(out);
  console.log(`built ${out}`);
}
