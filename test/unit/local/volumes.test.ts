// Volume modes and ownership as the kubelet applies them, on real files in a temporary
// directory. Expected values are derived from k8s.io/kubernetes (v1.35) and name the function.
// Needs root (chown), as the node agent does.
import { KubeConfig, type V1Pod, type V1Volume } from '@kubernetes/client-node';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  realpath,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeAtomically } from '../../../src/local/agent/atomic-writer.js';
import { ConfigError, ConfigSource } from '../../../src/local/agent/env.js';
import { requiresPermissionChange, setVolumeOwnership } from '../../../src/local/agent/ownership.js';
import { podOwners, prepareVolumes, tokenFile } from '../../../src/local/agent/volumes.js';

const FS_GROUP = 2000;

/** Secrets and ConfigMaps from memory instead of the API server; everything else is real. */
class MemorySource extends ConfigSource {
  constructor(private readonly objects: Record<string, Record<string, string>>) {
    super(new KubeConfig(), 'default');
  }
  override secret(name: string) {
    return Promise.resolve(this.objects[`secret/${name}`]);
  }
  override configMap(name: string) {
    return Promise.resolve(this.objects[`configmap/${name}`]);
  }
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'volumes-test-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const modeOf = async (path: string) => (await stat(path)).mode & 0o7777;
const groupOf = async (path: string) => (await stat(path)).gid;

function pod(volumes: V1Volume[], securityContext: NonNullable<V1Pod['spec']>['securityContext'] = {}): V1Pod {
  return {
    metadata: { name: 'p', namespace: 'default', uid: 'uid-1' },
    spec: { containers: [{ name: 'c' }], volumes, securityContext },
  };
}

async function prepare(volumes: V1Volume[], fsGroup?: number, objects: Record<string, Record<string, string>> = {}) {
  const spec = pod(volumes, fsGroup === undefined ? {} : { fsGroup });
  const podDir = join(root, 'pod');
  const source = new MemorySource(objects);
  return prepareVolumes({
    kc: new KubeConfig(),
    pod: spec,
    podDir,
    source,
    facts: { podIP: '127.0.0.2', nodeName: 'n', hostIP: '127.0.0.1' },
    allowedHostPaths: [join(root, 'host')],
  });
}

describe('emptyDir (empty_dir.go setupDir / setupTmpfs)', () => {
  it('is 0777 whatever the umask (perm = 0777, chmodded explicitly)', async () => {
    const volumes = await prepare([{ name: 'scratch', emptyDir: {} }]);
    const path = volumes.get('scratch')?.path ?? '';
    expect(await modeOf(path)).toBe(0o777);
    expect(volumes.get('scratch')?.forceReadOnly).toBe(false);
  });

  it('of medium Memory shows a tmpfs root: 1777', async () => {
    const volumes = await prepare([{ name: 'shm', emptyDir: { medium: 'Memory' } }]);
    expect(await modeOf(volumes.get('shm')?.path ?? '')).toBe(0o1777);
  });

  it('applies fsGroup to files already there (changeFilePermission), owner unchanged', async () => {
    const dir = join(root, 'pod', 'volumes', 'scratch');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await chmod(join(dir, 'sub'), 0o700);
    await writeFile(join(dir, 'sub', 'file'), 'x', { mode: 0o600 });
    await chown(join(dir, 'sub', 'file'), 0, 0);
    await prepare([{ name: 'scratch', emptyDir: {} }], FS_GROUP);
    // File: 0600 | rwMask 0660 = 0660, group fsGroup, uid untouched.
    expect(await modeOf(join(dir, 'sub', 'file'))).toBe(0o660);
    expect(await groupOf(join(dir, 'sub', 'file'))).toBe(FS_GROUP);
    expect((await stat(join(dir, 'sub', 'file'))).uid).toBe(0);
    // Directory: 0700 | rwMask | execMask | setgid = 02770.
    expect(await modeOf(join(dir, 'sub'))).toBe(0o2770);
    expect(await groupOf(join(dir, 'sub'))).toBe(FS_GROUP);
    // The root: perm 0777 | setgid = 02777.
    expect(await modeOf(dir)).toBe(0o2777);
    expect(await groupOf(dir)).toBe(FS_GROUP);
  });

  it('does not walk again once set up (the plugin ready file)', async () => {
    const volumes = await prepare([{ name: 'scratch', emptyDir: {} }], FS_GROUP);
    const later = join(volumes.get('scratch')?.path ?? '', 'written-by-a-container');
    await writeFile(later, 'x');
    // The setgid root would give it group fsGroup: make it visibly unwalked.
    await chown(later, 0, 0);
    await chmod(later, 0o600);
    await prepare([{ name: 'scratch', emptyDir: {} }], FS_GROUP);
    expect(await modeOf(later)).toBe(0o600);
    expect(await groupOf(later)).toBe(0);
  });

  it('refuses HugePages media', async () => {
    await expect(prepare([{ name: 'h', emptyDir: { medium: 'HugePages-2Mi' } }])).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('setVolumeOwnership (volume_linux.go)', () => {
  async function tree() {
    const dir = join(root, 'vol');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await chmod(join(dir, 'sub'), 0o700);
    await writeFile(join(dir, 'sub', 'file'), 'x');
    await chmod(join(dir, 'sub', 'file'), 0o600);
    return dir;
  }

  it('adds roMask 0440 (not rwMask) on a read-only volume', async () => {
    const dir = await tree();
    await setVolumeOwnership(dir, { fsGroup: FS_GROUP, readOnly: true });
    expect(await modeOf(join(dir, 'sub', 'file'))).toBe(0o640);
    // 0700 | roMask | execMask | setgid = 02750.
    expect(await modeOf(join(dir, 'sub'))).toBe(0o2750);
    expect(await groupOf(join(dir, 'sub', 'file'))).toBe(FS_GROUP);
  });

  it('changes nothing without an fsGroup', async () => {
    const dir = await tree();
    await setVolumeOwnership(dir, { readOnly: false });
    expect(await modeOf(join(dir, 'sub', 'file'))).toBe(0o600);
    expect(await groupOf(join(dir, 'sub', 'file'))).toBe(0);
  });

  it('regroups a symlink but leaves the mode of its target alone', async () => {
    const dir = await tree();
    const outside = join(root, 'outside');
    await writeFile(outside, 'x');
    await chmod(outside, 0o600);
    await symlink(outside, join(dir, 'link'));
    await setVolumeOwnership(dir, { fsGroup: FS_GROUP, readOnly: false });
    expect((await lstat(join(dir, 'link'))).gid).toBe(FS_GROUP);
    expect(await modeOf(outside)).toBe(0o600);
    expect(await groupOf(outside)).toBe(0);
  });

  it('OnRootMismatch skips the walk when the root already has the group, setgid and bits', async () => {
    const dir = await tree();
    await chown(dir, 0, FS_GROUP);
    await chmod(dir, 0o2770);
    expect(await requiresPermissionChange(dir, FS_GROUP, false)).toBe(false);
    await setVolumeOwnership(dir, { fsGroup: FS_GROUP, readOnly: false, changePolicy: 'OnRootMismatch' });
    expect(await modeOf(join(dir, 'sub', 'file'))).toBe(0o600);
    expect(await groupOf(join(dir, 'sub', 'file'))).toBe(0);
  });

  it('OnRootMismatch walks when the root lacks setgid, and Always walks anyway', async () => {
    const dir = await tree();
    await chown(dir, 0, FS_GROUP);
    await chmod(dir, 0o770);
    await setVolumeOwnership(dir, { fsGroup: FS_GROUP, readOnly: false, changePolicy: 'OnRootMismatch' });
    expect(await modeOf(join(dir, 'sub', 'file'))).toBe(0o660);
    const other = await mkdtemp(join(root, 'always-'));
    await chown(other, 0, FS_GROUP);
    await chmod(other, 0o2770);
    await writeFile(join(other, 'file'), 'x');
    await chmod(join(other, 'file'), 0o600);
    await setVolumeOwnership(other, { fsGroup: FS_GROUP, readOnly: false, changePolicy: 'Always' });
    expect(await modeOf(join(other, 'file'))).toBe(0o660);
  });

  it('OnRootMismatch walks when the root has another group or too few bits', async () => {
    const dir = await tree();
    await chmod(dir, 0o2770);
    expect(await requiresPermissionChange(dir, FS_GROUP, false)).toBe(true);
    await chown(dir, 0, FS_GROUP);
    await chmod(dir, 0o2750);
    expect(await requiresPermissionChange(dir, FS_GROUP, false)).toBe(true);
    expect(await requiresPermissionChange(dir, FS_GROUP, true)).toBe(false);
  });
});

describe('secret, configMap and downwardAPI volumes (AtomicWriter + setPerms)', () => {
  const secretVolume = (defaultMode?: number): V1Volume => ({
    name: 'keys',
    secret: { secretName: 'keys', defaultMode },
  });
  const keys = { 'secret/keys': { token: 's3cret' } };

  it('secret, defaultMode 0400, fsGroup 2000: 0440 of group 2000 (MakePayload, then roMask)', async () => {
    const volumes = await prepare([secretVolume(0o400)], FS_GROUP, keys);
    const dir = volumes.get('keys')?.path ?? '';
    expect(volumes.get('keys')?.forceReadOnly).toBe(true);
    expect(await readlink(join(dir, 'token'))).toBe('..data/token');
    const file = await realpath(join(dir, 'token'));
    expect(await readFile(file, 'utf8')).toBe('s3cret');
    expect(await modeOf(file)).toBe(0o440);
    expect(await groupOf(file)).toBe(FS_GROUP);
    // newTimestampDir's 0755 | roMask | execMask | setgid.
    const tsDir = await realpath(join(dir, '..data'));
    expect(tsDir).toMatch(/\/\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.[^/]+$/);
    expect(await modeOf(tsDir)).toBe(0o2755);
    expect(await groupOf(tsDir)).toBe(FS_GROUP);
    // The wrapped memory emptyDir: tmpfs root 1777, then its own fsGroup pass (rwMask | setgid).
    expect(await modeOf(dir)).toBe(0o3777);
    expect(await groupOf(dir)).toBe(FS_GROUP);
  });

  it('secret without fsGroup keeps defaultMode and root group', async () => {
    const volumes = await prepare([secretVolume(0o400)], undefined, keys);
    const dir = volumes.get('keys')?.path ?? '';
    const file = await realpath(join(dir, 'token'));
    expect(await modeOf(file)).toBe(0o400);
    expect(await groupOf(file)).toBe(0);
    expect(await modeOf(join(dir, '..data'))).toBe(0o755);
    expect(await modeOf(dir)).toBe(0o1777);
  });

  it('secret of the default 0644 stays 0644 with fsGroup (0644 | 0440)', async () => {
    const volumes = await prepare([secretVolume()], FS_GROUP, keys);
    const file = await realpath(join(volumes.get('keys')?.path ?? '', 'token'));
    expect(await modeOf(file)).toBe(0o644);
    expect(await groupOf(file)).toBe(FS_GROUP);
  });

  it('configMap items: the item mode, nested directories from the umask, then the masks', async () => {
    const volume: V1Volume = {
      name: 'conf',
      configMap: { name: 'conf', defaultMode: 0o644, items: [{ key: 'a', path: 'nested/a.conf', mode: 0o600 }] },
    };
    const volumes = await prepare([volume], FS_GROUP, { 'configmap/conf': { a: 'alpha' } });
    const dir = volumes.get('conf')?.path ?? '';
    expect(await readlink(join(dir, 'nested'))).toBe('..data/nested');
    expect(await modeOf(join(dir, 'nested', 'a.conf'))).toBe(0o640);
    // writePayloadToDir: MkdirAll(os.ModePerm) under the umask, then | roMask | execMask | setgid.
    const nested = (0o777 & ~process.umask()) | 0o440 | 0o110 | 0o2000;
    expect(await modeOf(join(dir, 'nested'))).toBe(nested);
  });

  it('downwardAPI: the item mode over defaultMode', async () => {
    const volume: V1Volume = {
      name: 'info',
      downwardAPI: {
        defaultMode: 0o644,
        items: [
          { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' }, mode: 0o400 },
          // Bits the umask would take away: the kubelet chmods after writing.
          { path: 'shared', fieldRef: { fieldPath: 'metadata.name' }, mode: 0o666 },
        ],
      },
    };
    const volumes = await prepare([volume]);
    const dir = volumes.get('info')?.path ?? '';
    expect(await readFile(join(dir, 'name'), 'utf8')).toBe('p');
    expect(await modeOf(join(dir, 'name'))).toBe(0o644);
    expect(await modeOf(join(dir, 'ns'))).toBe(0o400);
    expect(await modeOf(join(dir, 'shared'))).toBe(0o666);
  });

  it('refuses a path starting with ".." (validatePath)', async () => {
    const volume: V1Volume = {
      name: 'keys',
      secret: { secretName: 'keys', items: [{ key: 'token', path: '..data' }] },
    };
    await expect(prepare([volume], undefined, keys)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('hostPath (host_path.go)', () => {
  it('never changes ownership, and DirectoryOrCreate makes a 0755 directory', async () => {
    const path = join(root, 'host', 'dir');
    const volumes = await prepare([{ name: 'h', hostPath: { path, type: 'DirectoryOrCreate' } }], FS_GROUP);
    expect(volumes.get('h')?.path).toBe(path);
    expect(await modeOf(path)).toBe(0o755 & ~process.umask());
    expect(await groupOf(path)).toBe(0);
  });

  it('FileOrCreate makes an empty file (makeFile, 0644 under the umask)', async () => {
    await mkdir(join(root, 'host'));
    const path = join(root, 'host', 'file');
    await prepare([{ name: 'h', hostPath: { path, type: 'FileOrCreate' } }], FS_GROUP);
    expect((await stat(path)).isFile()).toBe(true);
    expect(await modeOf(path)).toBe(0o644 & ~process.umask());
  });
});

describe('service-account token (projected.go collectData)', () => {
  const twoUsers = (a?: number, b?: number): V1Pod => ({
    spec: {
      containers: [
        { name: 'a', securityContext: a === undefined ? undefined : { runAsUser: a } },
        { name: 'b', securityContext: b === undefined ? undefined : { runAsUser: b } },
      ],
    },
  });

  it('FsUserFrom: the one runAsUser of every container, or none', () => {
    expect(podOwners(twoUsers(1000, 1000)).fsUser).toBe(1000);
    expect(podOwners(twoUsers(1000, 1001)).fsUser).toBeUndefined();
    expect(podOwners(twoUsers(1000, undefined)).fsUser).toBeUndefined();
    // The pod-level runAsUser stands for a container without its own.
    const podLevel = twoUsers(undefined, 1000);
    if (podLevel.spec) podLevel.spec.securityContext = { runAsUser: 1000 };
    expect(podOwners(podLevel).fsUser).toBe(1000);
  });

  it('is 0644 (defaultMode) with neither fsUser nor fsGroup, 0600 with either', () => {
    expect(tokenFile('t', 0o644, {}).mode).toBe(0o644);
    expect(tokenFile('t', 0o644, { fsGroup: FS_GROUP }).mode).toBe(0o600);
    expect(tokenFile('t', 0o644, { fsUser: 1000 }).mode).toBe(0o600);
  });

  it('ends 0640 of group fsGroup, owned by the fsUser, once written and regrouped', async () => {
    const dir = join(root, 'token-volume');
    await mkdir(dir);
    const file = tokenFile('t', 0o644, { fsGroup: FS_GROUP, fsUser: 1000 });
    await writeAtomically(dir, new Map([['token', file]]), () =>
      setVolumeOwnership(dir, { fsGroup: FS_GROUP, readOnly: true }),
    );
    const token = await stat(join(dir, 'token'));
    // "When FsGroup is set, we depend on SetVolumeOwnership to change from 0600 to 0640."
    expect(token.mode & 0o7777).toBe(0o640);
    expect(token.uid).toBe(1000);
    expect(token.gid).toBe(FS_GROUP);
  });
});
