import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/local/agent/env.js';
import {
  checkSubPath,
  openSubPath,
  prepareSubPath,
  safeMakeDir,
  unmountSubPaths,
} from '../../../src/local/agent/subpath.js';

let root: string;
let volume: string;
let outside: string;
let mounts = 0;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'scribe-subpath-'));
  volume = join(root, 'volume');
  outside = join(root, 'host');
  await mkdir(volume);
  await chmod(volume, 0o2775); // an fsGroup volume's mode: the subPath directories get it
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'host data');
});
afterEach(async () => {
  await unmountSubPaths(join(root, 'subpaths'));
  await rm(root, { recursive: true, force: true });
});

const names = { mount: 'data', container: 'main' };
const prepare = async (subPath: string) => {
  return prepareSubPath(subPath, volume, names, join(root, 'subpaths', String(mounts++)));
};

describe('checkSubPath (makeMounts)', () => {
  it('refuses an absolute subPath and one with a ".." component, as the kubelet words it', () => {
    expect(() => checkSubPath('/etc')).toThrow('error SubPath `/etc` must not be an absolute path');
    expect(() => checkSubPath('a/../../etc')).toThrow(
      "unable to provision SubPath `a/../../etc`: must not contain '..'",
    );
    expect(() => checkSubPath('..')).toThrow(ConfigError);
    expect(() => checkSubPath('a/b..c/..d')).not.toThrow();
  });
});

describe('prepareSubPath (doSafeMakeDir, safeOpenSubPath)', () => {
  it('creates a missing directory subPath with the volume mode and mounts its descriptor', async () => {
    const result = await prepare('a/b/c');
    expect(result.isDirectory).toBe(true);
    // A bind mount of the volume's directory: what is written through it lands there.
    await writeFile(join(result.path, 'through'), 'x');
    expect(await readFile(join(volume, 'a', 'b', 'c', 'through'), 'utf8')).toBe('x');
    for (const dir of ['a', 'a/b', 'a/b/c']) expect((await stat(join(volume, dir))).mode & 0o7777).toBe(0o2775);
  });

  it('mounts an existing file as a file (no mkdir on it)', async () => {
    await writeFile(join(volume, 'config.yaml'), 'x: 1\n');
    const result = await prepare('config.yaml');
    expect(result.isDirectory).toBe(false);
    expect((await stat(result.path)).isFile()).toBe(true);
    expect(await readFile(result.path, 'utf8')).toBe('x: 1\n');
  });

  it('refuses a symlink planted in the volume that leads out of it, creating nothing outside', async () => {
    await symlink(outside, join(volume, 'escape'));
    await expect(prepare('escape')).rejects.toThrow(
      'failed to prepare subPath for volumeMount "data" of container "main"',
    );
    await expect(prepare('escape/secret')).rejects.toThrow(ConfigError);
    await expect(prepare('escape/new/dir')).rejects.toThrow(
      'failed to create subPath directory for volumeMount "data" of container "main"',
    );
    await expect(lstat(join(outside, 'new'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a symlink even when it stays inside the volume (no component may be one)', async () => {
    await mkdir(join(volume, 'real'));
    await symlink('real', join(volume, 'alias'));
    await expect(openSubPath('alias', volume)).rejects.toThrow(/unexpected symlink found/);
    await expect(prepare('real')).resolves.toMatchObject({ isDirectory: true });
  });

  it('refuses a dangling symlink to a path outside, without creating its target', async () => {
    await symlink(join(outside, 'made'), join(volume, 'dangling'));
    await expect(prepare('dangling')).rejects.toThrow(ConfigError);
    await expect(lstat(join(outside, 'made'))).rejects.toThrow(/ENOENT/);
  });

  it('safeMakeDir refuses to create under an existing component that resolves outside', async () => {
    await symlink(outside, join(volume, 'escape'));
    await expect(safeMakeDir('escape/x', volume, 0o755)).rejects.toThrow(/outside of allowed base/);
    await expect(lstat(join(outside, 'x'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses an absolute or backstepping subPath before touching the volume', async () => {
    await expect(prepare('/etc')).rejects.toThrow('must not be an absolute path');
    await expect(prepare('x/../../host')).rejects.toThrow("must not contain '..'");
    await expect(lstat(join(volume, 'x'))).rejects.toThrow(/ENOENT/);
  });
});
