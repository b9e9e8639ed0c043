/**
 * Faults on a whole local system of this file's own: the API server and etcd restarted during
 * a sync, a mover pod killed mid-transfer, a destination volume that fills up (a tmpfs-backed
 * volume of the local runtime's `scribe-local-sized` class), and secrets (SSH private keys,
 * restic passwords, rclone credentials) kept out of logs, Events, status and mover summaries.
 * Every cycle must still complete, with no duplicate work and the previous image intact.
 *
 * The operator runs as the Helm chart's ServiceAccount with the chart's RBAC only (issue 10,
 * "Security"): every fault here is survived with those permissions, and the last test shows
 * what they do and do not allow.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { ResourceInformer } from '../../src/kube/informer.js';
import { ApiError, kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../src/kube/resources.js';
import { microTime, readLease, writeLease } from '../../src/leader/lease.js';
import { SIZED_CLASS } from '../../src/local/agent/kinds.js';
import type { ChartIdentity } from '../../src/local/operator-identity.js';
import { startS3Server } from '../../src/local/s3.js';
import { create, createPvc, get, patch, pvcDirectory, waitForObject } from '../../src/local/objects.js';
import { waitFor } from '../../src/local/processes.js';
import { MOVER_POD_LABEL } from '../../src/movers/job.js';
import { ATTEMPT_LABEL, CREATED_BY_LABEL, CREATED_BY_VALUE, CYCLE_LABEL } from '../../machines/naming.js';
import { rcloneSourceName } from '../../src/movers/rclone/names.js';
import { resticSourceName } from '../../src/movers/restic/names.js';
import { rsyncDestinationName, rsyncSourceName } from '../../src/movers/rsync/names.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import { CreatedObjects } from '../support/recorder.js';
import { killMoverMidway } from '../support/kill-mover.js';
import { startSlowLink, type SlowLink } from '../support/slow-link.js';
import { listeningRsyncDestination, localSystemOfThisFile, sampleVolume } from '../support/local-system.js';

const API = 'scribe.backube/v1alpha1';
const CREATED_BY_SCRIBE = `${CREATED_BY_LABEL}=${CREATED_BY_VALUE}`;

// Owners must arrive as they are: the rsync movers run privileged (docs/permissions.md).
const system = localSystemOfThisFile({ operatorIdentity: 'chart' }, { names: ['src', 'dst'], privileged: true });

/**
 * A destination (rsync spec `destinationRsync`) and a manual source for `id`, with `files` files of
 * sample data. With `slowLink` the source connects through a relay whose bandwidth the test sets
 * (test/support/slow-link.ts; unlimited until then), returned as `link` for the test to close.
 */
async function pair(
  id: string,
  files = 300,
  destinationRsync: object = { copyMethod: 'Snapshot', capacity: '1Gi' },
  { slowLink = false }: { slowLink?: boolean } = {},
) {
  const kc = system.runtime.kc;
  const dir = await sampleVolume(kc, 'src', id, { files });
  const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', 'dst', id);
  const { rd, address, keys, secret } = await listeningRsyncDestination(kc, id, destinationRsync);
  const link = slowLink
    ? await startSlowLink(`${address}:${(rd as ReplicationDestination).status?.rsync?.port ?? 22}`)
    : undefined;
  const [linkHost, linkPort] = link?.address.split(':') ?? [];
  const connectTo = link ? { address: linkHost, port: Number(linkPort) } : { address };
  const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', 'src', id);
  const start = (manual: string) =>
    create(kc, 'ReplicationSource', 'src', {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: id },
      spec: {
        sourcePVC: id,
        trigger: { manual },
        rsync: { copyMethod: 'Clone', ...connectTo, sshKeys: keys },
      },
    });
  const synced = (manual: string) =>
    waitForObject(`${id} synced ${manual}`, readSource, (rs) => rs.status?.lastManualSync === manual, 240_000);
  return { dir, readDest, readSource, start, synced, keys, secret, link };
}

