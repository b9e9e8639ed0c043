/** Writes crds/*.yaml from src/api. `--check` exits non-zero when the files on disk differ. */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderCrdFiles } from '../src/api/render.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
let stale = 0;
for (const [relativePath, text] of renderCrdFiles()) {
  const path = `${root}${relativePath}`;
  const current = await readFile(path, 'utf8').catch(() => '');
  if (current === text) continue;
  if (check) {
    console.error(`${relativePath} is out of date: run npm run crds`);
    stale++;
  } else {
    await writeFile(path, text);
    console.log(`wrote ${relativePath}`);
  }
}
process.exit(stale ? 1 : 0);
