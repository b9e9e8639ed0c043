/**
 * Issue 20 on the faithful node: the rsync mover's entrypoints as an unprivileged mover runs them.
 * A destination Pod and a source Pod of the mover image, shaped as the rsync mover's Jobs
 * (src/movers/job.ts moverJob, src/movers/rsync/mover.ts build: the same command, environment,
 * key Secrets mounted 0600, /tmp an emptyDir, the Service mapping 22 to sshd's 8022), run as
 * user, group and fsGroup 999 with no capabilities at all, no privilege escalation and a
 * read-only root filesystem. 999 has no entry in the image's /etc/passwd, and the source logs in
 * as `root` (the default sshUser), as a source that cannot know how its destination runs does.
 *
 * - The application's files (owner 999, 0600 and 0640 in a 0700 directory) arrive with their
 *   modes, owned by 999.
 * - A file of another user (0600, owner 1234) fails the sync on both sides, and the source's
 *   summary names the file and both ways out; never a partial success.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { KubeConfig, KubernetesObject, V1Pod, V1Service } from '@kubernetes/client-node';
import { kubeRequest } from '../../src/kube/rest.js';
import { objectPath, RESOURCES } from '../../src/kube/resources.js';
import { generateRsyncSecretContents } from '../../src/movers/rsync/keys.js';
import { explainUnreadableFiles } from '../../src/movers/rsync/unreadable.js';
import { PERMISSIONS_HINT } from '../../src/movers/permissions.js';
import { create, createPvc, e2eKubeConfig, e2eNamespace, get, pvcDirectory, waitForObject } from '../support/e2e.js';

type Pod = KubernetesObject & V1Pod;
type Service = KubernetesObject & V1Service;

const APP = 999;
const OTHER = 1234;
/** The unprivileged mover's pod securityContext, as moverSecurityContext gives it. */
const AS_APP = { runAsUser: APP, runAsGroup: APP, fsGroup: APP, runAsNonRoot: true };
/** The container's securityContext of an unprivileged mover (src/movers/job.ts). */
const UNPRIVILEGED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};
/** sshd's port in the destination pod (src/movers/rsync/mover.ts SSHD_PORT). */
const SSHD_PORT = 8022;

/** The application's files, as a database leaves them: owned by 999, not readable by others. */
async function applicationFiles(dir: string): Promise<void> {
  await mkdir(join(dir, 'db'), { recursive: true });
  await writeFile(join(dir, 'db', 'table.ibd'), 'rows of the table\n'.repeat(1000));
  await writeFile(join(dir, 'db', 'settings.cnf'), 'setting = on\n');
  await writeFile(join(dir, 'README'), 'public\n');
  await symlink('db/settings.cnf', join(dir, 'settings'));
  await chmod(join(dir, 'db', 'table.ibd'), 0o600);
  await chmod(join(dir, 'db', 'settings.cnf'), 0o640);
  await chmod(join(dir, 'db'), 0o700);
  for (const path of ['db', 'db/table.ibd', 'db/settings.cnf', 'README']) await chown(join(dir, path), APP, APP);
}

/** An ACL naming another user and a user.* extended attribute, which a file's owner may set. */
async function aclAndXattr(dir: string): Promise<void> {
  execFileSync('setfacl', ['-m', `u:${OTHER}:r`, join(dir, 'README')]);
  execFileSync('setfattr', ['-n', 'user.origin', '-v', 'application', join(dir, 'README')]);
}

