/**
 * Helpers for end-to-end tests across local clusters side by side (src/local/clusters.ts): the
 * clusters themselves, a Secret carried from one to another as a user would with two
 * contexts, and what a pod of one cluster reaches of another.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { startLocalClusters, type LocalCluster, type LocalClusters } from '../../src/local/clusters.js';
import { create, get, waitForObject } from '../../src/local/objects.js';

/** Starts `count` clusters side by side; their progress goes to each runtime's own log file. */
export async function startTestClusters(count: number): Promise<LocalClusters> {
  const started = Date.now();
  const clusters = await startLocalClusters(count);
  const names = clusters.clusters.map((c) => `${c.name} (${c.runtime.controlPlane.server})`);
  console.log(`[clusters] ${names.join(', ')} ready in ${Date.now() - started} ms (${clusters.dir})`);
  return clusters;
}

/** Copies a Secret's data from one cluster to another (same name), as `kubectl get | apply` across contexts. */
export async function copySecretAcross(
  from: { kc: KubeConfig; namespace: string },
  to: { kc: KubeConfig; namespace: string },
  name: string,
): Promise<void> {
  const secret = await get<KubernetesObject & { data?: Record<string, string> }>(
    from.kc,
    'Secret',
    from.namespace,
    name,
  );
  if (!secret?.data) throw new Error(`Secret ${from.namespace}/${name} not found or empty`);
  await create(to.kc, 'Secret', to.namespace, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name },
    data: secret.data,
  });
}

/** The first bytes a TCP server sends (an SSH server's banner), '' when it closes or refuses first. */
export function firstBytes(host: string, port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let received = '';
    const done = () => {
      socket.destroy();
      resolve(received);
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\n')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}

/**
 * Runs a pod of the node's mover image in `namespace` that connects to each target and prints
 * `name=[first 7 bytes]` (empty when the connection is refused or closed at once); resolves
 * with those values once the pod has succeeded.
 */
export async function connectFromPod(
  cluster: LocalCluster,
  namespace: string,
  targets: Record<string, { host: string; port: number }>,
): Promise<Record<string, string>> {
  const name = `connect-probe-${Object.keys(targets).length}-${Date.now().toString(36)}`;
  const lines = Object.entries(targets).map(([key, { host, port }]) => `echo "${key}=[$(probe ${host} ${port})]"`);
  const script = ['probe() { ( exec 3<>"/dev/tcp/$1/$2" && timeout 5 head -c 7 <&3 ) 2>/dev/null; }', ...lines].join(
    '\n',
  );
  await create(cluster.kc, 'Pod', namespace, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'probe', image: cluster.runtime.agent.images.mover, command: ['bash', '-c', script] }],
    },
  });
  await waitForObject(
    `pod ${namespace}/${name} to succeed`,
    () => get<KubernetesObject & { status?: { phase?: string } }>(cluster.kc, 'Pod', namespace, name),
    (pod) => pod.status?.phase === 'Succeeded',
    120_000,
  );
  const files = cluster.runtime.agent.containerLogFiles(namespace, name, 'probe');
  const log = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('');
  const result: Record<string, string> = {};
  for (const key of Object.keys(targets))
    result[key] = new RegExp(`${key}=\\[([^\\]]*)\\]`).exec(log)?.[1] ?? '(no output)';
  return result;
}