/**
 * When the API server was (re)starting. Until its RBAC authorizer's caches are filled, a freshly
 * started API server answers 403 to everyone but system:masters (the admin's group, allowed by
 * an authorizer of its own): the operator's watches, reconnecting the moment the port opens, see
 * Forbidden once (kube-apiserver logs "Caches are synced" just after). Readiness comes later.
 */
const apiServerStarts: Array<{ from: number; to: number }> = [];
async function restartApiServer() {
  const from = Date.now();
  await system.runtime.controlPlane.restartApiServer();
  apiServerStarts.push({ from, to: Date.now() });
}

const waitForState = (read: () => Promise<ReplicationSource | undefined>, state: string) =>
  waitFor(`state ${state}`, async () => (await read())?.status?.state === state, {
    timeoutMs: 120_000,
    intervalMs: 10,
  });

describe('faults', () => {
  it('completes a sync across an API server restart and an etcd restart, with no duplicate Job', async () => {
    const recorder = new CreatedObjects(system.runtime.kc, ['src']);
    await recorder.start();
    try {
      const p = await pair('restarts');
      await p.start('one');
      await waitForState(p.readSource, 'moving');
      await restartApiServer();
      await p.synced('one');
      const imageOne = await waitForObject('image one', p.readDest, (d) => Boolean(d.status?.latestImage?.name));
      await patch(system.runtime.kc, 'ReplicationSource', 'src', 'restarts', { spec: { trigger: { manual: 'two' } } });
      await waitForState(p.readSource, 'moving');
      await system.runtime.controlPlane.restartEtcd();
      await p.synced('two');
      const jobs = recorder.ofKind('Job');
      const cycles = new Set(jobs.map((j) => j.metadata?.labels?.['scribe.backube/cycle']));
      expect(jobs.length).toBe(cycles.size);
      expect(cycles.size).toBe(2);
      // The destination preserves after the source is done; restore from the image of sync two.
      const imageTwo = await waitForObject(
        'image two',
        p.readDest,
        (d) =>
          Boolean(d.status?.latestImage?.name) && d.status?.latestImage?.name !== imageOne.status?.latestImage?.name,
      );
      const image = imageTwo.status?.latestImage?.name;
      await createPvc(system.runtime.kc, 'dst', 'check-restarts', {
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: image },
      });
      expect(snapshotTree(await pvcDirectory(system.runtime.kc, 'dst', 'check-restarts'))).toEqual(snapshotTree(p.dir));
    } finally {
      await recorder.stop();
    }
  });

  it('retries after the mover pod is killed mid-transfer, keeping the previous image until a new one is complete', async () => {
    const kc = system.runtime.kc;
    const id = 'killed';
    const recorder = new CreatedObjects(kc, ['src']);
    await recorder.start();
    const p = await pair(id, 600, undefined, { slowLink: true });
    const link = p.link as SlowLink;
    try {
      await p.start('one');
      await p.synced('one');
      // The destination preserves its copy after the source is done: wait for that image.
      const first = await waitForObject('the first image', p.readDest, (d) => Boolean(d.status?.latestImage?.name));
      const previous = first.status?.latestImage?.name as string;

      // Incompressible changes (rsync -z), sent at 1 MiB/s: about 10 s of transfer to interrupt.
      for (let i = 0; i < 600; i++) await writeFile(join(p.dir, 'd', `f${i}`), randomBytes(16 * 1024));
      link.setRate(SLOW);
      await patch(kc, 'ReplicationSource', 'src', id, { spec: { trigger: { manual: 'two' } } });
      const moving = await waitForObject('sync two moving', p.readSource, (rs) => rs.status?.state === 'moving');
      const cycle = moving.status?.cycle?.id;
      expect(cycle).toBeDefined();
      // Killed the way a node loss would kill it, once it is sending files.
      const victim = await killMoverMidway(kc, 'src', rsyncSourceName(id), (log) => /^<f/m.test(log));
      link.setRate(Number.POSITIVE_INFINITY);
      expect(victim.labels[CYCLE_LABEL]).toBe(cycle);
      expect(victim.labels[ATTEMPT_LABEL]).toBe('0');

      // The attempt failed: status counts it (the retry waits its backoff), and latestImage still
      // points at the previous, complete snapshot.
      const failed = await waitForObject(
        'the failed attempt in status',
        p.readSource,
        (rs) => (rs.status?.cycle?.attempt ?? 0) >= 1,
      );
      expect(failed.status?.cycle?.id).toBe(cycle);
      expect(failed.status?.lastManualSync).toBe('one');
      expect((await p.readDest())?.status?.latestImage?.name).toBe(previous);

      const done = await p.synced('two');
      // The journal shows the failure before the sync completed, and the sync was a retry: the
      // mover Job of this cycle ran again with a higher attempt label.
      const failures = (done.status?.journal ?? []).filter((entry) => entry.to === 'failed');
      expect(failures.length, JSON.stringify(done.status?.journal, null, 1)).toBeGreaterThan(0);
      // (journal times are whole seconds)
      expect(Date.parse(failures.at(-1)?.time ?? '')).toBeGreaterThanOrEqual(Math.floor(victim.killedAt / 1000) * 1000);
      const attempts = recorder
        .ofKind('Job')
        .filter((job) => job.metadata?.name === rsyncSourceName(id) && job.metadata?.labels?.[CYCLE_LABEL] === cycle)
        .map((job) => Number(job.metadata?.labels?.[ATTEMPT_LABEL]))
        .sort((a, b) => a - b);
      expect(attempts[0]).toBe(0);
      expect(attempts.at(-1)).toBeGreaterThanOrEqual(1);

      const after = await waitForObject('a new image', p.readDest, (d) => d.status?.latestImage?.name !== previous);
      await createPvc(kc, 'dst', `check-${id}`, {
        dataSource: {
          apiGroup: 'snapshot.storage.k8s.io',
          kind: 'VolumeSnapshot',
          name: after.status?.latestImage?.name,
        },
      });
      expect(snapshotTree(await pvcDirectory(kc, 'dst', `check-${id}`))).toEqual(snapshotTree(p.dir));
    } finally {
      await link.close();
      await recorder.stop();
    }
  });

  it('a destination volume that fills up fails the sync clearly and keeps the previous image', async () => {
    const kc = system.runtime.kc;
    // 30 files of ~27 KiB fit in 4 MiB; the second sync adds 6 MiB of incompressible data.
    const p = await pair('full', 30, { copyMethod: 'Snapshot', capacity: '4Mi', storageClassName: SIZED_CLASS });
    await p.start('one');
    await p.synced('one');
    const first = await waitForObject('the first image', p.readDest, (d) => Boolean(d.status?.latestImage?.name));
    const previous = first.status?.latestImage?.name as string;
    const before = snapshotTree(p.dir);

    await writeFile(join(p.dir, 'd', 'big.bin'), randomBytes(6 * 1024 * 1024));
    await patch(kc, 'ReplicationSource', 'src', 'full', { spec: { trigger: { manual: 'two' } } });
    const failed = await waitForObject(
      'the failure in status',
      p.readSource,
      (rs) => rs.status?.latestMoverStatus?.result === 'Failed',
      240_000,
    );
    const reconciled = failed.status?.conditions?.find((c) => c.type === 'Reconciled');
    expect(reconciled?.status).toBe('False');
    expect(`${reconciled?.message}\n${failed.status?.latestMoverStatus?.logs}`).toMatch(
      /No space left on device|destination volume full/i,
    );
    expect(failed.status?.lastManualSync).toBe('one');
    // The previous image is still the latest, and still holds the first sync's data.
    expect((await p.readDest())?.status?.latestImage?.name).toBe(previous);
    await createPvc(kc, 'dst', 'check-full', {
      dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: previous },
    });
    expect(snapshotTree(await pvcDirectory(kc, 'dst', 'check-full'))).toEqual(before);
  });

  it('never writes SSH private keys, restic passwords or rclone credentials into logs, Events, status or mover summaries', async () => {
    const kc = system.runtime.kc;
    const id = randomBytes(2).toString('hex');
    // Mover pods' logs are read through the API (pods/log) while the pods exist: the operator
    // deletes a finished cycle's Job, and the pods go with it.
    const movers = await collectMoverPods(kc);
    // Two S3 servers, so the restic and the rclone secret keys are distinct values.
    const resticS3 = await startS3Server();
    const rcloneS3 = await startS3Server().catch(async (error: unknown) => {
      await resticS3.stop();
      throw error;
    });
    try {
      await resticS3.createBucket('restic');
      await rcloneS3.createBucket('rclone');
      const resticPassword = `restic-password-${randomBytes(12).toString('hex')}`;
      const rcloneConf = [
        '[leak-check]',
        'type = s3',
        'provider = Minio',
        'env_auth = false',
        `access_key_id = ${rcloneS3.accessKey}`,
        `secret_access_key = ${rcloneS3.secretKey}`,
        `endpoint = ${rcloneS3.endpoint}`,
        '',
      ].join('\n');
      await create(kc, 'Secret', 'src', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `restic-${id}` },
        stringData: {
          RESTIC_REPOSITORY: `s3:${resticS3.endpoint}/restic/${id}`,
          RESTIC_PASSWORD: resticPassword,
          AWS_ACCESS_KEY_ID: resticS3.accessKey,
          AWS_SECRET_ACCESS_KEY: resticS3.secretKey,
        },
      });
      await create(kc, 'Secret', 'src', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `rclone-${id}` },
        stringData: { 'rclone.conf': rcloneConf },
      });
      const objectSource = async (name: string, mover: object) => {
        await createPvc(kc, 'src', name);
        const dir = await pvcDirectory(kc, 'src', name);
        await mkdir(join(dir, 'd'), { recursive: true });
        for (let i = 0; i < 20; i++) await writeFile(join(dir, 'd', `f${i}`), `${name} ${i}\n`.repeat(1000));
        await create(kc, 'ReplicationSource', 'src', {
          apiVersion: API,
          kind: 'ReplicationSource',
          metadata: { name },
          spec: { sourcePVC: name, trigger: { manual: 'one' }, ...mover },
        });
      };
      const rsync = await pair(`leaks-${id}`, 20);
      await rsync.start('one');
      await objectSource(`restic-${id}`, {
        restic: { copyMethod: 'Clone', repository: `restic-${id}`, retain: { last: 2 } },
      });
      await objectSource(`rclone-${id}`, {
        rclone: {
          copyMethod: 'Clone',
          rcloneConfig: `rclone-${id}`,
          rcloneConfigSection: 'leak-check',
          rcloneDestPath: `rclone/${id}`,
        },
      });
      for (const name of [`leaks-${id}`, `restic-${id}`, `rclone-${id}`]) {
        const done = await waitForObject(
          `${name} synced`,
          () => get<ReplicationSource>(kc, 'ReplicationSource', 'src', name),
          (rs) => rs.status?.lastManualSync === 'one',
          240_000,
        );
        expect(done.status?.latestMoverStatus?.result, name).toBe('Successful');
      }
      // The rsync destination's mover is done once it has preserved the new image.
      await waitForObject('the rsync image', rsync.readDest, (d) => Boolean(d.status?.latestImage?.name));
      await movers.settle();

      // What must never be written anywhere: each value as is and base64-encoded (as a Secret's
      // data holds it); for the SSH keys every line of each private key's body too.
      const scribeSecrets = await kubeRequest<{ items: Array<KubernetesObject & { data?: Record<string, string> }> }>(
        kc,
        { method: 'GET', path: collectionPath(RESOURCES.Secret), query: { labelSelector: CREATED_BY_SCRIBE } },
      );
      const secrets: Array<[string, string]> = [];
      for (const secret of scribeSecrets.items) {
        for (const key of ['source', 'destination']) {
          const b64 = secret.data?.[key];
          if (!b64) continue;
          const what = `private key ${key} of Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`;
          secrets.push([what, b64]);
          for (const line of Buffer.from(b64, 'base64').toString('utf8').split('\n')) {
            if (line.length > 20 && !line.startsWith('-----')) secrets.push([`a line of the ${what}`, line]);
          }
        }
      }
      expect(secrets.length).toBeGreaterThan(0);
      const plain: Array<[string, string]> = [
        ['the restic password', resticPassword],
        ["the restic repository's S3 secret key", resticS3.secretKey],
        ["rclone.conf's secret_access_key", rcloneS3.secretKey],
        ['rclone.conf', rcloneConf],
      ];
      for (const [what, value] of plain) {
        secrets.push([what, value], [`${what} (base64)`, Buffer.from(value).toString('base64')]);
      }

      // Where they might leak: the operator's log, every Event, every CR (status with
      // latestMoverStatus, the mover's summary), the mover pods (termination messages) and their logs.
      const haystacks: Array<[string, string]> = [
        ['the operator log', await readFile(system.runtime.operatorLog, 'utf8')],
      ];
      for (const kind of ['Event', 'ReplicationSource', 'ReplicationDestination'] as const) {
        const list = await kubeRequest<{ items: unknown[] }>(kc, {
          method: 'GET',
          path: collectionPath(RESOURCES[kind]),
        });
        haystacks.push([`${kind}s`, JSON.stringify(list.items)]);
      }
      for (const [pod, object] of movers.pods) haystacks.push([`mover pod ${pod}`, JSON.stringify(object)]);
      for (const [container, log] of movers.logs) haystacks.push([`the log of ${container}`, log]);
      // Each mover's pods were seen and their logs read (the grep below would pass vacuously otherwise).
      for (const [namespace, job] of [
        ['src', rsyncSourceName(`leaks-${id}`)],
        ['dst', rsyncDestinationName(`leaks-${id}`)],
        ['src', resticSourceName(`restic-${id}`)],
        ['src', rcloneSourceName(`rclone-${id}`)],
      ] as const) {
        const logs = [...movers.logs].filter(([key]) => key.startsWith(`${namespace}/${job}-`));
        expect(
          logs.some(([, log]) => log.length > 0),
          `a log of the mover of Job ${namespace}/${job}`,
        ).toBe(true);
      }
      const cr = (name: string) => haystacks.find(([where]) => where === 'ReplicationSources')?.[1].includes(name);
      expect(cr(`restic-${id}`) && cr(`rclone-${id}`) && cr(`leaks-${id}`)).toBe(true);

      const leaks = haystacks.flatMap(([where, text]) =>
        secrets.filter(([, value]) => text.includes(value)).map(([what]) => `${what} in ${where}`),
      );
      expect(leaks).toEqual([]);
    } finally {
      await movers.stop();
      await resticS3.stop();
      await rcloneS3.stop();
    }
  });

  it("the operator runs with the chart's RBAC: it did its work (no request forbidden), and may not do more", async () => {
    const identity = system.runtime.chartIdentity as ChartIdentity;
    expect(identity.user).toBe('system:serviceaccount:scribe-system:scribe');
    // The operator's kubeconfig authenticates as the chart's ServiceAccount, and nothing else.
    const operatorKubeconfig = loadKubeConfig({ kubeconfig: system.runtime.operatorKubeconfigPath });
    const self = await kubeRequest<{ status: { userInfo: { username: string; groups?: string[] } } }>(
      operatorKubeconfig,
      {
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      },
    );
    expect(self.status.userInfo.username).toBe(identity.user);
    expect(self.status.userInfo.groups).not.toContain('system:masters');

    // What the chart grants (helm/scribe/templates/rbac.yaml), each as the operator uses it…
    const ns = identity.namespace;
    const lease = identity.leaseName;
    const allowed: Access[] = [
      ['watch', 'scribe.backube', 'replicationsources'],
      ['list', 'scribe.backube', 'replicationdestinations'],
      ['get', 'scribe.backube', 'replicationsources', 'src'],
      ['patch', 'scribe.backube', 'replicationsources/status', 'src'],
      ['patch', 'scribe.backube', 'replicationdestinations/status', 'dst'],
      ['update', 'scribe.backube', 'replicationsources/finalizers', 'src'],
      ['update', 'scribe.backube', 'replicationdestinations/finalizers', 'dst'],
      ['create', 'batch', 'jobs', 'src'],
      ['delete', 'batch', 'jobs', 'dst'],
      ['watch', 'batch', 'jobs'],
      ['create', '', 'persistentvolumeclaims', 'dst'],
      ['delete', '', 'persistentvolumeclaims', 'src'],
      ['create', 'snapshot.storage.k8s.io', 'volumesnapshots', 'src'],
      ['delete', 'snapshot.storage.k8s.io', 'volumesnapshots', 'dst'],
      ['create', '', 'services', 'dst'],
      ['create', '', 'secrets', 'dst'],
      // A create answered 409 reads that one Secret (is it the CR's own?, issue 21).
      ['get', '', 'secrets', 'src'],
      ['watch', '', 'pods'],
      // The running movers' log tails, for the stall rule (src/controller/mover-output.ts).
      ['get', '', 'pods/log', 'src'],
      // Releasing a snapshot labelled do-not-delete (decision 20).
      ['patch', 'snapshot.storage.k8s.io', 'volumesnapshots', 'src'],
      ['create', 'events.k8s.io', 'events', 'src'],
      ['patch', 'events.k8s.io', 'events', 'dst'],
      // The Job controller's FailedCreate Events on mover Jobs (a pod a ResourceQuota refused).
      ['watch', '', 'events'],
      ['create', 'coordination.k8s.io', 'leases', ns],
      ['get', 'coordination.k8s.io', 'leases', ns, lease],
      ['update', 'coordination.k8s.io', 'leases', ns, lease],
      ['create', 'authentication.k8s.io', 'tokenreviews'],
      ['create', 'authorization.k8s.io', 'subjectaccessreviews'],
    ];
    // …and what it does not: no Secret is changed in place, no Pod made or entered, no spec of
    // the user's touched, nothing cluster-scoped written, no other Lease, nothing in kube-system.
    const denied: Access[] = [
      ['update', '', 'secrets', 'src'],
      ['patch', '', 'secrets', 'dst'],
      // Issue 21: Secrets are never listed or watched, Services and Secrets never deleted (they
      // go with their CR), pods only watched.
      ['list', '', 'secrets', 'src'],
      ['watch', '', 'secrets'],
      ['delete', '', 'secrets', 'dst'],
      ['delete', '', 'services', 'dst'],
      ['get', '', 'pods', 'src'],
      ['deletecollection', '', 'secrets', 'src'],
      ['create', '', 'pods', 'src'],
      ['delete', '', 'pods', 'src'],
      ['create', '', 'pods/exec', 'src'],
      ['create', '', 'serviceaccounts/token', ns],
      ['create', 'scribe.backube', 'replicationsources', 'src'],
      ['update', 'scribe.backube', 'replicationsources', 'src'],
      ['patch', 'scribe.backube', 'replicationdestinations', 'dst'],
      ['delete', 'scribe.backube', 'replicationdestinations', 'dst'],
      ['update', 'batch', 'jobs', 'src'],
      ['patch', '', 'persistentvolumeclaims', 'src'],
      ['patch', '', 'services', 'dst'],
      ['patch', 'apps', 'deployments', ns],
      ['create', 'apps', 'deployments', 'src'],
      ['get', '', 'configmaps', 'kube-system'],
      ['list', '', 'configmaps', 'src'],
      ['create', '', 'namespaces'],
      ['delete', '', 'namespaces'],
      ['delete', '', 'nodes'],
      ['list', '', 'nodes'],
      ['create', '', 'persistentvolumes'],
      ['delete', '', 'persistentvolumes'],
      ['create', 'snapshot.storage.k8s.io', 'volumesnapshotcontents'],
      ['delete', 'snapshot.storage.k8s.io', 'volumesnapshotcontents'],
      ['create', 'snapshot.storage.k8s.io', 'volumesnapshotclasses'],
      ['create', 'storage.k8s.io', 'storageclasses'],
      ['create', 'apiextensions.k8s.io', 'customresourcedefinitions'],
      ['create', 'admissionregistration.k8s.io', 'validatingwebhookconfigurations'],
      ['create', 'rbac.authorization.k8s.io', 'clusterroles'],
      ['create', 'rbac.authorization.k8s.io', 'clusterrolebindings'],
      ['bind', 'rbac.authorization.k8s.io', 'clusterroles'],
      ['escalate', 'rbac.authorization.k8s.io', 'clusterroles'],
      ['create', 'rbac.authorization.k8s.io', 'rolebindings', 'src'],
      ['impersonate', '', 'users'],
      ['create', 'certificates.k8s.io', 'certificatesigningrequests'],
      ['create', 'coordination.k8s.io', 'leases', 'kube-system'],
      ['update', 'coordination.k8s.io', 'leases', ns, 'some-other-lease'],
      ['delete', 'coordination.k8s.io', 'leases', ns, lease],
    ];
    const answers = async (checks: Access[]) =>
      Object.fromEntries(
        await Promise.all(checks.map(async (c) => [c.filter(Boolean).join(' '), await canI(operatorKubeconfig, c)])),
      );
    expect(await answers(allowed)).toEqual(Object.fromEntries(allowed.map((c) => [c.filter(Boolean).join(' '), true])));
    expect(await answers(denied)).toEqual(Object.fromEntries(denied.map((c) => [c.filter(Boolean).join(' '), false])));
    expect(await canI(operatorKubeconfig, { path: '/metrics', verb: 'get' })).toBe(false);

    // Not only the reviews: the API server refuses such requests made with the operator's token.
    const refused = async (spec: Parameters<typeof kubeRequest>[1]) =>
      kubeRequest(operatorKubeconfig, spec).then(
        () => 'allowed',
        (error: unknown) => (error instanceof ApiError ? error.status : String(error)),
      );
    expect(await refused({ method: 'GET', path: collectionPath(RESOURCES.ConfigMap, 'kube-system') })).toBe(403);
    const [userSecret] = (
      await kubeRequest<{ items: KubernetesObject[] }>(system.runtime.kc, {
        method: 'GET',
        path: collectionPath(RESOURCES.Secret, 'dst'),
      })
    ).items;
    expect(
      await refused({
        method: 'PATCH',
        path: objectPath(RESOURCES.Secret, 'dst', userSecret?.metadata?.name ?? 'any'),
        body: { metadata: { labels: { 'scribe-test': 'changed' } } },
      }),
    ).toBe(403);
    // (a namespace that does not exist: authorization comes first, so 403 rather than 404)
    expect(await refused({ method: 'DELETE', path: objectPath(RESOURCES.Namespace, undefined, 'no-such-ns') })).toBe(
      403,
    );
    // The chart's Lease can be taken and renewed with the operator's token, as --leader-elect does.
    const ref = { namespace: ns, name: lease };
    const existing = await readLease(operatorKubeconfig, ref, 10_000);
    const spec = { holderIdentity: 'faults-test', leaseDurationSeconds: 1, renewTime: microTime(Date.now()) };
    const taken = await writeLease(operatorKubeconfig, ref, existing?.metadata.resourceVersion, spec, 10_000);
    expect(taken?.spec?.holderIdentity).toBe('faults-test');
    const renewed = await writeLease(operatorKubeconfig, ref, taken?.metadata.resourceVersion, { ...spec }, 10_000);
    expect(renewed?.metadata.resourceVersion).toBeDefined();

    // It did its work under that identity: syncs completed, and not one of its requests was forbidden.
    const sources = await kubeRequest<{ items: ReplicationSource[] }>(system.runtime.kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.ReplicationSource, 'src'),
    });
    expect(sources.items.filter((rs) => rs.status?.lastSyncTime).length).toBeGreaterThan(0);
    const log = await readFile(system.runtime.operatorLog, 'utf8');
    expect(log).toContain('operator started');
    const forbidden = log.split('\n').filter((line) => /forbidden|"(status|statusCode|code)":\s*403\b/i.test(line));
    const whileStarting = (line: string) => {
      const time = Date.parse(/^\{"level":\d+,"time":"([^"]+)"/.exec(line)?.[1] ?? '');
      return apiServerStarts.some(({ from, to }) => time >= from && time <= to);
    };
    expect(forbidden.filter((line) => !whileStarting(line))).toEqual([]);
  });
});

