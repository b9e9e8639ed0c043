/**
 * The node's image store (src/local/agent/images.ts): references normalised as
 * distribution/reference and containerd do, the kubelet's pull policy on a node that reaches no
 * registry, what a container runs from its image config, and real unpacks with umoci: a small
 * layout made here, and Scribe's mover image as scripts/image.sh builds it.
 */
import type { V1Container } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateContainerError } from '../../../src/local/agent/env.js';
import {
  containerCommand,
  containerEnvironment,
  type ImageConfig,
  ImageStore,
  normalizeImageReference,
  pullDecision,
  readImageConfig,
  type StoredImage,
  workingDir,
} from '../../../src/local/agent/images.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

let work = '';
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'scribe-images-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('normalizeImageReference', () => {
  // Expected values printed by github.com/distribution/reference v0.6.0 (ParseNormalizedNamed,
  // then TagNameOnly, which is what containerd stores), with crypto/sha256 and sha512 linked in
  // as the kubelet links them (pkg/util/parsers/parsers.go).
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/busybox:1', 'docker.io/library/busybox:1'],
    ['user/repo', 'docker.io/user/repo:latest'],
    ['a/b/c/d', 'docker.io/a/b/c/d:latest'],
    ['quay.io/x/y', 'quay.io/x/y:latest'],
    ['quay.io/x/y:v1', 'quay.io/x/y:v1'],
    ['localhost/x:tag', 'localhost/x:tag'],
    ['localhost/scribe', 'localhost/scribe:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['myregistry:5000/a/b:c', 'myregistry:5000/a/b:c'],
    ['127.0.0.1/x', '127.0.0.1/x:latest'],
    ['[::1]:5000/x', '[::1]:5000/x:latest'],
    ['Foo/bar', 'Foo/bar:latest'],
    ['ex.com/a__b/c.d-e:T_a.g-1', 'ex.com/a__b/c.d-e:T_a.g-1'],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox:1.36@${DIGEST}`],
  ])('%s → %s', (image, expected) => {
    expect(normalizeImageReference(image)).toBe(expected);
  });

  it.each([
    ['', 'invalid reference format'],
    ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['quay.io/UPPER/x', 'invalid reference format: repository name (UPPER/x) must be lowercase'],
    ['busybox:', 'invalid reference format'],
    [':tag', 'invalid reference format'],
    ['a//b', 'invalid reference format'],
    ['-a', 'invalid reference format'],
    ['has space', 'invalid reference format'],
    ['busybox:-tag', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    ['busybox@md5:0123456789abcdef0123456789abcdef', 'unsupported digest algorithm'],
    [`busybox@${DIGEST.replace('abcdef', 'ABCDEF')}`, 'invalid checksum digest format'],
    [
      DIGEST.slice('sha256:'.length),
      `invalid repository name (${DIGEST.slice('sha256:'.length)}), cannot specify 64-byte hexadecimal strings`,
    ],
  ])('%j is invalid: %s', (image, message) => {
    expect(() => normalizeImageReference(image)).toThrow(message);
  });
});

const CONFIG: ImageConfig = { entrypoint: ['/ep-1'], cmd: ['foo', 'bar'], env: [], workingDir: '', user: '' };
const STORED: StoredImage = { digest: DIGEST, rootfs: '/nowhere', config: CONFIG, names: [] };

describe('pullDecision', () => {
  // Reasons and messages from k8s.io/kubernetes v1.35 pkg/kubelet/images/types.go (the error
  // names) and image_manager.go: imageNotPresentOnNeverPolicyError, pullImage's back-off message
  // wrapping the previous pull's "<err>: <msg>", applyDefaultImageTag's failure; default
  // policies from pkg/apis/core/v1/defaults.go (SetDefaults_Container).
  const neverPull = (image: string) => ({
    waiting: {
      reason: 'ErrImageNeverPull',
      message: `Container image "${image}" is not present with pull policy of Never`,
    },
  });
  const pullFails = (full: string) =>
    `failed to pull and unpack image "${full}": this node reaches no registry; only images loaded into its image ` +
    `store run (the local runtime loads Scribe's images, as kind load does)`;
  const errImagePull = (full: string) => ({ waiting: { reason: 'ErrImagePull', message: pullFails(full) } });
  const backOff = (tagged: string, full: string) => ({
    waiting: {
      reason: 'ImagePullBackOff',
      message: `Back-off pulling image "${tagged}": ErrImagePull: ${pullFails(full)}`,
    },
  });
  const runs = { image: STORED };
  const busybox = 'docker.io/library/busybox:latest';
  const tagged = 'docker.io/library/busybox:1.36';

  type Row = [string, string | undefined, boolean, number, unknown];
  it.each<Row>([
    // Never: the store decides; no pull is ever tried.
    ['busybox:1.36', 'Never', true, 0, runs],
    ['busybox:1.36', 'Never', true, 3, runs],
    ['busybox:1.36', 'Never', false, 0, neverPull('busybox:1.36')],
    ['busybox:1.36', 'Never', false, 3, neverPull('busybox:1.36')],
    ['busybox', 'Never', false, 1, neverPull('busybox')],
    // IfNotPresent: present runs; absent pulls, which fails here, then backs off.
    ['busybox:1.36', 'IfNotPresent', true, 0, runs],
    ['busybox:1.36', 'IfNotPresent', true, 5, runs],
    ['busybox:1.36', 'IfNotPresent', false, 0, errImagePull(tagged)],
    ['busybox:1.36', 'IfNotPresent', false, 1, backOff('busybox:1.36', tagged)],
    ['busybox:1.36', 'IfNotPresent', false, 4, backOff('busybox:1.36', tagged)],
    // Always: the kubelet pulls even when the image is present, and a pull fails here.
    ['busybox:1.36', 'Always', true, 0, errImagePull(tagged)],
    ['busybox:1.36', 'Always', true, 1, backOff('busybox:1.36', tagged)],
    ['busybox:1.36', 'Always', false, 0, errImagePull(tagged)],
    ['busybox:1.36', 'Always', false, 2, backOff('busybox:1.36', tagged)],
    // No policy: Always for :latest or no tag (the back-off names the tagged image)…
    ['busybox', undefined, true, 0, errImagePull(busybox)],
    ['busybox', undefined, false, 1, backOff('busybox:latest', busybox)],
    ['busybox:latest', undefined, true, 0, errImagePull(busybox)],
    ['busybox:latest', '', true, 1, backOff('busybox:latest', busybox)],
    // …IfNotPresent for any other tag, or a digest alone.
    ['busybox:1.36', undefined, true, 0, runs],
    ['busybox:1.36', undefined, false, 0, errImagePull(tagged)],
    [`busybox@${DIGEST}`, undefined, true, 0, runs],
    [`busybox@${DIGEST}`, undefined, false, 1, backOff(`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`)],
    ['localhost/scribe:abc', undefined, true, 0, runs],
  ])('%s, policy %s, present %s, %i failed pulls', (image, policy, present, failed, expected) => {
    const container = policy === undefined ? { image } : { image, imagePullPolicy: policy };
    expect(pullDecision(container, present ? STORED : undefined, failed)).toEqual(expected);
  });

  it('an image name that does not parse is InvalidImageName, whatever the policy', () => {
    for (const imagePullPolicy of ['Never', 'IfNotPresent', 'Always', undefined])
      expect(pullDecision({ image: 'Busybox', imagePullPolicy }, STORED, 0)).toEqual({
        waiting: {
          reason: 'InvalidImageName',
          message:
            'Failed to apply default image tag "Busybox": couldn\'t parse image name "Busybox": ' +
            'invalid reference format: repository name (library/Busybox) must be lowercase',
        },
      });
  });
});

