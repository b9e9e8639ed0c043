/**
 * The images `npm run image` builds (scripts/image.sh, design decision 18), checked as a runtime
 * would see them: each OCI layout's manifest and config, and its root filesystem unpacked with
 * umoci. Programs run inside the unpacked root with bubblewrap, the root bound read-only, as the
 * image's user. Builds what is missing first (about 2 minutes cold on 2 cores, half a minute when
 * only the sources changed, seconds when nothing did).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** One image as scripts/image.sh --json describes it. */
interface Built {
  name: string;
  layout: string;
  ref: string;
  digest: string;
  compressedBytes: number;
  unpackedBytes: number;
}

/** The OCI image config's fields checked here. */
interface ImageConfig {
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; Env?: string[] };
}

const images = new Map<string, Built>();
let work = '';
const rootfs = (name: string) => join(work, name, 'rootfs');
const blob = (image: Built, digest: string) => join(image.layout, 'blobs', ...digest.split(':'));

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** The manifest the layout's reference names, after checking it against its digest. */
async function manifestOf(image: Built) {
  const index = await readJson<{ manifests: { digest: string; annotations?: Record<string, string> }[] }>(
    join(image.layout, 'index.json'),
  );
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === image.ref);
  expect(entry, `${image.name}: no manifest named ${image.ref} in ${image.layout}`).toBeDefined();
  const bytes = await readFile(blob(image, entry!.digest));
  expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(entry!.digest);
  return { digest: entry!.digest, manifest: JSON.parse(bytes.toString('utf8')) as { config: { digest: string } } };
}

async function configOf(image: Built): Promise<ImageConfig> {
  const { manifest } = await manifestOf(image);
  return readJson<ImageConfig>(blob(image, manifest.config.digest));
}

