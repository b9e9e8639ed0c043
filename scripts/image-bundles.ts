/**
 * Writes the bundles the images carry into `<dir>/dist`, as `npm run build` writes them into the
 * checkout's dist/ (the same src/cli/bundle.ts): dist/operator.mjs and dist/movers/<mover>/*.mjs.
 * scripts/image.sh runs it into the build context, so building an image neither needs the
 * TypeScript compile of the whole project nor touches the checkout's dist/.
 *
 *   tsx scripts/image-bundles.ts DIR
 */
import { join, resolve } from 'node:path';
import { bundleMovers, bundleOperator } from '../src/cli/bundle.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: tsx scripts/image-bundles.ts DIR');
  process.exit(2);
}
const dist = join(resolve(dir), 'dist');
await bundleOperator(join(dist, 'operator.mjs'));
await bundleMovers(join(dist, 'movers'));