describe('containerCommand', () => {
  // Kubernetes' documented table (tasks/inject-data-application/define-command-argument-container:
  // "Notes"), which containerd's WithProcessArgs (internal/cri/opts/spec_opts.go) implements.
  const c = (command?: string[], args?: string[]): V1Container => ({ name: 'main', command, args });
  it.each<[string, V1Container, string[]]>([
    ['neither: Entrypoint + Cmd', c(), ['/ep-1', 'foo', 'bar']],
    ['command only: the command, no Cmd', c(['/ep-2']), ['/ep-2']],
    ['args only: Entrypoint + args', c(undefined, ['zoo', 'boo']), ['/ep-1', 'zoo', 'boo']],
    ['both: command + args', c(['/ep-2'], ['zoo', 'boo']), ['/ep-2', 'zoo', 'boo']],
    ['empty lists count as not set', c([], []), ['/ep-1', 'foo', 'bar']],
  ])('%s', (_, container, expected) => {
    expect(containerCommand(container, CONFIG)).toEqual(expected);
  });

  it('uses Cmd alone when the image has no Entrypoint, or one reset to [""]', () => {
    expect(containerCommand(c(), { ...CONFIG, entrypoint: [] })).toEqual(['foo', 'bar']);
    expect(containerCommand(c(), { ...CONFIG, entrypoint: [''] })).toEqual(['foo', 'bar']);
    expect(containerCommand(c(undefined, ['x']), { ...CONFIG, entrypoint: [] })).toEqual(['x']);
  });

  it('fails as containerd does when nothing is left to run', () => {
    const empty = { ...CONFIG, entrypoint: [], cmd: [] };
    expect(() => containerCommand(c(), empty)).toThrow(CreateContainerError);
    expect(() => containerCommand(c(), empty)).toThrow(/no command specified$/);
  });

  it("expands $(VAR) in the pod's command and args only, not in the image's", () => {
    const config = { ...CONFIG, entrypoint: ['/bin/sh', '$(A)'], cmd: ['$(A)'] };
    expect(containerCommand(c(undefined, ['$(A)', '$$(A)']), config, { A: 'a' })).toEqual([
      '/bin/sh',
      '$(A)',
      'a',
      '$(A)',
    ]);
    expect(containerCommand(c(['$(A)']), config, { A: 'a' })).toEqual(['a']);
  });
});

