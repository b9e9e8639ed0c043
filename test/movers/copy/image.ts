/**
 * The image the copy mover's Jobs run in: Scribe's stock `scribe-mover` image plus one OCI layer
 * holding the copy mover's bundles (/scribe/dist/movers/copy/source.mjs and destination.mjs),
 * which bin/scribe runs for `scribe mover copy-source` and `copy-destination` as it runs the
 * shipped movers' bundles. The shipped images and catalog stay as they are: the derived image is
 * a layout of its own beside scripts/image.sh's.
 *
 * How, each step with the tools Scribe's images already use:
 * - the base: scripts/image.sh --json (builds what is missing; its OCI layout in the cache);
 * - the bundles: src/cli/bundle.ts's bundleProgram, the esbuild options of the shipped movers;
 * - the layer: `umoci insert` (the OCI tool the local node unpacks images with) into a copy of
 *   the base's layout whose blobs are hard links (blobs are named by digest and never rewritten),
 *   tagged with the input hash; the base's tag is then removed from the copy and `umoci gc`
 *   drops what the derived image does not reference (only the copy's links go).
 *
 * Cached like scripts/image.sh: by a hash of the inputs (the base's digest, the bundles' sources
 * and this file) under SCRIBE_CACHE/images/scribe-mover-copy-<hash>, described by a .json beside
 * it; a second run with unchanged inputs only hashes. The three newest layouts are kept.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { bundleProgram } from '../../../src/cli/bundle.js';
import { readImageConfig } from '../../../src/local/agent/images.js';
import { repoRoot } from '../../../src/local/tools.js';

const run = promisify(execFile);

/** The derived image's name in the cache and on the node. */
export const COPY_MOVER_IMAGE = 'scribe-mover-copy';

/** Where the bundles go in the image: beside the shipped movers' (see bin/scribe). */
const BUNDLE_DIR = '/scribe/dist/movers/copy';

/** The bundles' sources besides the copy mover's folder: what they inline, and the bundler's pins. */
const BUNDLE_INPUTS = ['test/movers/copy', 'src', 'machines', 'package-lock.json'];

/** The derived image, as scripts/image.sh describes its own (plus the base it came from). */
export interface DerivedImage {
  name: string;
  /** The OCI layout and the image's ref in it. */
  layout: string;
  ref: string;
  /** The manifest digest. */
  digest: string;
  /** The stock scribe-mover image's manifest digest. */
  baseDigest: string;
  /** Seconds the derivation took when it was built (the stock image's build not counted). */
  buildSeconds: number;
  builtAt: string;
  /** Whether this call built it or found it in the cache. */
  state: 'built' | 'cached';
}

/** One image as `scripts/image.sh --json` prints it. */
interface StockImage {
  name: string;
  layout: string;
  ref: string;
  digest: string;
}

/** The cache scripts/image.sh keeps its layouts in. */
function imagesDir(): string {
  const cache = process.env.SCRIBE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'scribe');
  return join(cache, 'images');
}

/** The stock scribe-mover image, built by scripts/image.sh if missing. */
async function stockMoverImage(): Promise<StockImage> {
  const { stdout } = await run('bash', [join(repoRoot(), 'scripts/image.sh'), '--json'], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const image = stdout
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as StockImage)
    .find((i) => i.name === 'scribe-mover');
  if (!image) throw new Error('scripts/image.sh --json described no scribe-mover image');
  return image;
}

