/**
 * Issue 20 on the faithful node, for rsync, restic and rclone each: an application's files (owner
 * 999, modes 0600 and 0640, one POSIX ACL and one user xattr) copied by a mover in each of its
 * three modes (docs/permissions.md), in namespaces whose PodSecurity level is the strictest that
 * mode allows, so the real API server's PodSecurity admission has the last word on the pods:
 *
 * - privileged (namespace annotated scribe.backube/privileged-movers, PodSecurity `baseline`):
 *   the copy has the same owners, modes, ACL and xattr;
 * - as the application (moverSecurityContext runAsUser 999, PodSecurity `restricted`): the sync
 *   succeeds, contents and modes match;
 * - neither (the default user 65534, `restricted`): the attempt fails naming an unreadable file
 *   and both ways out.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it, type TestContext } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import {
  create,
  createPvc,
  e2eKubeConfig,
  e2eNamespace,
  get,
  PRIVILEGED_MOVERS,
  pvcDirectory,
  waitForObject,
} from '../support/e2e.js';
import { createRcloneSecret, createResticSecret, newBucket } from '../support/object-store.js';

const run = promisify(execFile);
const API = 'scribe.backube/v1alpha1';
const APP = 999;
const AS_APP = { moverSecurityContext: { runAsUser: APP, runAsGroup: APP, fsGroup: APP } };
const MOVERS = ['rsync', 'restic', 'rclone'] as const;
type MoverName = (typeof MOVERS)[number];
type Mode = 'privileged' | 'as the application' | 'default';

/** The application's files, as a database leaves them, with one ACL entry and one user xattr. */
async function applicationFiles(dir: string): Promise<void> {
  await mkdir(join(dir, 'db'), { recursive: true });
  await writeFile(join(dir, 'db', 'table.ibd'), 'rows of the table\n');
  await writeFile(join(dir, 'db', 'settings.cnf'), 'setting = on\n');
  await chmod(join(dir, 'db', 'table.ibd'), 0o600);
  await chmod(join(dir, 'db', 'settings.cnf'), 0o640);
  await chmod(join(dir, 'db'), 0o700);
  for (const path of ['db', 'db/table.ibd', 'db/settings.cnf']) await chown(join(dir, path), APP, APP);
  // An ACL entry (its mask makes the group bits r--: the file stays 0640 to `ls`).
  await run('setfacl', ['-m', 'u:1234:r', join(dir, 'db', 'settings.cnf')]);
  await run('setfattr', ['-n', 'user.scribe', '-v', 'test', join(dir, 'db', 'table.ibd')]);
}

/** What a copy must carry of each file: owner, group, mode, contents, the ACL and the xattr. */
async function describeFiles(dir: string) {
  const file = async (path: string) => {
    const info = await stat(join(dir, path));
    return { uid: info.uid, gid: info.gid, mode: (info.mode & 0o7777).toString(8) };
  };
  const acl = await run('getfacl', ['--omit-header', '--numeric', join(dir, 'db', 'settings.cnf')]);
  const xattr = await run('getfattr', ['--only-values', '-n', 'user.scribe', join(dir, 'db', 'table.ibd')]).then(
    (out) => out.stdout,
    () => undefined,
  );
  return {
    db: await file('db'),
    table: { ...(await file('db/table.ibd')), text: await readFile(join(dir, 'db', 'table.ibd'), 'utf8') },
    settings: { ...(await file('db/settings.cnf')), text: await readFile(join(dir, 'db', 'settings.cnf'), 'utf8') },
    acl: acl.stdout.split('\n').filter((line) => line.startsWith('user:1234')),
    xattr,
  };
}

/** A namespace for one mode, at the strictest PodSecurity level that mode must pass. */
function modeNamespace(kc: KubeConfig, mover: MoverName, mode: Mode, test: TestContext): Promise<string> {
  const privileged = mode === 'privileged';
  return e2eNamespace(kc, `modes-${mover}-${mode.split(' ')[0]}`, {
    labels: { 'pod-security.kubernetes.io/enforce': privileged ? 'baseline' : 'restricted' },
    ...(privileged ? { annotations: PRIVILEGED_MOVERS } : {}),
    test,
  });
}

