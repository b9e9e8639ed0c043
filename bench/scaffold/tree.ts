/**
 * A deterministic file tree for the mover benchmarks: `files` regular files in nested
 * directories, sizes log-uniformly spread (a few empty, most small, some of several MiB) and
 * scaled to `totalBytes`, half incompressible and half text-like (so rsync -z has work both ways),
 * plus a few symlinks and hard links. The same seed gives the same tree, byte for byte.
 */
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** A small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` pseudo-random bytes from `seed` (xorshift32, four bytes a step). */
export function randomBytes(seed: number, length: number): Buffer {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, length);
}

const WORDS =
  'volume replica snapshot rsync source destination schedule trigger manual claim storage cluster node pod job ' +
  'service secret key sync copy clone backup restore data block file directory mount owner label status ' +
  'condition reconcile operator controller watch event queue timer cycle mover image lorem ipsum dolor sit ' +
  'amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua';

/** A text-like buffer of `length` bytes: lines of pseudo-random words (compresses about 3–4×). */
export function textBytes(seed: number, length: number): Buffer {
  const words = WORDS.split(' ');
  const next = prng(seed);
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const count = 4 + Math.floor(next() * 12);
    let line = `${Math.floor(next() * 1e9)}`;
    for (let i = 0; i < count; i++) line += ` ${words[Math.floor(next() * words.length)]}`;
    line += '\n';
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, length);
}

/** The contents of one file. */
function contents(seed: number, index: number, size: number, text: boolean): Buffer {
  const fileSeed = (seed * 1_000_003 + index * 7919) >>> 0;
  return text ? textBytes(fileSeed, size) : randomBytes(fileSeed, size);
}

/** What was generated, for the incremental round. */
export interface Tree {
  root: string;
  /** Relative paths of the regular files (not the links), in creation order. */
  files: string[];
  bytes: number;
  dirs: number;
  symlinks: number;
  hardLinks: number;
}

/** Generates the tree under `root` (created; must not exist or be empty). */
export function generateTree(root: string, options: { seed: number; files: number; totalBytes: number }): Tree {
  const next = prng(options.seed);
  const count = Math.max(1, Math.floor(options.files));
  // Log-uniform raw sizes between 256 B and 16 MiB; about 1 in 50 files is empty.
  const raw = Array.from({ length: count }, () =>
    next() < 0.02 ? 0 : Math.exp(Math.log(256) + next() * Math.log(65536)),
  );
  const scale = options.totalBytes / raw.reduce((sum, size) => sum + size, 0);
  const sizes = raw.map((size) => Math.round(size * scale));
  // Directories: top/NN/NN, about 50 files each, plus a few files at the top.
  const leafDirs = Math.max(1, Math.ceil(count / 50));
  const perTop = 10;
  mkdirSync(root, { recursive: true });
  const dirs = new Set<string>();
  const files: string[] = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const leaf = i % (leafDirs + 1);
    const dir =
      leaf === leafDirs ? '' : join(`d${String(Math.floor(leaf / perTop)).padStart(3, '0')}`, `s${leaf % perTop}`);
    if (dir !== '' && !dirs.has(dir)) {
      mkdirSync(join(root, dir), { recursive: true });
      dirs.add(dir);
    }
    const rel = join(dir, `f${String(i).padStart(6, '0')}.${i % 2 === 0 ? 'bin' : 'txt'}`);
    const size = sizes[i] as number;
    writeFileSync(join(root, rel), contents(options.seed, i, size, i % 2 === 1));
    files.push(rel);
    bytes += size;
  }
  // A fixed mtime so two generations of the same seed are identical to rsync's quick check too.
  for (const rel of files) utimesSync(join(root, rel), 1_700_000_000, 1_700_000_000);
  const links = Math.min(10, Math.floor(count / 10));
  mkdirSync(join(root, 'links'), { recursive: true });
  for (let i = 0; i < links; i++) {
    const target = files[Math.floor(next() * files.length)] as string;
    symlinkSync(join('..', target), join(root, 'links', `sym${i}`));
    linkSync(join(root, target), join(root, 'links', `hard${i}`));
  }
  const topDirs = new Set([...dirs].map((dir) => dir.split('/')[0]));
  return { root, files, bytes, dirs: topDirs.size + dirs.size + 1, symlinks: links, hardLinks: links };
}

/** What one incremental change did. */
export interface Change {
  modified: number;
  deleted: number;
  added: number;
  bytesWritten: number;
}

/**
 * Changes about `fraction` of the files in place (a 4 KiB region rewritten, or 64 KiB appended
 * to one in four), deletes `deletions` files and adds as many new ones, deterministically by `seed`.
 */
export function changeTree(tree: Tree, options: { seed: number; fraction: number; deletions: number }): Change {
  const next = prng(options.seed);
  const modifyCount = Math.max(1, Math.round(tree.files.length * options.fraction));
  const change: Change = { modified: 0, deleted: 0, added: 0, bytesWritten: 0 };
  const pick = () => Math.floor(next() * tree.files.length);
  for (let i = 0; i < modifyCount; i++) {
    const rel = tree.files[pick()] as string;
    const path = join(tree.root, rel);
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    try {
      if (i % 4 === 3 || size < 4096) {
        const extra = randomBytes(options.seed + i, 65536);
        writeSync(fd, extra, 0, extra.length, size);
        change.bytesWritten += extra.length;
      } else {
        const region = randomBytes(options.seed + i, 4096);
        writeSync(fd, region, 0, region.length, Math.floor(next() * (size - 4096)));
        change.bytesWritten += region.length;
      }
    } finally {
      closeSync(fd);
    }
    change.modified++;
  }
  for (let i = 0; i < options.deletions && tree.files.length > 1; i++) {
    const index = pick();
    const rel = tree.files[index] as string;
    tree.files.splice(index, 1);
    rmSync(join(tree.root, rel));
    change.deleted++;
    // A new file where the old one was, under a new name.
    const added = `${rel}.new${options.seed}`;
    const data = contents(options.seed, 1_000_000 + i, 8192 + Math.floor(next() * 262144), i % 2 === 0);
    writeFileSync(join(tree.root, added), data);
    tree.files.push(added);
    change.added++;
    change.bytesWritten += data.length;
  }
  return change;
}
