import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/local/agent/env.js';
import { checkHostPath, defaultAllowedHostPaths } from '../../../src/local/agent/host-paths.js';

let dataDir: string;
let allowed: string[];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'scribe-hostpaths-'));
  allowed = defaultAllowedHostPaths(dataDir);
  await mkdir(join(dataDir, 'volumes', 'pvc-1'), { recursive: true });
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('checkHostPath', () => {
  it("allows by default only the provisioner's volumes directory of the node", async () => {
    expect(allowed).toEqual([join(dataDir, 'volumes')]);
    await expect(checkHostPath(join(dataDir, 'volumes', 'pvc-1'), allowed, 'v')).resolves.toBeUndefined();
    await expect(checkHostPath(join(dataDir, 'volumes', 'pvc-2', 'new'), allowed, 'v')).resolves.toBeUndefined();
  });

  it('refuses any other host path with a message naming the volume, the path and the list', async () => {
    for (const path of [
      '/',
      '/etc',
      '/var/run/docker.sock',
      dataDir,
      join(dataDir, 'pods'),
      join(dataDir, 'volumes-x'),
    ]) {
      await expect(checkHostPath(path, allowed, 'v')).rejects.toThrow(ConfigError);
    }
    await expect(checkHostPath('/etc', allowed, 'host')).rejects.toThrow(
      `volume "host": hostPath "/etc" is not allowed on this node (allowed host paths: ${allowed[0]})`,
    );
    await expect(checkHostPath('/etc', [], 'host')).rejects.toThrow('(allowed host paths: none)');
  });

  it('refuses a path that escapes through ".." or a symlink planted in an allowed directory', async () => {
    await expect(checkHostPath(join(dataDir, 'volumes', '..', 'pods'), allowed, 'v')).rejects.toThrow(ConfigError);
    await symlink('/etc', join(dataDir, 'volumes', 'pvc-1', 'escape'));
    await expect(checkHostPath(join(dataDir, 'volumes', 'pvc-1', 'escape'), allowed, 'v')).rejects.toThrow(ConfigError);
    await expect(checkHostPath(join(dataDir, 'volumes', 'pvc-1', 'escape', 'new'), allowed, 'v')).rejects.toThrow(
      ConfigError,
    );
  });
});
