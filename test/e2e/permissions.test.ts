/**
 * Issue 20 on the faithful node: an application's files (owner 999, modes 0600 and 0640, as a
 * database writes them) can be backed up and restored by an unprivileged restic mover that runs
 * as the application's user (moverSecurityContext); without it the default mover (65534) cannot
 * read them, and the attempt fails naming the file and the way out, never a partial success.
 */
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { resticNamespace } from '../support/restic.js';
import { create, createPvc, get, pvcDirectory, waitForObject } from '../support/e2e.js';

const API = 'scribe.backube/v1alpha1';
const APP = 999;
const AS_APP = { runAsUser: APP, runAsGroup: APP, fsGroup: APP };

/** The application's files, as a database leaves them: owned by 999, not readable by others. */
async function applicationFiles(dir: string): Promise<void> {
  await mkdir(join(dir, 'db'), { recursive: true });
  await writeFile(join(dir, 'db', 'table.ibd'), 'rows of the table\n');
  await writeFile(join(dir, 'db', 'settings.cnf'), 'setting = on\n');
  await chmod(join(dir, 'db', 'table.ibd'), 0o600);
  await chmod(join(dir, 'db', 'settings.cnf'), 0o640);
  await chmod(join(dir, 'db'), 0o700);
  for (const path of ['db', 'db/table.ibd', 'db/settings.cnf']) await chown(join(dir, path), APP, APP);
}

/**
 * A namespace with a restic repository, a PVC `data` holding the application's files and a
 * ReplicationSource `backup` of it (manual trigger `once`) with `restic` options besides the
 * repository's; returns how to read that source.
 */
async function backUpApplication(prefix: string, restic: object = {}) {
  const { kc, ns } = await resticNamespace(prefix, 'perm-password');
  await createPvc(kc, ns, 'data');
  await applicationFiles(await pvcDirectory(kc, ns, 'data'));
  await create(kc, 'ReplicationSource', ns, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: 'backup' },
    spec: {
      sourcePVC: 'data',
      trigger: { manual: 'once' },
      restic: { repository: 'restic-config', copyMethod: 'Snapshot', ...restic },
    },
  });
  return { kc, ns, readBackup: () => get<ReplicationSource>(kc, 'ReplicationSource', ns, 'backup') };
}

describe('movers and file ownership (issue 20)', () => {
  it('a restic mover running as the application (moverSecurityContext) backs up and restores its 0600 files', async () => {
    const { kc, ns, readBackup } = await backUpApplication('perm-as-app', { moverSecurityContext: AS_APP });
    const backup = await waitForObject(
      'the backup',
      readBackup,
      (rs) => rs.status?.lastManualSync === 'once' || rs.status?.latestMoverStatus?.result === 'Failed',
    );
    expect(backup.status?.latestMoverStatus, JSON.stringify(backup.status)).toMatchObject({ result: 'Successful' });

    await createPvc(kc, ns, 'restored');
    await create(kc, 'ReplicationDestination', ns, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'restore' },
      spec: {
        trigger: { manual: 'once' },
        restic: {
          repository: 'restic-config',
          destinationPVC: 'restored',
          copyMethod: 'None',
          moverSecurityContext: AS_APP,
        },
      },
    });
    const restore = await waitForObject(
      'the restore',
      () => get<ReplicationDestination>(kc, 'ReplicationDestination', ns, 'restore'),
      (rd) => rd.status?.lastManualSync === 'once' || rd.status?.latestMoverStatus?.result === 'Failed',
    );
    expect(restore.status?.latestMoverStatus, JSON.stringify(restore.status)).toMatchObject({ result: 'Successful' });
    const restored = await pvcDirectory(kc, ns, 'restored');
    expect(await readFile(join(restored, 'db', 'table.ibd'), 'utf8')).toBe('rows of the table\n');
    expect(await readFile(join(restored, 'db', 'settings.cnf'), 'utf8')).toBe('setting = on\n');
    const table = await stat(join(restored, 'db', 'table.ibd'));
    // The application's owner and mode come back: the mover was that user.
    expect({ uid: table.uid, mode: table.mode & 0o777 }).toEqual({ uid: APP, mode: 0o600 });
  });

  it('the default unprivileged mover cannot read them: the attempt fails naming the file and the way out', async () => {
    const { readBackup } = await backUpApplication('perm-default');
    const failed = await waitForObject(
      'the failed attempt',
      readBackup,
      (rs) => rs.status?.latestMoverStatus?.result === 'Failed',
    );
    expect(failed.status?.lastManualSync).toBeUndefined();
    const synchronizing = failed.status?.conditions?.find((c) => c.type === 'Synchronizing');
    expect(synchronizing?.message).toMatch(/db.*permission denied/);
    expect(synchronizing?.message).toMatch(/moverSecurityContext/);
  });
});