/** Runs `argv` inside the unpacked image `name`, its root read-only, as uid:gid; never throws. */
async function inImage(name: string, uid: number, argv: string[], extra: string[] = []) {
  const id = String(uid);
  const args = [
    ['--ro-bind', rootfs(name), '/'],
    ['--proc', '/proc', '--dev', '/dev', '--unshare-all', '--die-with-parent'],
    ['--uid', id, '--gid', id, '--chdir', '/scribe', '--clearenv'],
    ['--setenv', 'PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    extra,
    argv,
  ].flat();
  try {
    const { stdout, stderr } = await run('bwrap', args, { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

/** Regular files with the setuid or setgid bit under the unpacked root of `name`. */
async function setIdFiles(name: string): Promise<string[]> {
  const { stdout } = await run('find', [rootfs(name), '-xdev', '-type', 'f', '-perm', '/6000']);
  return stdout.split('\n').filter(Boolean);
}

beforeAll(async () => {
  const { stdout } = await run('bash', [join(root, 'scripts/image.sh'), '--json'], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 25 * 60_000,
  });
  for (const line of stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const image = JSON.parse(line) as Built;
    images.set(image.name, image);
  }
  work = await mkdtemp(join(tmpdir(), 'scribe-image-test-'));
  for (const image of images.values()) {
    await run('umoci', ['unpack', '--image', `${image.layout}:${image.ref}`, join(work, image.name)], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 5 * 60_000,
    });
  }
}, 30 * 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('npm run image', () => {
  it('builds both images as OCI layouts whose digests match their manifests', async () => {
    expect([...images.keys()].sort()).toEqual(['scribe', 'scribe-mover']);
    for (const image of images.values()) {
      expect((await manifestOf(image)).digest).toBe(image.digest);
      expect(image.compressedBytes).toBeGreaterThan(0);
    }
  });

  it(
    'answers from the cache in seconds when nothing changed',
    async () => {
      // Built (again, should the sources have changed since), then checked at once.
      const { stdout: built } = await run('bash', [join(root, 'scripts/image.sh')], {
        cwd: root,
        timeout: 25 * 60_000,
      });
      const started = Date.now();
      const { stdout } = await run('bash', [join(root, 'scripts/image.sh'), '--check'], { cwd: root });
      expect(Date.now() - started).toBeLessThan(10_000);
      const refs = (text: string) => [...text.matchAll(/oci:\S+/g)].map((m) => m[0]);
      expect(refs(stdout)).toHaveLength(2);
      expect(refs(stdout)).toEqual(refs(built));
      expect(stdout).toMatch(/^scribe +cached /m);
      expect(stdout).toMatch(/^scribe-mover +cached /m);
    },
    30 * 60_000,
  );
});

describe('the operator image', () => {
  it('runs bin/scribe as 65532 by default', async () => {
    const { config } = await configOf(images.get('scribe')!);
    expect(config.User).toBe('65532:65532');
    expect(config.Entrypoint).toEqual(['/scribe/bin/scribe']);
    expect(config.Cmd).toEqual(['operator']);
  });

  it('has no sshd and no setuid or setgid file', async () => {
    expect(existsSync(join(rootfs('scribe'), 'usr/sbin/sshd'))).toBe(false);
    const status = await readFile(join(rootfs('scribe'), 'var/lib/dpkg/status'), 'utf8');
    expect(status).not.toMatch(/^Package: openssh-server$/m);
    expect(await setIdFiles('scribe')).toEqual([]);
  });

  it('keeps no apt lists, docs or man pages', async () => {
    for (const name of images.keys()) {
      const lists = await readdir(join(rootfs(name), 'var/lib/apt/lists')).catch(() => []);
      expect(lists.filter((f) => f !== 'lock' && f !== 'partial')).toEqual([]);
      expect(await readdir(join(rootfs(name), 'usr/share/man')).catch(() => [])).toEqual([]);
      const docs = await run('find', [join(rootfs(name), 'usr/share/doc'), '-type', 'f', '!', '-name', 'copyright']);
      expect(docs.stdout.split('\n').filter((f) => f && !f.endsWith('/node/LICENSE'))).toEqual([]);
    }
  });

  it('runs `bin/scribe operator --help` as uid 65532 on a read-only root', async () => {
    const { code, stdout, stderr } = await inImage('scribe', 65532, [
      'sh',
      '-c',
      'test "$(id -u):$(id -g)" = 65532:65532 && ! touch /scribe/x 2>/dev/null && exec /scribe/bin/scribe operator --help',
    ]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('Usage: scribe operator');
    expect(stdout).toContain('--leader-elect');
    const node = await inImage('scribe', 65532, ['node', '--version']);
    expect(node.stdout.trim()).toMatch(/^v24\./);
  });
});

describe('the mover image', () => {
  it('carries rsync, rrsync, sshd, ssh, restic, rclone, acl, attr and node 24', async () => {
    const mover = rootfs('scribe-mover');
    for (const file of [
      'usr/bin/rsync',
      'usr/bin/rrsync',
      'usr/sbin/sshd',
      'usr/bin/ssh',
      'usr/bin/python3',
      'usr/bin/getfacl',
      'usr/bin/setfacl',
      'usr/bin/getfattr',
      'usr/local/bin/restic',
      'usr/local/bin/rclone',
      'usr/local/bin/node',
      'run/sshd',
    ]) {
      expect(existsSync(join(mover, file)), file).toBe(true);
    }
    expect(await readdir(join(mover, 'etc/ssh'))).not.toContain('ssh_host_ed25519_key');
    expect(await setIdFiles('scribe-mover')).toEqual([]);
    const versions = await inImage('scribe-mover', 65534, [
      'sh',
      '-c',
      'node --version && restic version && rclone version && rsync --version && rrsync -help; ssh -V 2>&1',
    ]);
    expect(versions.code, versions.stderr).toBe(0);
    expect(versions.stdout).toMatch(/^v24\.\d+\.\d+\n/);
    expect(versions.stdout).toMatch(/^restic 0\.\d+/m);
    expect(versions.stdout).toMatch(/^rclone v1\.\d+/m);
    expect(versions.stdout).toMatch(/^rsync +version 3\./m);
    expect(versions.stdout).toMatch(/rrsync \[-ro \| -wo\]/);
    expect(versions.stdout).toMatch(/^OpenSSH_/m);
  });

  it('runs the mover bundles through bin/scribe', async () => {
    const { config } = await configOf(images.get('scribe-mover')!);
    expect(config.Entrypoint).toEqual(['/scribe/bin/scribe']);
    for (const entry of ['rsync/source', 'rsync/destination', 'rsync/session', 'restic/source', 'rclone/destination']) {
      expect(existsSync(join(rootfs('scribe-mover'), 'scribe/dist/movers', `${entry}.mjs`)), entry).toBe(true);
    }
    // Without its repository Secret the restic mover says what is missing: the bundle ran on node.
    const restic = await inImage(
      'scribe-mover',
      65534,
      ['/scribe/bin/scribe', 'mover', 'restic-source'],
      ['--tmpfs', '/tmp'],
    );
    expect(restic.code).toBe(1);
    expect(`${restic.stdout}${restic.stderr}`).toContain('RESTIC_REPOSITORY and RESTIC_PASSWORD are not set');
  });
});
