import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';
import { isStatus, kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES, type ResourceKind } from '../../../src/kube/resources.js';
import { waitFor } from '../../../src/local/processes.js';
import { startNodeAgent, type NodeAgent } from '../../../src/local/agent/index.js';

// One agent for the whole file: it plays the node `scribe-local` of the shared control plane.
let kc: KubeConfig;
let agent: NodeAgent;
let dataDir: string;

beforeAll(async () => {
  kc = testKubeConfig();
  dataDir = await mkdtemp(join(tmpdir(), 'scribe-agent-test-'));
  agent = await startNodeAgent({ kubeconfig: kc, dataDir });
});
afterAll(async () => {
  await agent?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

type Obj = {
  metadata?: { name?: string; uid?: string };
  spec?: Record<string, unknown> & { volumeName?: string; hostPath?: { path?: string } };
  status?: Record<string, unknown>;
};

const create = (resource: ResourceKind, namespace: string, body: object) =>
  kubeRequest<Obj>(kc, { method: 'POST', path: collectionPath(resource, namespace), body });
const get = (resource: ResourceKind, namespace: string | undefined, name: string) =>
  kubeRequest<Obj>(kc, { method: 'GET', path: objectPath(resource, namespace, name) });

/** Polls an object until `test` holds, returning it. */
async function until(resource: ResourceKind, namespace: string | undefined, name: string, test: (o: Obj) => boolean) {
  let last: Obj | undefined;
  await waitFor(
    `${resource.kind} ${name}`,
    async () => {
      last = await get(resource, namespace, name).catch(() => undefined);
      return Boolean(last && test(last));
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
  return last as Obj;
}

const claim = (name: string, extra: object = {}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...extra },
});

const pod = (
  name: string,
  command: string,
  extra: { volumes?: object[]; mounts?: object[]; labels?: object } = {},
) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: extra.labels ?? {} },
  spec: {
    restartPolicy: 'Never',
    terminationGracePeriodSeconds: 2,
    automountServiceAccountToken: false,
    // The image's user (65534) writes the volumes through their group, as on a real node.
    securityContext: { fsGroup: 65534 },
    containers: [
      {
        name: 'main',
        image: agent.images.mover,
        command: ['/bin/sh', '-c', command],
        volumeMounts: extra.mounts ?? [],
      },
    ],
    volumes: extra.volumes ?? [],
  },
});

const phaseIs = (phase: string) => (o: Obj) => o.status?.phase === phase;
const boundClaim = (o: Obj) => o.status?.phase === 'Bound';

async function volumeDirOf(namespace: string, claimName: string): Promise<string> {
  const bound = await until(RESOURCES.PersistentVolumeClaim, namespace, claimName, boundClaim);
  const volume = await get(RESOURCES.PersistentVolume, undefined, bound.spec?.volumeName ?? '');
  return volume.spec?.hostPath?.path ?? '';
}