/** The object-store Secrets of the restic and rclone movers, in their own bucket. */
async function objectStoreSecrets(kc: KubeConfig, ns: string): Promise<{ bucket: string }> {
  const s3 = inject('e2eS3');
  const bucket = await newBucket(s3, 'modes');
  await createResticSecret(kc, ns, s3, bucket, 'modes-password');
  await createRcloneSecret(kc, ns, s3);
  return { bucket };
}

/** Each mover's section of both CRs, besides the mode's moverSecurityContext. */
function moverOptions(mover: MoverName, bucket: string): { source: object; destination: object } {
  if (mover === 'rsync') return { source: {}, destination: {} };
  if (mover === 'restic')
    return { source: { repository: 'restic-config' }, destination: { repository: 'restic-config' } };
  const rclone = { rcloneConfig: 'rclone-secret', rcloneConfigSection: 'store', rcloneDestPath: `${bucket}/data` };
  return { source: rclone, destination: rclone };
}

/** The notes of the MoverIdentity Events of the CRs in `ns` (whom each new mover Job runs as). */
async function moverIdentityNotes(kc: KubeConfig, ns: string): Promise<string[]> {
  const path = `/apis/events.k8s.io/v1/namespaces/${ns}/events`;
  const { items } = await kubeRequest<{ items: Array<{ reason?: string; note?: string }> }>(kc, {
    method: 'GET',
    path,
  });
  return items.filter((event) => event.reason === 'MoverIdentity').map((event) => event.note ?? '');
}

const readSource = (kc: KubeConfig, ns: string) => () => get<ReplicationSource>(kc, 'ReplicationSource', ns, 'copy');
const readDestination = (kc: KubeConfig, ns: string) => () =>
  get<ReplicationDestination>(kc, 'ReplicationDestination', ns, 'copy');
const done = (cr: ReplicationSource | ReplicationDestination) =>
  cr.status?.lastManualSync === 'once' || cr.status?.latestMoverStatus?.result === 'Failed';

/**
 * Copies the volume `data` of a fresh namespace into `restored` with `mover` in `mode`: rsync
 * from a listening destination, restic and rclone through the object store (backup, then
 * restore). Resolves with the source as it ended and the destination (undefined when the source
 * failed and there was nothing to restore).
 */
async function copyInMode(mover: MoverName, mode: Mode, test: TestContext) {
  const kc = e2eKubeConfig();
  const ns = await modeNamespace(kc, mover, mode, test);
  const { bucket } = await objectStoreSecrets(kc, ns);
  await createPvc(kc, ns, 'data');
  await createPvc(kc, ns, 'restored');
  const sourceDir = await pvcDirectory(kc, ns, 'data');
  await applicationFiles(sourceDir);
  const options = moverOptions(mover, bucket);
  const identity = mode === 'as the application' ? AS_APP : {};
  const destination = {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: 'copy' },
    spec: {
      trigger: { manual: 'once' },
      [mover]: { ...options.destination, ...identity, copyMethod: 'None', destinationPVC: 'restored' },
    },
  };
  const source = {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: 'copy' },
    spec: {
      sourcePVC: 'data',
      trigger: { manual: 'once' },
      [mover]: { ...options.source, ...identity, copyMethod: 'Clone' },
    },
  };
  if (mover === 'rsync') {
    // The destination listens first; the source of the same name mounts its generated keys.
    await create(kc, 'ReplicationDestination', ns, destination);
    const listening = await waitForObject('the destination listening', readDestination(kc, ns), (rd) =>
      Boolean(rd.status?.rsync?.address),
    );
    (source.spec.rsync as Record<string, unknown>).address = listening.status?.rsync?.address;
    await create(kc, 'ReplicationSource', ns, source);
    const sent = await waitForObject('the source', readSource(kc, ns), done);
    if (sent.status?.latestMoverStatus?.result === 'Failed') return { sent, sourceDir, kc, ns };
    const received = await waitForObject('the destination', readDestination(kc, ns), done);
    return { sent, received, sourceDir, restoredDir: await pvcDirectory(kc, ns, 'restored'), kc, ns };
  }
  await create(kc, 'ReplicationSource', ns, source);
  const sent = await waitForObject('the backup', readSource(kc, ns), done);
  if (sent.status?.latestMoverStatus?.result === 'Failed') return { sent, sourceDir, kc, ns };
  await create(kc, 'ReplicationDestination', ns, destination);
  const received = await waitForObject('the restore', readDestination(kc, ns), done);
  return { sent, received, sourceDir, restoredDir: await pvcDirectory(kc, ns, 'restored'), kc, ns };
}