/** Every file under `path` (a file or a directory), relative to the repository, sorted. */
async function filesUnder(path: string): Promise<string[]> {
  const root = repoRoot();
  const full = join(root, path);
  if (!(await stat(full)).isDirectory()) return [path];
  const entries = await readdir(full, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

/** The input hash: the base's digest, then each input file's path and content, then this module. */
async function inputKey(baseDigest: string): Promise<string> {
  const hash = createHash('sha256').update(`${baseDigest}\n`);
  for (const input of BUNDLE_INPUTS) {
    for (const file of await filesUnder(input)) {
      hash.update(`${file}\n`).update(await readFile(join(repoRoot(), file)));
    }
  }
  return hash.digest('hex').slice(0, 12);
}

/** umoci, with --rootless where this process cannot set owners (as the node's image store runs it). */
async function umoci(args: string[]): Promise<void> {
  const rootless = process.getuid?.() === 0 ? [] : ['--rootless'];
  const [command, ...rest] = args;
  await run('umoci', [command ?? '', ...(command === 'insert' ? rootless : []), ...rest], {
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** Builds the derived layout at `layout` (a fresh path) from `base` with the bundles in `context`. */
async function build(base: StockImage, key: string, layout: string, context: string): Promise<void> {
  // The copy mover's two entrypoints, with the shipped movers' esbuild options.
  const bundles = join(context, 'copy');
  for (const side of ['source', 'destination']) {
    await bundleProgram(join(repoRoot(), 'test/movers/copy', `${side}.ts`), join(bundles, `${side}.mjs`));
    await chmod(join(bundles, `${side}.mjs`), 0o644);
  }
  await chmod(bundles, 0o755);
  // The base's layout, its blobs hard-linked; index.json is copied, as umoci rewrites it.
  await mkdir(layout, { recursive: true });
  await run('cp', ['-r', '--link', join(base.layout, 'blobs'), join(layout, 'blobs')]);
  await cp(join(base.layout, 'index.json'), join(layout, 'index.json'));
  await cp(join(base.layout, 'oci-layout'), join(layout, 'oci-layout'));
  await umoci([
    'insert',
    '--image',
    `${layout}:${base.ref}`,
    '--tag',
    key,
    '--history.created_by',
    `umoci insert copy/ ${BUNDLE_DIR} (the copy mover's bundles, test/movers/copy)`,
    bundles,
    BUNDLE_DIR,
  ]);
  await umoci(['rm', '--image', `${layout}:${base.ref}`]);
  await umoci(['gc', '--layout', layout]);
}

/** Keeps the three newest derived layouts (and their descriptions). */
async function prune(dir: string): Promise<void> {
  const pattern = new RegExp(`^${COPY_MOVER_IMAGE}-[0-9a-f]{12}$`);
  const layouts = await Promise.all(
    (await readdir(dir))
      .filter((name) => pattern.test(name))
      .map(async (name) => ({ name, mtime: (await stat(join(dir, name))).mtimeMs })),
  );
  for (const { name } of layouts.sort((a, b) => b.mtime - a.mtime).slice(3)) {
    await rm(join(dir, name), { recursive: true, force: true });
    await rm(join(dir, `${name}.json`), { force: true });
  }
}

/** The derived image for the current inputs: from the cache, else built (then cached). */
export async function copyMoverImage(): Promise<DerivedImage> {
  const base = await stockMoverImage();
  // Timed from here: the derivation alone, not a build of the stock image.
  const started = Date.now();
  const key = await inputKey(base.digest);
  const dir = imagesDir();
  const layout = join(dir, `${COPY_MOVER_IMAGE}-${key}`);
  const description = `${layout}.json`;
  const cached = await readFile(description, 'utf8').then(
    (text) => JSON.parse(text) as Omit<DerivedImage, 'state'>,
    () => undefined,
  );
  if (cached) return { ...cached, state: 'cached' };

  // Scratch space beside the cache's layouts (same file system: hard links and renames).
  const work = join(dir, `.${COPY_MOVER_IMAGE}-${randomBytes(6).toString('hex')}`);
  try {
    await build(base, key, join(work, 'layout'), join(work, 'context'));
    const { digest } = await readImageConfig(join(work, 'layout'), key);
    const image: Omit<DerivedImage, 'state'> = {
      name: COPY_MOVER_IMAGE,
      layout,
      ref: key,
      digest,
      baseDigest: base.digest,
      buildSeconds: (Date.now() - started) / 1000,
      builtAt: new Date().toISOString(),
    };
    await rm(layout, { recursive: true, force: true });
    await rename(join(work, 'layout'), layout);
    // The description last: it is what says the layout is whole.
    await writeFile(`${description}.tmp`, `${JSON.stringify(image, null, 2)}\n`);
    await rename(`${description}.tmp`, description);
    await prune(dir);
    return { ...image, state: 'built' };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