describe('local node agent', () => {
  it('registers a Ready node without taints', async () => {
    const node = await until(
      { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false },
      undefined,
      agent.nodeName,
      (o) => {
        const conditions = (o.status?.conditions ?? []) as { type: string; status: string }[];
        return (
          conditions.some((c) => c.type === 'Ready' && c.status === 'True') && !(o.spec?.taints as unknown[])?.length
        );
      },
    );
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: '127.0.0.1' });
  });

  it('holds its Lease in kube-node-lease and renews it', async () => {
    type NodeLease = { spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string } };
    const read = () =>
      kubeRequest<NodeLease>(kc, {
        method: 'GET',
        path: objectPath(RESOURCES.Lease, 'kube-node-lease', agent.nodeName),
      });
    let first: NodeLease | undefined;
    await waitFor('the node Lease', async () =>
      Boolean((first = await read().catch(() => undefined))?.spec?.renewTime),
    );
    expect(first?.spec?.holderIdentity).toBe(agent.nodeName);
    // Renewed every 10 s: a later read shows a later renewTime, well within the lease duration.
    await waitFor('a renewal', async () => (await read()).spec?.renewTime !== first?.spec?.renewTime, {
      timeoutMs: (first?.spec?.leaseDurationSeconds ?? 40) * 1000,
      intervalMs: 500,
    });
  });

  it('runs a Job whose pod writes into a dynamically provisioned PVC to completion', async () => {
    const ns = await testNamespace(kc, 'agent-job');
    await create(RESOURCES.PersistentVolumeClaim, ns, claim('data'));
    await create(RESOURCES.Job, ns, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'writer' },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            securityContext: { fsGroup: 65534 },
            containers: [
              {
                name: 'writer',
                image: agent.images.mover,
                command: ['/bin/sh', '-c', 'echo "hello from $POD_NAME" > /data/hello.txt'],
                env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
                volumeMounts: [{ name: 'data', mountPath: '/data' }],
              },
            ],
            volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
          },
        },
      },
    });
    await until(RESOURCES.Job, ns, 'writer', (o) => o.status?.succeeded === 1);
    const dir = await volumeDirOf(ns, 'data');
    expect(readFileSync(join(dir, 'hello.txt'), 'utf8')).toMatch(/^hello from writer-/);
  });

  it('reports a failing container as a Failed pod with its exit code', async () => {
    const ns = await testNamespace(kc, 'agent-fail');
    await create(RESOURCES.Pod, ns, pod('fails', 'exit 3'));
    const failed = await until(RESOURCES.Pod, ns, 'fails', phaseIs('Failed'));
    const [status] = failed.status?.containerStatuses as {
      state: { terminated: { exitCode: number; reason: string } };
    }[];
    expect(status?.state.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
  });

  it('serves container logs through the API server', async () => {
    const ns = await testNamespace(kc, 'agent-logs');
    await create(RESOURCES.Pod, ns, pod('talks', 'echo one; echo two; echo three'));
    await until(RESOURCES.Pod, ns, 'talks', phaseIs('Succeeded'));
    const path = `${objectPath(RESOURCES.Pod, ns, 'talks')}/log`;
    expect(await kubeRequest<string>(kc, { method: 'GET', path, text: true })).toBe('one\ntwo\nthree\n');
    expect(await kubeRequest<string>(kc, { method: 'GET', path, query: { tailLines: 1 }, text: true })).toBe('three\n');
  });

  it("runs containers from their image: bin/scribe starts the image's own mover bundles", async () => {
    const ns = await testNamespace(kc, 'agent-image');
    // bash -x shows the exec bin/scribe chose; the mover then stops at its missing settings.
    const command =
      'ls /scribe/dist/movers/rsync; bash -x /scribe/bin/scribe mover rsync-source 2>&1 | grep "exec node"';
    await create(RESOURCES.Pod, ns, pod('image', command));
    await until(RESOURCES.Pod, ns, 'image', (o) => ['Succeeded', 'Failed'].includes(String(o.status?.phase)));
    const log = await kubeRequest<string>(kc, {
      method: 'GET',
      path: `${objectPath(RESOURCES.Pod, ns, 'image')}/log`,
      text: true,
    });
    expect(log).toBe('destination.mjs\nsession.mjs\nsource.mjs\n+ exec node /scribe/dist/movers/rsync/source.mjs\n');
  });

  it('keeps a pod Pending with CreateContainerConfigError until its Secret exists', async () => {
    const ns = await testNamespace(kc, 'agent-secret');
    await create(RESOURCES.Pod, ns, {
      ...pod('needs-secret', 'test "$(cat /keys/token)" = s3cret && test "$TOKEN" = s3cret'),
      spec: {
        ...pod('x', '').spec,
        containers: [
          {
            name: 'main',
            image: agent.images.mover,
            command: ['/bin/sh', '-c', 'test "$(cat /keys/token)" = s3cret && test "$TOKEN" = s3cret'],
            env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'keys', key: 'token' } } }],
            volumeMounts: [{ name: 'keys', mountPath: '/keys', readOnly: true }],
          },
        ],
        volumes: [{ name: 'keys', secret: { secretName: 'keys', defaultMode: 0o400 } }],
      },
    });
    await until(RESOURCES.Pod, ns, 'needs-secret', (o) =>
      JSON.stringify(o.status?.containerStatuses ?? []).includes('CreateContainerConfigError'),
    );
    await create(RESOURCES.Secret, ns, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'keys' },
      stringData: { token: 's3cret' },
    });
    await until(RESOURCES.Pod, ns, 'needs-secret', phaseIs('Succeeded'));
  });

  it('keeps subPaths inside their volume: file and directory subPaths mount, a planted symlink out is refused', async () => {
    const ns = await testNamespace(kc, 'agent-subpath');
    await create(RESOURCES.PersistentVolumeClaim, ns, claim('shared'));
    const volumes = [{ name: 'data', persistentVolumeClaim: { claimName: 'shared' } }];
    // A container plants a symlink to the host's root in the volume (and a file and a directory).
    const plant = 'mkdir /data/dir && echo hi > /data/file.txt && ln -s / /data/escape';
    await create(RESOURCES.Pod, ns, pod('planter', plant, { volumes, mounts: [{ name: 'data', mountPath: '/data' }] }));
    await until(RESOURCES.Pod, ns, 'planter', phaseIs('Succeeded'));
    const withSubPath = (name: string, sub: string, command: string, mounts: object[] = []) => {
      const base = pod(name, command, { volumes });
      const [container] = base.spec.containers;
      return {
        ...base,
        spec: {
          ...base.spec,
          containers: [
            {
              ...container,
              env: [{ name: 'SUB', value: sub }],
              volumeMounts: [{ name: 'data', mountPath: '/sub', subPathExpr: '$(SUB)' }, ...mounts],
            },
          ],
        },
      };
    };
    const fileMount = [{ name: 'data', mountPath: '/file.txt', subPath: 'file.txt' }];
    await create(
      RESOURCES.Pod,
      ns,
      withSubPath('reader', 'dir', 'test "$(cat /file.txt)" = hi && touch /sub/new', fileMount),
    );
    await until(RESOURCES.Pod, ns, 'reader', phaseIs('Succeeded'));
    const dir = await volumeDirOf(ns, 'shared');
    expect(existsSync(join(dir, 'dir', 'new'))).toBe(true);

    const marker = `scribe-subpath-${Date.now()}`;
    await create(RESOURCES.Pod, ns, withSubPath('opens', 'escape/etc', 'true'));
    await create(RESOURCES.Pod, ns, withSubPath('creates', `escape/tmp/${marker}`, 'true'));
    const waiting = (o: Obj) =>
      (
        o.status?.containerStatuses as { state?: { waiting?: { reason?: string; message?: string } } }[] | undefined
      )?.[0]?.state?.waiting;
    const opens = await until(RESOURCES.Pod, ns, 'opens', (o) => waiting(o)?.reason === 'CreateContainerConfigError');
    expect(waiting(opens)?.message).toBe('failed to prepare subPath for volumeMount "data" of container "main"');
    const creates = await until(
      RESOURCES.Pod,
      ns,
      'creates',
      (o) => waiting(o)?.reason === 'CreateContainerConfigError',
    );
    expect(waiting(creates)?.message).toBe(
      'failed to create subPath directory for volumeMount "data" of container "main"',
    );
    expect(existsSync(join('/tmp', marker))).toBe(false);
    expect(opens.status?.phase).toBe('Pending');
  });

  it('refuses a hostPath volume outside the allowed host paths', async () => {
    const ns = await testNamespace(kc, 'agent-hostpath');
    const volumes = [{ name: 'host', hostPath: { path: '/etc', type: 'Directory' } }];
    await create(
      RESOURCES.Pod,
      ns,
      pod('host', 'cat /host/hostname', { volumes, mounts: [{ name: 'host', mountPath: '/host' }] }),
    );
    const refused = await until(RESOURCES.Pod, ns, 'host', (o) =>
      JSON.stringify(o.status?.containerStatuses ?? []).includes('CreateContainerConfigError'),
    );
    expect(JSON.stringify(refused.status?.containerStatuses)).toContain(
      'volume \\"host\\": hostPath \\"/etc\\" is not allowed on this node',
    );
  });

  it('fills clone and snapshot-restore PVCs with the source data', async () => {
    const ns = await testNamespace(kc, 'agent-copy');
    await create(RESOURCES.PersistentVolumeClaim, ns, claim('source'));
    await create(
      RESOURCES.Pod,
      ns,
      pod('fill', 'mkdir -p /data/sub && echo payload > /data/sub/file', {
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'source' } }],
        mounts: [{ name: 'data', mountPath: '/data' }],
      }),
    );
    await until(RESOURCES.Pod, ns, 'fill', phaseIs('Succeeded'));

    await create(
      RESOURCES.PersistentVolumeClaim,
      ns,
      claim('clone', { dataSource: { kind: 'PersistentVolumeClaim', name: 'source' } }),
    );
    await create(RESOURCES.VolumeSnapshot, ns, {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'snap' },
      spec: { source: { persistentVolumeClaimName: 'source' } },
    });
    const snapshot = await until(RESOURCES.VolumeSnapshot, ns, 'snap', (o) => o.status?.readyToUse === true);
    expect(snapshot.status?.restoreSize).toBe('1Gi');
    await create(
      RESOURCES.PersistentVolumeClaim,
      ns,
      claim('restored', { dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' } }),
    );
    for (const name of ['clone', 'restored']) {
      expect(readFileSync(join(await volumeDirOf(ns, name), 'sub', 'file'), 'utf8')).toBe('payload\n');
    }

    // A snapshot of a missing PVC stays not ready, with an error.
    await create(RESOURCES.VolumeSnapshot, ns, {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'orphan' },
      spec: { source: { persistentVolumeClaimName: 'missing' } },
    });
    const orphan = await until(RESOURCES.VolumeSnapshot, ns, 'orphan', (o) => Boolean(o.status?.error));
    expect(orphan.status?.readyToUse).toBe(false);

    // Deleting the snapshot deletes its content and directory.
    const contentName = String(snapshot.status?.boundVolumeSnapshotContentName);
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.VolumeSnapshot, ns, 'snap') });
    await waitFor('snapshot content deleted', async () => {
      try {
        await get(RESOURCES.VolumeSnapshotContent, undefined, contentName);
        return false;
      } catch (error) {
        return isStatus(error, 404);
      }
    });
    expect(existsSync(join(dataDir, 'snapshots', contentName))).toBe(false);
  });

  it('routes a Service connection to a pod listening on $POD_IP, and gives LoadBalancers an address', async () => {
    const ns = await testNamespace(kc, 'agent-svc');
    const echo =
      "require('net').createServer((s) => s.pipe(s)).listen(7000, process.env.POD_IP, () => console.log('listening'))";
    await create(RESOURCES.Pod, ns, {
      ...pod('echo', ''),
      metadata: { name: 'echo', labels: { app: 'echo' } },
      spec: {
        ...pod('echo', '').spec,
        containers: [
          {
            name: 'main',
            image: agent.images.mover,
            command: ['node', '-e', echo],
            ports: [{ name: 'echo', containerPort: 7000 }],
          },
        ],
      },
    });
    for (const [name, type] of [
      ['echo', 'ClusterIP'],
      ['echo-lb', 'LoadBalancer'],
    ]) {
      await create(RESOURCES.Service, ns, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name },
        spec: { type, selector: { app: 'echo' }, ports: [{ port: 8000, targetPort: 'echo' }] },
      });
    }
    const service = await get(RESOURCES.Service, ns, 'echo');
    const lb = await until(RESOURCES.Service, ns, 'echo-lb', (o) =>
      Boolean(JSON.stringify(o.status ?? {}).includes('127.97.')),
    );
    const lbIP = (lb.status?.loadBalancer as { ingress: { ip: string }[] }).ingress[0]?.ip ?? '';
    for (const host of [String(service.spec?.clusterIP), lbIP]) {
      let answer = '';
      await waitFor(
        `echo through ${host}:8000`,
        () => echoOnce(host, 8000).then((text) => (answer = text) === 'ping'),
        {
          timeoutMs: 60_000,
          intervalMs: 250,
        },
      );
      expect(answer).toBe('ping');
    }
  });

  it('restarts an OnFailure container in place and counts the restart', async () => {
    const ns = await testNamespace(kc, 'agent-restart');
    const retry = pod('retry', 'if [ -e /scratch/tried ]; then exit 0; fi; touch /scratch/tried; exit 1', {
      volumes: [{ name: 'scratch', emptyDir: {} }],
      mounts: [{ name: 'scratch', mountPath: '/scratch' }],
    });
    await create(RESOURCES.Pod, ns, { ...retry, spec: { ...retry.spec, restartPolicy: 'OnFailure' } });
    const done = await until(RESOURCES.Pod, ns, 'retry', phaseIs('Succeeded'));
    const [status] = done.status?.containerStatuses as { restartCount: number; lastState: object }[];
    expect(status?.restartCount).toBe(1);
    expect(status?.lastState).toMatchObject({ terminated: { exitCode: 1 } });
  });

  it('deletes the directory and PV of a released claim', async () => {
    const ns = await testNamespace(kc, 'agent-reclaim');
    await create(RESOURCES.PersistentVolumeClaim, ns, claim('scratch'));
    const bound = await until(RESOURCES.PersistentVolumeClaim, ns, 'scratch', boundClaim);
    const dir = await volumeDirOf(ns, 'scratch');
    expect(existsSync(dir)).toBe(true);
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.PersistentVolumeClaim, ns, 'scratch') });
    await waitFor('PV deleted', async () => {
      try {
        await get(RESOURCES.PersistentVolume, undefined, bound.spec?.volumeName ?? '');
        return false;
      } catch (error) {
        return isStatus(error, 404);
      }
    });
    expect(existsSync(dir)).toBe(false);
  });

  it('stops a running pod when it is deleted', async () => {
    const ns = await testNamespace(kc, 'agent-delete');
    // A unique argument makes the sandboxed process easy to find in the host's /proc.
    const marker = `3600.${Date.now()}`;
    await create(RESOURCES.Pod, ns, pod('sleeper', `exec sleep ${marker}`));
    await until(RESOURCES.Pod, ns, 'sleeper', phaseIs('Running'));
    await waitFor('sleep process', () => processesWith(marker) > 0);
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.Pod, ns, 'sleeper') });
    await waitFor(
      'pod gone',
      async () => {
        try {
          await get(RESOURCES.Pod, ns, 'sleeper');
          return false;
        } catch (error) {
          return isStatus(error, 404);
        }
      },
      { timeoutMs: 30_000 },
    );
    expect(processesWith(marker)).toBe(0);
  });
});

/** How many host processes have `argument` on their command line. */
function processesWith(argument: string): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(argument)) count++;
    } catch {
      // exited meanwhile
    }
  }
  return count;
}

/** Sends "ping" and resolves with what comes back; rejects on refusal. */
function echoOnce(host: string, port: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(port, host, () => socket.write('ping'));
    let received = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      if (received.length >= 4) {
        socket.end();
        resolvePromise(received);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolvePromise(received));
  });
}