describe.concurrent('every mover in each of its modes (issue 20)', () => {
  it.for(MOVERS)(
    '%s, privileged (annotated namespace, PodSecurity baseline): owners, modes, the ACL and the xattr arrive',
    async (mover, test) => {
      const { sent, received, sourceDir, restoredDir, kc, ns } = await copyInMode(mover, 'privileged', test);
      expect(sent.status?.latestMoverStatus, JSON.stringify(sent.status)).toMatchObject({ result: 'Successful' });
      expect(received?.status?.latestMoverStatus, JSON.stringify(received?.status)).toMatchObject({
        result: 'Successful',
      });
      const expected = await describeFiles(sourceDir);
      expect(expected.acl).toEqual(['user:1234:r--']);
      expect(expected.xattr).toBe('test');
      expect(await describeFiles(restoredDir as string)).toEqual(expected);
      const notes = await waitForObject(
        'the MoverIdentity Events',
        () => moverIdentityNotes(kc, ns),
        (n) => n.length >= 2,
      );
      for (const note of notes) expect(note).toMatch(/^the mover runs as root with .*privileged-movers/);
    },
  );

  it.for(MOVERS)(
    '%s, as the application (moverSecurityContext 999, PodSecurity restricted): the contents and modes arrive',
    async (mover, test) => {
      const { sent, received, sourceDir, restoredDir } = await copyInMode(mover, 'as the application', test);
      expect(sent.status?.latestMoverStatus, JSON.stringify(sent.status)).toMatchObject({ result: 'Successful' });
      expect(received?.status?.latestMoverStatus, JSON.stringify(received?.status)).toMatchObject({
        result: 'Successful',
      });
      const expected = await describeFiles(sourceDir);
      const copied = await describeFiles(restoredDir as string);
      for (const file of ['table', 'settings'] as const)
        expect({ ...copied[file], gid: undefined }, file).toEqual({ ...expected[file], gid: undefined });
    },
  );

  it.for(MOVERS)(
    '%s, the default user (PodSecurity restricted): the attempt fails naming the unreadable files and both ways out',
    async (mover, test) => {
      const { sent, kc, ns } = await copyInMode(mover, 'default', test);
      expect(sent.status?.latestMoverStatus?.result, JSON.stringify(sent.status)).toBe('Failed');
      expect(sent.status?.lastManualSync).toBeUndefined();
      const synchronizing = sent.status?.conditions?.find((c) => c.type === 'Synchronizing');
      expect(synchronizing?.message).toMatch(/db/);
      expect(synchronizing?.message).toMatch(/moverSecurityContext/);
      expect(synchronizing?.message).toMatch(/scribe\.backube\/privileged-movers/);
      // The mover said whom it ran as, and how to change it.
      const [note] = await waitForObject(
        'a MoverIdentity Event',
        () => moverIdentityNotes(kc, ns),
        (n) => n.length > 0,
      );
      expect(note).toMatch(/unprivileged as user 65534, the default: set moverSecurityContext/);
    },
  );
});
