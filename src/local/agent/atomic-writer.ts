/**
 * The kubelet's AtomicWriter (k8s.io/kubernetes pkg/volume/util/atomic_writer.go) for a first
 * write into an empty volume directory: the files go into a timestamped directory
 * `..2006_01_02_15_04_05.NNN` (0755), the caller's setPerms runs, `..data` links to that
 * directory, and each top-level name of the payload is a link `name -> ..data/name`.
 * Secret, configMap, downwardAPI and projected volumes look like this in a container.
 */
import { chmod, chown, mkdir, mkdtemp, rename, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, normalize } from 'node:path';
import { ConfigError } from './env.js';

/** volumeutil.FileProjection: one file's bytes, mode and (service-account tokens) owner. */
export interface FileProjection {
  data: Buffer;
  mode: number;
  /** The uid the file is chowned to (group unchanged), when set. */
  fsUser?: number;
}

const DATA_DIR = '..data';
const NEW_DATA_DIR = '..data_tmp';

/** Writes `payload` (path → file) into the empty directory `dir`; throws ConfigError on a bad path. */
export async function writeAtomically(
  dir: string,
  payload: Map<string, FileProjection>,
  setPerms: () => Promise<void>,
): Promise<void> {
  const clean = cleanPayload(payload);
  const tsDir = await newTimestampDir(dir);
  for (const [path, file] of clean) await writeProjectedFile(join(tsDir, path), file);
  await setPerms();
  await symlink(basename(tsDir), join(dir, NEW_DATA_DIR));
  await rename(join(dir, NEW_DATA_DIR), join(dir, DATA_DIR));
  await createUserVisibleFiles(dir, [...clean.keys()]);
}

/** validatePayload: every path validated (validatePath) and cleaned. */
function cleanPayload(payload: Map<string, FileProjection>): Map<string, FileProjection> {
  const clean = new Map<string, FileProjection>();
  for (const [path, file] of payload) {
    validatePath(path);
    clean.set(normalize(path).replace(/\/+$/, ''), file);
  }
  return clean;
}

/** validatePath: relative, no `..` element, not starting with `..`, names ≤ 255, path ≤ 4096. */
function validatePath(path: string): void {
  const items = path.split('/');
  const first = items[0] ?? '';
  const rules: [boolean, string][] = [
    [path === '', 'must not be empty'],
    [path.startsWith('/'), 'must be relative path'],
    [path.length > 4096, 'must be less than or equal to 4096 characters'],
    [items.includes('..'), "must not contain '..'"],
    [items.some((item) => item.length > 255), 'filenames must be less than or equal to 255 characters'],
    [first.startsWith('..') && first.length > 2, "must not start with '..'"],
  ];
  const broken = rules.find(([failed]) => failed);
  if (broken) throw new ConfigError(`invalid path: ${broken[1]}: ${path}`);
}

/** newTimestampDir: MkdirTemp, then chmod 0755 whatever the umask ("group and other recurse"). */
async function newTimestampDir(dir: string): Promise<string> {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-T:]/g, '_');
  const tsDir = await mkdtemp(join(dir, `..${stamp}.`));
  await chmod(tsDir, 0o755);
  return tsDir;
}

/** writePayloadToDir for one file: parents with os.ModePerm (umask applies), then the mode by chmod. */
async function writeProjectedFile(path: string, file: FileProjection): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o777 });
  // Go's os.FileMode(int32) keeps only the permission bits of the API's mode.
  const mode = file.mode & 0o777;
  await writeFile(path, file.data, { mode });
  // writeFile's mode went through the umask; the kubelet chmods for the same reason.
  await chmod(path, mode);
  if (file.fsUser !== undefined) await chown(path, file.fsUser, -1);
}

/** createUserVisibleFiles: `first-path-element -> ..data/first-path-element`, once each. */
async function createUserVisibleFiles(dir: string, paths: string[]): Promise<void> {
  const names = new Set(paths.map((path) => path.split('/')[0] ?? path));
  for (const name of names) await symlink(join(DATA_DIR, name), join(dir, name));
}
