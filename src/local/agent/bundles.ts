/**
 * The mover bundles the local node agent's containers run: the image's `dist/movers` (see
 * src/cli/bundle.ts), built from the checkout's current sources. With them a mover pod on the
 * local runtime starts what a pod of the image starts (~35 ms), not the sources through tsx
 * (~0.2 s on every sync's path), and the code cannot be older than the checkout: the directory
 * is named after a hash of every source file, so an edit builds a new one (about a second) and an
 * unchanged checkout reuses it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { bundleMovers } from '../../cli/bundle.js';

/** Where a container finds the bundles (bin/scribe reads SCRIBE_BUNDLES). */
export const BUNDLES_IN_CONTAINER = '/scribe-bundles';

/** What the bundles are built from, relative to the repository root. */
const SOURCES = ['src', 'machines', 'package-lock.json'];

/** Builds (or reuses) the mover bundles of the checkout at `repoRoot`; returns their directory. */
export async function moverBundles(repoRoot: string): Promise<string> {
  const cache = join(repoRoot, 'node_modules', '.cache', 'scribe-local-bundles');
  const dir = join(cache, await sourceHash(repoRoot));
  if (existsSync(dir)) return dir;
  await mkdir(cache, { recursive: true });
  // Built aside, then renamed: runtimes starting at once (parallel tests) never see half a build.
  const staging = await mkdtemp(join(cache, 'staging-'));
  try {
    await bundleMovers(join(staging, 'movers'));
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(dir)) throw error; // else another runtime built the same sources first
  }
  return dir;
}

/** A hash of the path and content of every file the bundles are built from. */
async function sourceHash(repoRoot: string): Promise<string> {
  const hash = createHash('sha256');
  for (const source of SOURCES) {
    for (const file of await filesUnder(join(repoRoot, source))) {
      hash
        .update(relative(repoRoot, file))
        .update('\0')
        .update(await readFile(file))
        .update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** Every file under `path` (or `path` itself), sorted, so the hash does not depend on listing order. */
async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true, recursive: true }).catch(() => undefined);
  if (entries === undefined) return existsSync(path) ? [path] : [];
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}