/** One mover pod of the image, shaped as moverJob's pod template. */
function moverPod(input: {
  name: string;
  labels?: Record<string, string>;
  entrypoint: 'rsync-source' | 'rsync-destination';
  env: Array<{ name: string; value: string }>;
  claim: string;
  readOnly: boolean;
  keys: string;
}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: input.name, labels: input.labels ?? {} },
    spec: {
      restartPolicy: 'Never',
      securityContext: AS_APP,
      containers: [
        {
          name: 'mover',
          image: inject('e2eMoverImage'),
          command: ['/scribe/bin/scribe', 'mover', input.entrypoint],
          env: [
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'SCRIBE_RUN_DIR', value: '/tmp' },
            { name: 'SCRIBE_TERMINATION_LOG', value: '/dev/termination-log' },
            { name: 'SCRIBE_DATA_DIR', value: '/data' },
            { name: 'SCRIBE_KEYS_DIR', value: '/keys' },
            ...input.env,
          ],
          volumeMounts: [
            { name: 'tmp', mountPath: '/tmp' },
            { name: 'data', mountPath: '/data', readOnly: input.readOnly },
            { name: 'keys', mountPath: '/keys', readOnly: true },
          ],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'FallbackToLogsOnError',
          securityContext: UNPRIVILEGED_CONTAINER,
        },
      ],
      volumes: [
        { name: 'tmp', emptyDir: {} },
        { name: 'data', persistentVolumeClaim: { claimName: input.claim, readOnly: input.readOnly } },
        { name: 'keys', secret: { secretName: input.keys, defaultMode: 0o600 } },
      ],
    },
  };
}

/** How a pod's mover container ended, and its log. */
interface Ended {
  phase: string;
  exitCode: number | undefined;
  message: string;
  log: string;
}

async function ended(kc: KubeConfig, namespace: string, name: string): Promise<Ended> {
  const pod = await waitForObject(
    `pod ${name} to finish`,
    () => get<Pod>(kc, 'Pod', namespace, name),
    (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
    240_000,
  );
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  const log = await kubeRequest<string>(kc, {
    method: 'GET',
    path: `${objectPath(RESOURCES.Pod, namespace, name)}/log`,
    text: true,
  });
  return { phase: pod.status?.phase ?? '', exitCode: terminated?.exitCode, message: terminated?.message ?? '', log };
}

/**
 * A destination and a source, both as 999, replicating the PVC `source` (filled by `fill`) into
 * the PVC `destination` of a fresh namespace; returns how each ended and the destination's directory.
 */
async function replicate(prefix: string, fill: (dir: string) => Promise<void>, sourceEnv: Record<string, string> = {}) {
  const kc = e2eKubeConfig();
  const ns = await e2eNamespace(kc, prefix);
  const keys = generateRsyncSecretContents();
  for (const half of ['source', 'destination'] as const)
    await create(kc, 'Secret', ns, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `keys-${half}` },
      type: 'Opaque',
      stringData: keys[half],
    });
  await createPvc(kc, ns, 'source');
  await createPvc(kc, ns, 'destination');
  await fill(await pvcDirectory(kc, ns, 'source'));
  const destinationDir = await pvcDirectory(kc, ns, 'destination');

  const labels = { 'scribe.backube/mover-pod': 'destination' };
  await create(kc, 'Service', ns, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'destination' },
    spec: {
      type: 'ClusterIP',
      selector: labels,
      ports: [{ name: 'ssh', protocol: 'TCP', port: 22, targetPort: SSHD_PORT }],
    },
  });
  const service = await waitForObject(
    'the Service address',
    () => get<Service>(kc, 'Service', ns, 'destination'),
    (s) => Boolean(s.spec?.clusterIP),
  );
  await create(
    kc,
    'Pod',
    ns,
    moverPod({
      name: 'destination',
      labels,
      entrypoint: 'rsync-destination',
      claim: 'destination',
      readOnly: false,
      keys: 'keys-destination',
      env: [
        { name: 'SCRIBE_LISTEN_PORT', value: String(SSHD_PORT) },
        { name: 'SCRIBE_LISTEN_ADDRESS', value: '$(POD_IP)' },
        { name: 'SCRIBE_TIMEOUT_SECONDS', value: '200' },
      ],
    }),
  );
  await create(
    kc,
    'Pod',
    ns,
    moverPod({
      name: 'source',
      entrypoint: 'rsync-source',
      claim: 'source',
      readOnly: true,
      keys: 'keys-source',
      env: [
        { name: 'SCRIBE_DESTINATION_ADDRESS', value: service.spec?.clusterIP ?? '' },
        { name: 'SCRIBE_DESTINATION_PORT', value: '22' },
        // The seed's default, which a source uses whatever mode its destination runs in.
        { name: 'SCRIBE_SSH_USER', value: 'root' },
        { name: 'SCRIBE_DESTINATION_PATH', value: '/' },
        ...Object.entries(sourceEnv).map(([name, value]) => ({ name, value })),
      ],
    }),
  );
  const source = await ended(kc, ns, 'source');
  const destination = await ended(kc, ns, 'destination');
  return { source, destination, destinationDir };
}

