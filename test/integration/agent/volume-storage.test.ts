import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, symlink, unlink, writeFile, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyDirectoryOnce } from '../../../src/local/agent/files.js';
import { prepareVolumeStorage, type VolumeStorage } from '../../../src/local/agent/storage.js';

// The node agent's volume storage (src/local/agent/storage.ts) on this machine's real file
// systems: as root with xfsprogs installed (scripts/setup.sh, CI), volumes and snapshots live on
// an XFS image whose copies share blocks; a copy must stay a point-in-time copy either way.

const isRoot = process.getuid?.() === 0;
const MiB = 2 ** 20;
const dirs: string[] = [];
const storages: VolumeStorage[] = [];

afterEach(async () => {
  for (const storage of storages.splice(0)) await storage.release();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scribe-storage-test-'));
  dirs.push(dir);
  return dir;
}

async function prepare(dir: string, mode: 'auto' | 'copy', lines: string[] = []) {
  const storage = await prepareVolumeStorage({ dataDir: dir, mode, log: (line) => lines.push(line) });
  storages.push(storage);
  return storage;
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const isMountPoint = (path: string) => {
  try {
    execFileSync('mountpoint', ['-q', path]);
    return true;
  } catch {
    return false;
  }
};

/** A volume with a large file, a small one, a symlink and a subdirectory. */
async function fillVolume(volume: string) {
  await mkdir(join(volume, 'sub'), { recursive: true });
  await writeFile(join(volume, 'big'), randomBytes(16 * MiB));
  await writeFile(join(volume, 'sub', 'small'), 'small\n');
  await writeFile(join(volume, 'gone'), 'deleted later\n');
  await symlink('sub/small', join(volume, 'link'));
  return { big: sha(join(volume, 'big')) };
}

describe('volume storage of the local node', () => {
  it('keeps volumes and snapshots on a file system whose copies share blocks (as root with xfsprogs)', async () => {
    const dir = await dataDir();
    const lines: string[] = [];
    const storage = await prepare(dir, 'auto', lines);
    // One line says which storage is used, and why.
    expect(lines.filter((line) => line.startsWith('volume storage: '))).toHaveLength(1);
    if (!isRoot) {
      expect(storage.sharesBlocks).toBe(false);
      expect(storage.description).toContain('needs root');
      return;
    }
    expect(storage.description).toContain('xfs image');
    expect(storage.sharesBlocks).toBe(true);
    for (const area of ['volumes', 'snapshots']) expect(isMountPoint(join(dir, area))).toBe(true);

    // A 64 MiB volume's snapshot takes next to no space: its blocks are the volume's.
    const volume = join(dir, 'volumes', 'pvc-a');
    await mkdir(volume);
    writeFileSync(join(volume, 'data'), randomBytes(64 * MiB));
    const freeBytes = () => {
      const fs = statfsSync(join(dir, 'volumes'));
      return fs.bavail * fs.bsize;
    };
    const before = freeBytes();
    const started = Date.now();
    await copyDirectoryOnce(volume, join(dir, 'snapshots', 'snapcontent-a'));
    expect(before - freeBytes()).toBeLessThan(4 * MiB);
    expect(sha(join(dir, 'snapshots', 'snapcontent-a', 'data'))).toBe(sha(join(volume, 'data')));
    expect(Date.now() - started).toBeLessThan(10_000);

    // Released, nothing stays mounted; a later agent on the data directory finds its volumes again.
    await storages.pop()?.release();
    for (const area of ['volumes', 'snapshots', 'storage']) expect(isMountPoint(join(dir, area))).toBe(false);
    expect(existsSync(join(volume, 'data'))).toBe(false);
    const again = await prepare(dir, 'auto');
    expect(again.sharesBlocks).toBe(true);
    expect(readFileSync(join(dir, 'snapshots', 'snapcontent-a', 'data')).length).toBe(64 * MiB);
  });

  for (const mode of ['auto', 'copy'] as const) {
    it(`keeps a snapshot and a clone point-in-time when the source is written after (mode ${mode})`, async () => {
      const dir = await dataDir();
      const storage = await prepare(dir, mode);
      if (mode === 'copy') expect(storage.sharesBlocks).toBe(false);
      const volume = join(dir, 'volumes', 'pvc-source');
      const original = await fillVolume(volume);
      const snapshot = join(dir, 'snapshots', 'snapcontent-1');
      const clone = join(dir, 'volumes', 'pvc-clone');
      await copyDirectoryOnce(volume, snapshot);
      await copyDirectoryOnce(volume, clone);

      // Every kind of later write to the source: in place, appended, truncated, deleted, replaced.
      const file = await open(join(volume, 'big'), 'r+');
      await file.write(Buffer.alloc(MiB, 0xff), 0, MiB, 4 * MiB);
      await file.close();
      await writeFile(join(volume, 'big'), 'appended', { flag: 'a' });
      await truncate(join(volume, 'sub', 'small'), 2);
      await unlink(join(volume, 'gone'));
      await writeFile(join(volume, 'new'), 'new\n');
      expect(sha(join(volume, 'big'))).not.toBe(original.big);

      for (const copy of [snapshot, clone]) {
        expect(sha(join(copy, 'big'))).toBe(original.big);
        expect(readFileSync(join(copy, 'sub', 'small'), 'utf8')).toBe('small\n');
        expect(readFileSync(join(copy, 'gone'), 'utf8')).toBe('deleted later\n');
        expect(readFileSync(join(copy, 'link'), 'utf8')).toBe('small\n');
        expect(existsSync(join(copy, 'new'))).toBe(false);
      }
      // A restore from the snapshot, then written: the snapshot does not change either.
      const restored = join(dir, 'volumes', 'pvc-restored');
      await copyDirectoryOnce(snapshot, restored);
      await writeFile(join(restored, 'big'), 'overwritten');
      expect(sha(join(snapshot, 'big'))).toBe(original.big);
    });
  }

  it('does not hide plain volumes an earlier agent left in the data directory', async () => {
    const dir = await dataDir();
    await mkdir(join(dir, 'volumes', 'pvc-old'), { recursive: true });
    await writeFile(join(dir, 'volumes', 'pvc-old', 'data'), 'kept\n');
    const storage = await prepare(dir, 'auto');
    // Unless the data directory's own file system shares blocks, the volumes stay plain directories.
    if (!storage.description.includes('own file system')) {
      expect(storage.sharesBlocks).toBe(false);
      expect(isMountPoint(join(dir, 'volumes'))).toBe(false);
      if (isRoot) expect(storage.description).toContain('already holds volume data');
    }
    expect(readFileSync(join(dir, 'volumes', 'pvc-old', 'data'), 'utf8')).toBe('kept\n');
  });
});
