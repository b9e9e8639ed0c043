/**
 * The node's image store, as containerd keeps one for the kubelet: OCI image layouts are unpacked
 * once per manifest digest into root filesystems that containers run from (with runc), and image
 * names point at those digests. This node reaches no registry, so an image is on the node only
 * when something loaded it (as `kind load` does); the pull policy is applied as the kubelet
 * applies it, and the container's command, environment and working directory are resolved from
 * the pod and the image config as the kubelet and containerd resolve them.
 */
import type { V1Container } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CreateContainerError, expandReferences } from './env.js';
import { repoRoot } from '../tools.js';

const run = promisify(execFile);

// Go's %q, which the kubelet's and containerd's messages use: for names, JSON's quoting agrees.
const q = (value: string): string => JSON.stringify(value);

/** The parts of an OCI image config that decide what a container runs (missing ones empty). */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
}

/** An image unpacked on this node. */
export interface StoredImage {
  /** The manifest digest, e.g. sha256:… */
  digest: string;
  /** The unpacked root filesystem: shared, never to be modified (mount it read-only). */
  rootfs: string;
  config: ImageConfig;
  /** Normalised names this store knows the image by. */
  names: string[];
}

/** A container that cannot start yet, as its status's waiting state shows it. */
export interface Waiting {
  reason: string;
  message: string;
}

export type PullDecision = { image: StoredImage } | { waiting: Waiting };

// ---------------------------------------------------------------------------------------------
// References, as github.com/distribution/reference parses them (ParseNormalizedNamed) and
// containerd names them (fully qualified, `:latest` when neither tag nor digest is given).

/** An image name that does not parse; the message is the one distribution/reference gives. */
export class InvalidImageNameError extends Error {
  override name = 'InvalidImageNameError';
}

// The grammar of distribution/reference's regexp.go.
const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[(?:[a-fA-F0-9:]+)\\])`;
const DOMAIN_AND_PORT = `${HOST}(?::[0-9]+)?`;
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^((?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const NAME = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const IDENTIFIER = /^[a-f0-9]{64}$/;
// The algorithms the kubelet links in (parsers.go imports sha256 and sha512), with their lengths.
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const NAME_MAX = 255;

/** A reference's parts, the domain already resolved (docker.io for Docker Hub). */
interface ParsedReference {
  domain: string;
  path: string;
  tag: string;
  digest: string;
}

/** distribution/reference's splitDockerDomain: which first component is a registry host. */
function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash === -1) return ['docker.io', `library/${name}`];
  const first = name.slice(0, slash);
  let rest = name.slice(slash + 1);
  let domain = 'docker.io';
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) domain = first;
  else rest = name;
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  return [domain, rest];
}

/** go-digest's Validate, for the algorithms the kubelet accepts. */
function checkDigest(digest: string): void {
  const [algorithm = '', hex = ''] = digest.split(':');
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) throw new InvalidImageNameError('unsupported digest algorithm');
  if (hex.length !== length) throw new InvalidImageNameError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw new InvalidImageNameError('invalid checksum digest format');
}

/** ParseNormalizedNamed, with the messages of distribution/reference's errors. */
function parseReference(image: string): ParsedReference {
  if (IDENTIFIER.test(image))
    throw new InvalidImageNameError(`invalid repository name (${image}), cannot specify 64-byte hexadecimal strings`);
  const [domain, remainder] = splitDockerDomain(image);
  const colon = remainder.indexOf(':');
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote)
    throw new InvalidImageNameError(`invalid reference format: repository name (${remote}) must be lowercase`);
  const full = `${domain}/${remainder}`;
  const match = REFERENCE.exec(full);
  if (!match) {
    if (REFERENCE.test(full.toLowerCase())) throw new InvalidImageNameError('repository name must be lowercase');
    throw new InvalidImageNameError('invalid reference format');
  }
  const name = NAME.exec(match[1] ?? '');
  const path = name?.[2] ?? '';
  if (path.length > NAME_MAX)
    throw new InvalidImageNameError(`repository name must not be more than ${NAME_MAX} characters`);
  const digest = match[3] ?? '';
  if (digest) checkDigest(digest);
  return { domain: name?.[1] ?? domain, path, tag: match[2] ?? '', digest };
}

/**
 * The fully qualified name containerd stores an image under: `busybox` →
 * `docker.io/library/busybox:latest`; a tag or digest is kept. Throws InvalidImageNameError.
 */
export function normalizeImageReference(image: string): string {
  const { domain, path, tag, digest } = parseReference(image);
  let name = `${domain}/${path}`;
  if (tag) name += `:${tag}`;
  else if (!digest) name += ':latest';
  if (digest) name += `@${digest}`;
  return name;
}

// ---------------------------------------------------------------------------------------------
// Pull policy, as pkg/kubelet/images/image_manager.go applies it on a node that reaches no
// registry: every pull fails.

/** pkg/apis/core/v1/defaults.go: Always for `:latest` (or no tag and no digest), else IfNotPresent. */
function defaultPullPolicy(image: string): string {
  const { tag, digest } = parseReference(image);
  return tag === 'latest' || (!tag && !digest) ? 'Always' : 'IfNotPresent';
}

/** image_manager.go's applyDefaultImageTag: the name the kubelet asks the runtime to pull. */
function withDefaultTag(image: string): string {
  const { tag, digest } = parseReference(image);
  return !tag && !digest ? `${image}:latest` : image;
}

/** The runtime's pull error: no registry is reachable from here, so say how images get here. */
function pullFailure(image: string): string {
  return (
    `failed to pull and unpack image ${q(normalizeImageReference(image))}: this node reaches no registry; ` +
    `only images loaded into its image store run (the local runtime loads Scribe's images, as kind load does)`
  );
}