describe('containerEnvironment and workingDir', () => {
  it("puts the image's Env over containerd's default PATH and the pod's over both", () => {
    const config = { ...CONFIG, env: ['PATH=/image/bin', 'A=image', 'B=image', 'EMPTY='] };
    expect(containerEnvironment(config, { B: 'pod', C: 'pod' })).toEqual({
      PATH: '/image/bin',
      A: 'image',
      B: 'pod',
      C: 'pod',
      EMPTY: '',
    });
    expect(containerEnvironment({ ...CONFIG, env: ['PATH'] }, {})).toEqual({});
    expect(containerEnvironment(CONFIG, {}).PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it("takes the container's directory, else the image's, else /", () => {
    expect(workingDir({ name: 'm', workingDir: '/pod' }, { ...CONFIG, workingDir: '/image' })).toBe('/pod');
    expect(workingDir({ name: 'm' }, { ...CONFIG, workingDir: '/image' })).toBe('/image');
    expect(workingDir({ name: 'm', workingDir: '' }, CONFIG)).toBe('/');
  });
});

/** Writes a blob into an OCI layout and returns its descriptor. */
async function blob(layout: string, mediaType: string, data: Buffer) {
  const hex = createHash('sha256').update(data).digest('hex');
  await writeFile(join(layout, 'blobs', 'sha256', hex), data);
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

/** A one-layer OCI layout holding /hello, with the given image config, under the ref `small`. */
async function smallLayout(dir: string, config: Record<string, unknown>): Promise<string> {
  const layout = join(dir, 'layout');
  const content = join(dir, 'content');
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  await mkdir(content, { recursive: true });
  await writeFile(join(content, 'hello'), 'hello\n');
  await run('tar', ['-cf', join(dir, 'layer.tar'), '-C', content, 'hello']);
  const tar = await readFile(join(dir, 'layer.tar'));
  await run('gzip', ['-n', join(dir, 'layer.tar')]);
  const layer = await blob(
    layout,
    'application/vnd.oci.image.layer.v1.tar+gzip',
    await readFile(`${dir}/layer.tar.gz`),
  );
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const imageConfig = { architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [diffId] } };
  const configBlob = await blob(
    layout,
    'application/vnd.oci.image.config.v1+json',
    Buffer.from(JSON.stringify(imageConfig)),
  );
  const manifest = { schemaVersion: 2, config: configBlob, layers: [layer] };
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifestBlob = await blob(layout, mediaType, Buffer.from(JSON.stringify({ ...manifest, mediaType })));
  const index = {
    schemaVersion: 2,
    manifests: [{ ...manifestBlob, annotations: { 'org.opencontainers.image.ref.name': 'small' } }],
  };
  await writeFile(join(layout, 'index.json'), JSON.stringify(index));
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return layout;
}

describe('readImageConfig and ImageStore on a small layout', () => {
  let layout = '';
  beforeAll(async () => {
    layout = await smallLayout(join(work, 'small'), { Cmd: ['/hello'], Env: ['A=1'] });
  });

  it("reads the named manifest's config, missing fields empty, and names the refs it has otherwise", async () => {
    const { digest, config } = await readImageConfig(layout, 'small');
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    expect(digest).toBe(index.manifests[0].digest);
    expect(config).toEqual({ entrypoint: [], cmd: ['/hello'], env: ['A=1'], workingDir: '', user: '' });
    await expect(readImageConfig(layout, 'other')).rejects.toThrow('has no image "other" (it has: small)');
  });

  it('unpacks a digest once for stores sharing a directory, even when they load it at the same time', async () => {
    const dir = join(work, 'shared-store');
    const [a, b] = [new ImageStore(dir), new ImageStore(dir)];
    const [fromA, fromB] = await Promise.all([
      a.load(layout, 'small', ['example.com/small:1']),
      b.load(layout, 'small', ['small']),
    ]);
    expect(fromA.rootfs).toBe(fromB.rootfs);
    expect(await readFile(join(fromA.rootfs, 'hello'), 'utf8')).toBe('hello\n');
    // Only the digest's directory: no temporary directory left behind.
    expect(await readdir(dir)).toEqual([fromA.digest.slice('sha256:'.length)]);
    // Names are per store, and any spelling that normalises the same finds the image.
    expect(a.find('example.com/small:1')?.digest).toBe(fromA.digest);
    expect(a.find('small')).toBeUndefined();
    expect(b.find('docker.io/library/small:latest')?.names).toEqual(['docker.io/library/small:latest']);
    expect(b.find('not a name')).toBeUndefined();
    // A later store on the directory finds the digest unpacked: no umoci needed.
    const later = await withoutUmoci(() => new ImageStore(dir).load(layout, 'small', ['small']));
    expect(later.rootfs).toBe(fromA.rootfs);
  });

  it('fails naming the Debian package when umoci is not on PATH', async () => {
    const store = new ImageStore(join(work, 'no-umoci-store'));
    await expect(withoutUmoci(() => store.load(layout, 'small', ['small']))).rejects.toThrow(
      'umoci is not on PATH: install the Debian package umoci',
    );
  });
});

/** The mover image's layout (DIR:REF), building the images first when it is not there. */
async function moverLayout(): Promise<{ layout: string; ref: string }> {
  const { stdout } = await run('bash', [join(root, 'scripts/image.sh'), 'path', 'scribe-mover']);
  const path = stdout.trim();
  const colon = path.lastIndexOf(':');
  const [layout, ref] = [path.slice(0, colon), path.slice(colon + 1)];
  if (existsSync(join(layout, 'index.json'))) return { layout, ref };
  // Not built for the current sources: build (cached base: under a minute) and take its description.
  const built = await run('bash', [join(root, 'scripts/image.sh'), '--json'], { maxBuffer: 16 * 1024 * 1024 });
  const mover = built.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { name: string; layout: string; ref: string })
    .find((image) => image.name === 'scribe-mover');
  if (!mover) throw new Error(`scripts/image.sh --json described no scribe-mover:\n${built.stdout}`);
  return { layout: mover.layout, ref: mover.ref };
}

/** Runs `load` with no umoci on PATH: an attempt to unpack fails instead of passing unseen. */
async function withoutUmoci<T>(load: () => Promise<T>): Promise<T> {
  const path = process.env.PATH;
  process.env.PATH = join(work, 'no-such-bin');
  try {
    return await load();
  } finally {
    process.env.PATH = path;
  }
}

describe('ImageStore with the mover image', () => {
  it('unpacks it with its config, once per digest', { timeout: 600_000 }, async () => {
    const { layout, ref } = await moverLayout();
    const dir = join(work, 'mover-store');
    const name = `localhost/scribe-mover:${ref}`;
    const first = await new ImageStore(dir).load(layout, ref, [name]);

    expect((await stat(join(first.rootfs, 'usr/bin/rsync'))).isFile()).toBe(true);
    expect(first.config.entrypoint).toEqual(['/scribe/bin/scribe']);
    expect(first.config.user).toBe('65534:65534');
    expect(first.names).toEqual([name]);

    const before = await stat(first.rootfs);
    const rsync = await stat(join(first.rootfs, 'usr/bin/rsync'));
    // Another node's store on the same directory: same digest, same files, nothing unpacked again.
    const other = new ImageStore(dir);
    const second = await withoutUmoci(() => other.load(layout, ref, [name]));
    expect(second.digest).toBe(first.digest);
    expect(second.config).toEqual(first.config);
    const after = await stat(second.rootfs);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect((await stat(join(second.rootfs, 'usr/bin/rsync'))).ino).toBe(rsync.ino);
    expect(other.find(name)).toBe(second);
  });
});