describe('the rsync mover unprivileged (issue 20)', () => {
  it('as 999 with no capabilities, replicates the application files with their modes, logging in as root', async () => {
    const { source, destination, destinationDir } = await replicate(
      'rsync-unpriv',
      async (dir) => {
        await applicationFiles(dir);
        await aclAndXattr(dir);
      },
      { SCRIBE_PRESERVE_XATTRS: 'true' },
    );
    expect(source, source.message).toMatchObject({ phase: 'Succeeded', exitCode: 0 });
    expect(source.message).toMatch(/result: synchronization succeeded/);
    expect(destination, destination.message).toMatchObject({ phase: 'Succeeded', exitCode: 0 });
    // 999 has no passwd entry in the image: ssh and sshd found one through nss_wrapper, and sshd
    // logged the source in as `root`, which names 999 there.
    expect(source.log).toContain('running as uid 999 gid 999, which has no passwd entry');
    expect(destination.log).toMatch(/running as uid 999 gid 999: sshd logs in "root" as this user/);
    expect(destination.log).toMatch(/Accepted publickey for root/);
    // The volume's root belongs to the provisioner (fsGroup gives only its group): its times and
    // mode are what a user may not set, said as a warning, not a failure.
    expect(source.message).toMatch(/warning: the destination's user could not set .* \/data\/\.$/m);

    expect(await readFile(join(destinationDir, 'db', 'table.ibd'), 'utf8')).toBe('rows of the table\n'.repeat(1000));
    expect(await readFile(join(destinationDir, 'settings'), 'utf8')).toBe('setting = on\n');
    const modes: Record<string, { uid: number; mode: string }> = {};
    for (const path of ['db', 'db/table.ibd', 'db/settings.cnf', 'README']) {
      const s = await stat(join(destinationDir, path));
      modes[path] = { uid: s.uid, mode: (s.mode & 0o7777).toString(8) };
    }
    // Written by the mover's user, with the source's modes. A directory the receiver creates
    // inherits the volume root's setgid bit (fsGroup) on the node, whatever the source says.
    expect(modes).toEqual({
      db: { uid: APP, mode: expect.stringMatching(/^2?700$/) },
      'db/table.ibd': { uid: APP, mode: '600' },
      'db/settings.cnf': { uid: APP, mode: '640' },
      README: { uid: APP, mode: '644' },
    });
    // The owner sets ACLs (naming other users too) and user.* attributes.
    const readme = join(destinationDir, 'README');
    expect(execFileSync('getfacl', ['-cn', readme], { encoding: 'utf8' })).toContain(`user:${OTHER}:r--`);
    expect(execFileSync('getfattr', ['--only-values', '-n', 'user.origin', readme], { encoding: 'utf8' })).toBe(
      'application',
    );
  });

  it('fails on a file its user cannot read, naming it and both ways out, and the destination fails too', async () => {
    const { source, destination } = await replicate('rsync-unpriv-fail', async (dir) => {
      await applicationFiles(dir);
      await writeFile(join(dir, 'db', 'other.key'), 'not yours\n');
      await chown(join(dir, 'db', 'other.key'), OTHER, OTHER);
      await chmod(join(dir, 'db', 'other.key'), 0o600);
    });
    expect(source, source.message).toMatchObject({ phase: 'Failed', exitCode: 23 });
    expect(source.message).toContain('/data/db/other.key');
    expect(source.message).toContain(PERMISSIONS_HINT);
    expect(source.message).toMatch(/result: synchronization failed/);
    // The destination takes the source's result: no success for a copy that misses a file.
    expect(destination, destination.message).toMatchObject({ phase: 'Failed', exitCode: 23 });
    // What the operator says (mover.ts explainRsyncFailure calls this on the summary).
    expect(explainUnreadableFiles(source.message)).toMatch(
      /^rsync as uid 999: could not read files \(.*moverSecurityContext.*privileged-movers: "true".*\): \/data\/db\/other\.key; the sync failed$/,
    );
  });
});