/**
 * Whether a container can start from `stored` (store.find(image)), or the waiting state the kubelet
 * would report. `failedPulls` counts this container's pulls that already failed: the first attempt
 * is ErrImagePull, later ones ImagePullBackOff (the kubelet alternates as each back-off expires;
 * here every pull fails the same way, so the back-off state carries the same message).
 */
export function pullDecision(
  container: { image?: string; imagePullPolicy?: string },
  stored: StoredImage | undefined,
  failedPulls: number,
): PullDecision {
  const image = container.image ?? '';
  let policy: string;
  let tagged: string;
  try {
    policy = container.imagePullPolicy || defaultPullPolicy(image);
    tagged = withDefaultTag(image);
  } catch (error) {
    const detail = `couldn't parse image name ${q(image)}: ${(error as Error).message}`;
    return {
      waiting: { reason: 'InvalidImageName', message: `Failed to apply default image tag ${q(image)}: ${detail}` },
    };
  }
  // imagePullPrecheck looks for the image only under IfNotPresent and Never: Always (and any
  // other value) pulls, and here that pull fails even when the image is present.
  if ((policy === 'IfNotPresent' || policy === 'Never') && stored) return { image: stored };
  if (policy === 'Never')
    return {
      waiting: {
        reason: 'ErrImageNeverPull',
        message: `Container image ${q(image)} is not present with pull policy of Never`,
      },
    };
  const failure = pullFailure(image);
  if (failedPulls <= 0) return { waiting: { reason: 'ErrImagePull', message: failure } };
  // pullImage wraps the previous pull's error (prevPullErrMsg) into the back-off message.
  return {
    waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image ${q(tagged)}: ErrImagePull: ${failure}` },
  };
}

// ---------------------------------------------------------------------------------------------
// What a container runs, as the kubelet (kuberuntime) and containerd (internal/cri/opts
// WithProcessArgs, container_create.go) resolve it.

/**
 * The process's argv: command + args when a command is given; else the image's Entrypoint
 * followed by args, or by the image's Cmd when there are no args. `vars` expands $(VAR) in the
 * pod's command and args only (the kubelet expands them before the runtime adds the image's).
 */
export function containerCommand(container: V1Container, config: ImageConfig, vars?: Record<string, string>): string[] {
  const expand = (list: string[] | undefined) => (list ?? []).map((arg) => (vars ? expandReferences(arg, vars) : arg));
  let command = expand(container.command);
  let args = expand(container.args);
  if (command.length === 0) {
    if (args.length === 0) args = [...config.cmd];
    // An Entrypoint of [""] is an explicitly reset one (moby's rule, which containerd keeps).
    const reset = config.entrypoint.length === 1 && config.entrypoint[0] === '';
    command = reset ? [] : [...config.entrypoint];
  }
  if (command.length === 0 && args.length === 0)
    throw new CreateContainerError(
      `failed to generate container ${q(container.name)} spec: failed to generate spec: no command specified`,
    );
  return [...command, ...args];
}

// containerd's default spec PATH (pkg/oci populateDefaultUnixSpec), under the image's Env.
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The process's environment: containerd's default PATH, then the image's Env (an entry without
 * `=` unsets), then the container's (the pod's values win).
 */
export function containerEnvironment(
  config: ImageConfig,
  containerEnv: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const entry of config.env) {
    const eq = entry.indexOf('=');
    if (eq === -1) delete env[entry];
    else env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { ...env, ...containerEnv };
}

/** The process's working directory: the container's, else the image's, else `/`. */
export function workingDir(container: V1Container, config: ImageConfig): string {
  return container.workingDir || config.workingDir || '/';
}

// ---------------------------------------------------------------------------------------------
// OCI image layouts (image-spec's image-layout.md).

interface Descriptor {
  mediaType?: string;
  digest: string;
  annotations?: Record<string, string>;
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SAFE_DIGEST = /^(sha256|sha384|sha512):([a-f0-9]{64,128})$/;

/** A blob's path; the digest is checked first so that it cannot point outside the layout. */
function blobPath(layoutDir: string, digest: string): string {
  const match = SAFE_DIGEST.exec(digest);
  if (!match) throw new Error(`OCI layout ${layoutDir}: unsupported digest ${JSON.stringify(digest)}`);
  return join(layoutDir, 'blobs', match[1] ?? '', match[2] ?? '');
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** Strings of a config field, or empty when the image sets none. */
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The manifest ref names in the layout, and the image config of the one named `ref`. */
export async function readImageConfig(
  layoutDir: string,
  ref: string,
): Promise<{ digest: string; config: ImageConfig }> {
  const index = await readJson<{ manifests?: Descriptor[] }>(join(layoutDir, 'index.json'));
  const manifests = index.manifests ?? [];
  const descriptor = manifests.find((m) => m.annotations?.[REF_NAME] === ref);
  if (!descriptor) {
    const known = manifests.map((m) => m.annotations?.[REF_NAME]).filter(Boolean);
    throw new Error(`OCI layout ${layoutDir} has no image "${ref}" (it has: ${known.join(', ') || 'none'})`);
  }
  // A multi-platform index would need a platform choice; the layouts loaded here hold one image.
  if (descriptor.mediaType && descriptor.mediaType !== MANIFEST)
    throw new Error(`OCI layout ${layoutDir}: "${ref}" is a ${descriptor.mediaType}, not an image manifest`);
  const manifest = await readJson<{ config?: Descriptor }>(blobPath(layoutDir, descriptor.digest));
  if (!manifest.config) throw new Error(`OCI layout ${layoutDir}: manifest ${descriptor.digest} has no config`);
  const image = await readJson<{ config?: Record<string, unknown> }>(blobPath(layoutDir, manifest.config.digest));
  const c = image.config ?? {};
  return {
    digest: descriptor.digest,
    config: {
      entrypoint: strings(c.Entrypoint),
      cmd: strings(c.Cmd),
      env: strings(c.Env),
      workingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : '',
      user: typeof c.User === 'string' ? c.User : '',
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The store.

/** umoci on PATH, or an error that names the Debian package. */
async function findUmoci(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'umoci');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this PATH entry.
    }
  }
  throw new Error('umoci is not on PATH: install the Debian package umoci (scripts/setup.sh does)');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

// Unpacks in progress in this process, by target directory: stores of several nodes that share
// a directory unpack a digest once; other processes are covered by the atomic rename.
const unpacking = new Map<string, Promise<void>>();

/** A node's images: root filesystems by digest under `dir` (shareable), names in memory. */
export class ImageStore {
  private readonly byName = new Map<string, StoredImage>();
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Unpacks (once per digest) the image `ref` of an OCI layout and names it on this node. */
  async load(layoutDir: string, ref: string, names: string[]): Promise<StoredImage> {
    const normalized = names.map(normalizeImageReference);
    const { digest, config } = await readImageConfig(layoutDir, ref);
    const target = join(this.dir, digest.slice(digest.indexOf(':') + 1));
    await this.ensureUnpacked(target, () => this.unpack(layoutDir, ref, target, config));
    const stored = await this.describe(digest, target);
    for (const name of normalized) this.name(name, stored);
    return stored;
  }

  /** The image a container names (in any form that normalises the same), if loaded here. */
  find(image: string): StoredImage | undefined {
    try {
      return this.byName.get(normalizeImageReference(image));
    } catch {
      return undefined;
    }
  }

  /** Points `name` at `stored`, taking it off the image it named before (as a re-tag does). */
  private name(name: string, stored: StoredImage): void {
    const previous = this.byName.get(name);
    if (previous && previous.digest !== stored.digest) previous.names = previous.names.filter((n) => n !== name);
    if (!stored.names.includes(name)) stored.names.push(name);
    this.byName.set(name, stored);
  }

  /** The image already known by digest here (to keep one object per digest), else a new one. */
  private async describe(digest: string, target: string): Promise<StoredImage> {
    for (const image of this.byName.values()) if (image.digest === digest) return image;
    const config = await readJson<ImageConfig>(join(target, 'config.json'));
    return { digest, rootfs: join(target, 'rootfs'), config, names: [] };
  }

  /** Runs `unpack` unless the target is there or being unpacked (registered before any await). */
  private ensureUnpacked(target: string, unpack: () => Promise<void>): Promise<void> {
    let pending = unpacking.get(target);
    if (!pending) {
      pending = (async () => {
        if (!(await exists(target))) await unpack();
      })().finally(() => unpacking.delete(target));
      unpacking.set(target, pending);
    }
    return pending;
  }

  /** umoci unpacks into a temporary directory beside the target, renamed into place when whole. */
  private async unpack(layoutDir: string, ref: string, target: string, config: ImageConfig): Promise<void> {
    const umoci = await findUmoci();
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp);
    try {
      // Without root, umoci cannot set owners; --rootless keeps the files as the caller's.
      const rootless = process.getuid?.() === 0 ? [] : ['--rootless'];
      await run(umoci, ['raw', 'unpack', ...rootless, '--image', `${layoutDir}:${ref}`, join(tmp, 'rootfs')], {
        maxBuffer: 16 * 1024 * 1024,
      });
      await writeFile(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      // Another process renamed the same digest into place first: theirs is as good as ours.
      if (await exists(join(target, 'config.json'))) return;
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scribe's own images.

/** One image as `scripts/image.sh --json` describes it. */
interface BuiltImage {
  name: string;
  layout: string;
  ref: string;
  digest: string;
}

/** The names Scribe's images are loaded under on a node, for the operator's configuration. */
export interface ScribeImages {
  scribe: string;
  mover: string;
}

/** Scribe's images as scripts/image.sh builds them (building what is missing; cached: seconds). */
async function builtImages(): Promise<Map<string, BuiltImage>> {
  const { stdout } = await run('bash', [join(repoRoot(), 'scripts/image.sh'), '--json'], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const images = new Map<string, BuiltImage>();
  for (const line of stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const image = JSON.parse(line) as BuiltImage;
    images.set(image.name, image);
  }
  return images;
}

/** Loads `scribe` and `scribe-mover` into the store as localhost/NAME:REF, as `kind load` would. */
export async function loadScribeImages(store: ImageStore): Promise<ScribeImages> {
  const images = await builtImages();
  const loadOne = async (name: string): Promise<string> => {
    const image = images.get(name);
    if (!image) throw new Error(`scripts/image.sh --json described no image ${name}`);
    const reference = `localhost/${name}:${image.ref}`;
    const stored = await store.load(image.layout, image.ref, [reference]);
    if (stored.digest !== image.digest)
      throw new Error(`${name}: the layout holds ${stored.digest}, scripts/image.sh described ${image.digest}`);
    return reference;
  };
  const [scribe, mover] = await Promise.all([loadOne('scribe'), loadOne('scribe-mover')]);
  return { scribe, mover };
}