/** A SelfSubjectAccessReview's resource attributes: verb, API group, resource[/subresource], namespace, name. */
type Access = [verb: string, group: string, resource: string, namespace?: string, name?: string];

/** Whether the credentials of `kc` may do `access` (a SelfSubjectAccessReview, as `kubectl auth can-i`). */
async function canI(kc: KubeConfig, access: Access | { path: string; verb: string }): Promise<boolean> {
  const attributes = Array.isArray(access)
    ? (() => {
        const [verb, group, resource, namespace, name] = access;
        const [plural, subresource] = resource.split('/');
        return { resourceAttributes: { verb, group, resource: plural, subresource, namespace, name } };
      })()
    : { nonResourceAttributes: access };
  const review = await kubeRequest<{ status?: { allowed?: boolean } }>(kc, {
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: attributes },
  });
  return review.status?.allowed === true;
}

type Pod = KubernetesObject & {
  spec?: { containers?: Array<{ name: string }>; initContainers?: Array<{ name: string }> };
  status?: { phase?: string };
};

/** The link's bandwidth while a transfer is to be interrupted. */
const SLOW = 1024 * 1024;

/**
 * Watches mover pods (every namespace) and reads each container's log through the API (pods/log,
 * as `kubectl logs`) on every change of the pod and every half second while it exists, keeping
 * the longest read. `logs` is keyed NAMESPACE/POD/CONTAINER, `pods` (last seen) NAMESPACE/POD.
 */
