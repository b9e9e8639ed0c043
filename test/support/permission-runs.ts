/**
 * The set-up the movers' permission tests share (issue 20): a real S3 server (MinIO) with the
 * bucket `permissions`, a work directory every user may enter, the mover's tool copied there so
 * that any user can run it, and fresh directories owned by a given user (the volume the kubelet
 * gives the mover). Started before the file's tests, removed after them.
 */
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { startS3Server, type S3Server } from '../../src/local/s3.js';
import { toolDir } from '../../src/local/tools.js';
import { IS_ROOT, tempDir } from '../movers/restic/support/movers.js';
import { ownedDir, toolForAnyone } from '../movers/restic/support/permissions.js';

/** What a permission test runs with; the fields are set once its beforeAll has run. */
export interface PermissionRuns {
  s3: S3Server;
  /** The tool (restic or rclone) where any user can run it. */
  tool: string;
  /** A path in the work directory no other call of `fresh` returns: `<name>-<n>`. */
  fresh(name: string): string;
  /** A new directory owned by `uid` (0: root). */
  newDir(name: string, uid?: number): string;
}

/** Registers the set-up of a permission test of the mover that runs `tool`. */
export function permissionRuns(tool: 'restic' | 'rclone'): PermissionRuns {
  const cleanup: (() => void)[] = [];
  let work = '';
  let counter = 0;
  const runs: PermissionRuns = {
    s3: undefined as unknown as S3Server,
    tool: '',
    fresh: (name) => join(work, `${name}-${++counter}`),
    newDir: (name, uid = 0) => ownedDir(runs.fresh(name), uid),
  };
  beforeAll(async () => {
    expect(IS_ROOT, 'these tests run as root to give files other owners and to run movers as other users').toBe(true);
    runs.s3 = await startS3Server();
    await runs.s3.createBucket('permissions');
    work = tempDir(cleanup, `scribe-${tool}-permissions-`);
    chmodSync(work, 0o755);
    runs.tool = toolForAnyone(join(await toolDir(tool), tool), work);
  }, 300_000);
  afterAll(async () => {
    await runs.s3?.stop();
    cleanup.forEach((fn) => fn());
  });
  return runs;
}
