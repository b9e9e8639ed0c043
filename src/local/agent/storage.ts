/**
 * Where the node keeps its volumes and snapshots (`<dataDir>/volumes`, `<dataDir>/snapshots`).
 *
 * A CSI driver clones and snapshots copy-on-write: a snapshot of a 1 GiB volume takes no time and
 * no space until one side changes. The agent copies directories (files.ts), which costs every byte
 * unless the file system shares blocks between a file and its copy (reflink: XFS, btrfs). So:
 *
 * - the data directory's own file system shares blocks: volumes and snapshots stay on it;
 * - else, as root with mkfs.xfs (xfsprogs) at hand: a sparse XFS image `<dataDir>/storage.img`
 *   on a loop device, mounted at `<dataDir>/storage`, whose `volumes` and `snapshots` are
 *   bind-mounted at the usual paths (so PV paths and allowed host paths do not change). Deleted
 *   files give their space back to the host (`discard`). The image stays after the agent stops,
 *   as a node's disk does: an agent started again on the data directory mounts it again;
 * - else, or with mode `copy`: plain directories, every byte copied.
 *
 * One log line says which is used and why. Copies stay point-in-time either way: a block shared
 * by reflink is copied when either side writes it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, statfs, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from './reconciler.js';

const run = promisify(execFile);

/** `auto`: share blocks when this machine can; `copy`: plain directories. */
export type VolumeStorageMode = 'auto' | 'copy';

/** The variable that sets the mode when the agent's options do not (`auto` when unset). */
export const STORAGE_MODE_VARIABLE = 'SCRIBE_LOCAL_STORAGE';

/** The directories of the data directory that hold volume data; copies go between them. */
export const STORAGE_AREAS = ['volumes', 'snapshots'] as const;

/** The volume storage the agent runs on. */
export interface VolumeStorage {
  /** Whether a copy shares its blocks with its source until either is written (reflink). */
  sharesBlocks: boolean;
  /** What was chosen and why, as logged. */
  description: string;
  /** Unmounts what `prepareVolumeStorage` mounted (the image and its data stay). */
  release(): Promise<void>;
}

/** Options of prepareVolumeStorage. */
export interface VolumeStorageOptions {
  dataDir: string;
  mode?: VolumeStorageMode;
  log: (line: string) => void;
}

/** The largest image made: XFS on a sparse file costs only what is written, so this is a ceiling. */
const MAX_IMAGE_BYTES = 2 ** 40;
/** Below this much free space on the host no image is made (XFS needs 300 MiB for itself). */
const MIN_IMAGE_BYTES = 2 ** 30;

/** The mode an agent runs with: its option, else SCRIBE_LOCAL_STORAGE, else `auto`. */
export function storageModeOf(value: string | undefined): VolumeStorageMode {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'copy') return 'copy';
  throw new Error(`${STORAGE_MODE_VARIABLE}="${value}" is not a storage mode (auto or copy)`);
}

/** Sets up `<dataDir>/volumes` and `<dataDir>/snapshots` (see the module comment). */
export async function prepareVolumeStorage(options: VolumeStorageOptions): Promise<VolumeStorage> {
  const { dataDir, log } = options;
  for (const area of STORAGE_AREAS) await mkdir(join(dataDir, area), { recursive: true });
  const plain = (sharesBlocks: boolean, description: string): VolumeStorage => {
    log(`volume storage: ${description}`);
    return { sharesBlocks, description, release: async () => {} };
  };
  if ((options.mode ?? 'auto') === 'copy')
    return plain(false, `plain directories in ${dataDir} (mode copy): clones and snapshots copy every byte`);
  // An image there holds an earlier agent's volumes (mounted still, if that agent was killed).
  const hasImage = existsSync(join(dataDir, 'storage.img'));
  if (!hasImage && (await clonesShareBlocks(join(dataDir, 'volumes'))))
    return plain(true, `${dataDir}'s own file system: clones and snapshots share blocks (reflink)`);
  // Mounts made here (undone if the image cannot be used), and with an earlier agent's that were
  // still in place, the ones this agent unmounts when it stops.
  const made: string[] = [];
  const owned: string[] = [];
  try {
    await mountImage(dataDir, made, owned);
    if (!(await clonesShareBlocks(join(dataDir, 'volumes')))) throw new Error('xfs on the image does not reflink');
    const description = `xfs image ${join(dataDir, 'storage.img')} on a loop device: clones and snapshots share blocks (reflink)`;
    log(`volume storage: ${description}`);
    return { sharesBlocks: true, description, release: () => unmountAll(owned, log) };
  } catch (error) {
    await unmountAll(made, log);
    return plain(
      false,
      `plain directories in ${dataDir}, clones and snapshots copy every byte (no reflink file system: ${errorMessage(error)})`,
    );
  }
}

