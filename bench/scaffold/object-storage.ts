/**
 * What the restic and rclone benchmarks share: MinIO on loopback (the tests' starter,
 * src/local/s3.ts), the tools' binaries and versions, and checking that a restored directory
 * equals the generated tree.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startS3Server, type S3Server } from '../../src/local/s3.js';
import { toolDir } from '../../src/local/tools.js';
import { REPO_ROOT } from './common.js';
import { start } from './processes.js';

/** MinIO on 127.0.0.1 with its data under `dir`, and one bucket. */
export async function startBenchS3(dir: string, bucket: string): Promise<S3Server> {
  const s3 = await startS3Server({ dir });
  try {
    await s3.createBucket(bucket);
  } catch (error) {
    await s3.stop();
    throw error;
  }
  return s3;
}

/** The binary of a tool scripts/tools.sh builds (the one the mover tests use, too). */
export async function toolBinary(name: 'restic' | 'rclone'): Promise<string> {
  return join(await toolDir(name), name);
}

/** Versions of restic, rclone and MinIO (the pinned module: MinIO built with `go build` says DEVELOPMENT). */
export async function objectStorageVersions(): Promise<Record<string, string>> {
  const first = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, { encoding: 'utf8' }).split('\n')[0]?.trim() ?? 'unknown';
    } catch {
      return 'unknown';
    }
  };
  let minio = 'unknown';
  try {
    const mod = readFileSync(join(REPO_ROOT, 'tools/minio/go.mod'), 'utf8');
    minio = /^\s*github\.com\/minio\/minio (\S+)/m.exec(mod)?.[1] ?? 'unknown';
  } catch {
    // no wrapper module
  }
  return {
    restic: first(await toolBinary('restic'), ['version']).replace(/^restic\s+/, ''),
    rclone: first(await toolBinary('rclone'), ['version']).replace(/^rclone\s+/, ''),
    minio: `${minio} (tools/minio)`,
  };
}

/**
 * Checks that `dir` equals the tree under `root`: `rsync --dry-run --checksum` from the tree would
 * change nothing (contents compared byte for byte, and mtimes, modes, owners, symlinks; hard
 * links too when `hardLinks`). The root directory's own attributes are not compared (restic keeps
 * none of the backup root). Throws with the differences.
 */
export async function verifyEqualTree(root: string, dir: string, what: string, hardLinks: boolean): Promise<void> {
  const flags = hardLinks ? '-aHc' : '-ac';
  const proc = start(
    'rsync',
    [flags, '--delete', '--dry-run', '--itemize-changes', '--exclude=/lost+found', `${root}/`, `${dir}/`],
    { env: { ...process.env, LANG: 'C' } },
  );
  const code = await proc.exited;
  const pending = proc.output.split('\n').filter((line) => line.trim() !== '' && !/^\.d\S* \.\/$/.test(line));
  if (code !== 0 || pending.length > 0)
    throw new Error(`${what} differs from the tree (rsync exit ${code}):\n${pending.slice(0, 20).join('\n')}`);
}