async function collectMoverPods(kc: KubeConfig) {
  const logs = new Map<string, string>();
  const pods = new Map<string, Pod>();
  const reads = new Set<Promise<void>>();
  const informer = new ResourceInformer<Pod>(kc, RESOURCES.Pod, { labelSelector: MOVER_POD_LABEL });
  const read = (pod: Pod) => {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    pods.set(`${namespace}/${name}`, pod);
    if (!pod.status?.phase || pod.status.phase === 'Pending') return;
    for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
      const key = `${namespace}/${name}/${container.name}`;
      const reading = kubeRequest<string>(kc, {
        method: 'GET',
        path: `${objectPath(RESOURCES.Pod, namespace, name)}/log`,
        query: { container: container.name },
        text: true,
      })
        .then((text) => {
          if (text.length >= (logs.get(key)?.length ?? 0)) logs.set(key, text);
        })
        .catch(() => undefined) // not started yet, or gone
        .finally(() => reads.delete(reading));
      reads.add(reading);
    }
  };
  const subscription = informer.events$.subscribe((event) => {
    if (event.type === 'added' || event.type === 'updated') read(event.object);
  });
  await informer.start();
  const timer = setInterval(() => {
    if (reads.size === 0) for (const pod of informer.list()) read(pod);
  }, 500);
  return {
    logs,
    pods,
    /** Waits for the reads in flight and one more round of the pods still there. */
    async settle() {
      await Promise.all([...reads]);
      for (const pod of informer.list()) read(pod);
      await Promise.all([...reads]);
    },
    async stop() {
      clearInterval(timer);
      subscription.unsubscribe();
      await informer.stop();
      await Promise.all([...reads]);
    },
  };
}