/**
 * Mounts the data directory's XFS image (made first when there is none) and binds its areas at
 * their usual paths, pushing each mount point on `made` as it is made and on `owned` whether
 * made or found in place (an earlier agent on this data directory was killed before unmounting).
 */
async function mountImage(dataDir: string, made: string[], owned: string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('mounting an image needs root');
  const storeDir = join(dataDir, 'storage');
  const image = join(dataDir, 'storage.img');
  await mkdir(storeDir, { recursive: true });
  if (!(await isMountPoint(storeDir))) {
    // An existing image holds the volumes of an earlier agent on this data directory: mount it,
    // never make a new file system over it.
    if (!existsSync(image)) await makeImage(image, dataDir);
    await run('mount', ['-t', 'xfs', '-o', 'loop,discard', image, storeDir]);
    made.push(storeDir);
  }
  owned.push(storeDir);
  for (const area of STORAGE_AREAS) {
    const target = join(dataDir, area);
    if (await isMountPoint(target)) {
      owned.push(target);
      continue;
    }
    // Mounting over a directory that holds data (an earlier agent's plain volumes) would hide it.
    if ((await readdir(target)).length)
      throw new Error(`${target} already holds volume data of plain directories; it is used as it is`);
    await mkdir(join(storeDir, area), { recursive: true });
    await run('mount', ['--bind', join(storeDir, area), target]);
    made.push(target);
    owned.push(target);
  }
}

/** A sparse file of the host's free space (capped) holding a new XFS file system with reflink. */
async function makeImage(image: string, dataDir: string): Promise<void> {
  const free = await statfs(dataDir);
  const bytes = Math.min(MAX_IMAGE_BYTES, Math.floor((free.bavail * free.bsize) / 2 ** 20) * 2 ** 20);
  if (bytes < MIN_IMAGE_BYTES) throw new Error(`only ${Math.floor(bytes / 2 ** 20)} MiB free for an image`);
  // Made under another name, renamed when whole: a half-made image is never mounted as a disk.
  const partial = `${image}.partial`;
  await writeFile(partial, '');
  try {
    await truncate(partial, bytes);
    await run('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', partial]).catch((error: NodeJS.ErrnoException) => {
      throw new Error(error.code === 'ENOENT' ? 'mkfs.xfs not found (install xfsprogs)' : errorMessage(error));
    });
    await rename(partial, image);
  } finally {
    await rm(partial, { force: true });
  }
}

/** Whether a copy made in `dir` shares its source's blocks: `cp --reflink=always` of a probe file. */
export async function clonesShareBlocks(dir: string): Promise<boolean> {
  const probe = join(dir, `.reflink-probe-${process.pid}`);
  try {
    await writeFile(probe, 'probe');
    await run('cp', ['--reflink=always', '--', probe, `${probe}.copy`]);
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true });
    await rm(`${probe}.copy`, { force: true });
  }
}

/** Unmounts `mounts` last first; a busy one is detached lazily, so the data directory can go. */
async function unmountAll(mounts: string[], log: (line: string) => void): Promise<void> {
  for (const target of mounts.splice(0).reverse()) {
    // The provisioner unmounts everything under `volumes` when it stops, this bind included.
    if (!(await isMountPoint(target))) continue;
    await run('umount', [target]).catch(async (error: unknown) => {
      log(`volume storage: ${target} is busy (${errorMessage(error)}); detaching it lazily`);
      await run('umount', ['-l', target]);
    });
  }
}

async function isMountPoint(path: string): Promise<boolean> {
  return run('mountpoint', ['-q', path]).then(
    () => true,
    () => false,
  );
}
