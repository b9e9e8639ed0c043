import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { destinationManifest, largerQuantity, pvcManifest, sourceManifest } from '../../../src/plugin/manifests.js';
import { planOf } from '../../../src/plugin/plan.js';

let dir: string;
let saved: string | undefined;

/** Two contexts on two clusters, as the seed's cross-cluster example merges them. */
const KUBECONFIG = `apiVersion: v1
kind: Config
current-context: sourceuser
clusters:
- name: api-source-com:6443
  cluster: { server: 'https://127.0.0.1:1' }
- name: destination123
  cluster: { server: 'https://127.0.0.1:2' }
users:
- name: u
  user: { token: t }
contexts:
- name: sourceuser
  context: { cluster: 'api-source-com:6443', user: u, namespace: source }
- name: destuser
  context: { cluster: destination123, user: u, namespace: dest }
`;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scribe-plugin-plan-'));
  await writeFile(join(dir, 'kubeconfig'), KUBECONFIG);
  saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = join(dir, 'kubeconfig');
});
afterEach(async () => {
  if (saved === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = saved;
  await rm(dir, { recursive: true, force: true });
});

describe('plan: the two sides', () => {
  it('defaults to the current context, its namespace, and the seed names <ns>-source / <ns>-destination', () => {
    const plan = planOf({});
    expect(plan.source).toMatchObject({ namespace: 'source', name: 'source-source' });
    expect(plan.source.cluster).toMatchObject({ context: 'sourceuser', clusterName: 'api-source-com:6443' });
    expect(plan.dest).toMatchObject({ namespace: 'source', name: 'source-destination' });
  });

  it('uses different contexts (clusters) for source and destination', () => {
    const plan = planOf({
      'source-kube-context': 'sourceuser',
      'source-kube-clustername': 'api-source-com:6443',
      'dest-kube-context': 'destuser',
      'dest-kube-clustername': 'destination123',
    });
    expect(plan.dest.cluster.context).toBe('destuser');
    expect(plan.dest).toMatchObject({ namespace: 'dest', name: 'dest-destination' });
    expect(plan.dest.cluster.kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:2');
    expect(plan.source.cluster.kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:1');
  });

  it('explains an unknown context and a cluster name that does not match', () => {
    expect(() => planOf({ 'dest-kube-context': 'nope' })).toThrow(
      /kube context "nope" not found in the kubeconfig \(contexts: sourceuser, destuser\)/,
    );
    expect(() => planOf({ 'dest-kube-context': 'destuser', 'dest-kube-clustername': 'other' })).toThrow(
      /points at cluster "destination123", not "other"/,
    );
  });

  it('validates before connecting', () => {
    expect(() => planOf({ 'dest-copy-method': 'Clone' })).toThrow(/decision 6/);
  });
});

describe('manifests', () => {
  it('builds the seed example destination: Snapshot, capacity from the source PVC, ClusterIP, root, port 22', () => {
    const plan = planOf({ 'dest-namespace': 'dest', 'source-pvc': 'mysql-pv-claim' });
    const rd = destinationManifest(plan, '1Gi', undefined);
    expect(rd.metadata).toMatchObject({ name: 'dest-destination', namespace: 'dest' });
    expect(rd.spec).toEqual({
      rsync: {
        copyMethod: 'Snapshot',
        capacity: '1Gi',
        accessModes: ['ReadWriteOnce'],
        serviceType: 'ClusterIP',
        port: 22,
        sshUser: 'root',
        path: '/',
      },
    });
  });

  it('builds the source with the destination address, keys, trimmed schedule, and at least the PVC size', () => {
    const plan = planOf({ 'source-copy-method': 'Clone' });
    const rs = sourceManifest(plan, 'data', '5Gi', { address: '10.1.2.3', port: 2222, sshKeys: 'keys' });
    expect(rs.spec).toEqual({
      sourcePVC: 'data',
      trigger: { schedule: '*/3 * * * *' },
      rsync: {
        copyMethod: 'Clone',
        capacity: '5Gi',
        sshUser: 'root',
        path: '/',
        address: '10.1.2.3',
        port: 2222,
        sshKeys: 'keys',
      },
    });
    expect(largerQuantity('2Gi', '1Gi')).toBe('2Gi');
    expect(largerQuantity('2Gi', undefined)).toBe('2Gi');
  });

  it('lets dest-address and source-port override what the destination publishes', () => {
    const plan = planOf({ 'dest-address': 'lb.example.com', 'source-port': '8022' });
    const rs = sourceManifest(plan, 'data', undefined, { address: '10.1.2.3', port: 22, sshKeys: 'k' });
    expect(rs.spec.rsync).toMatchObject({ address: 'lb.example.com', port: 8022, capacity: '2Gi' });
  });

  it('uses an external provider instead of rsync when one is named', () => {
    const plan = planOf({ 'dest-provider': 'example.com/x', 'dest-provider-params': 'a=1,b=2' });
    expect(destinationManifest(plan, '1Gi', undefined).spec).toEqual({
      external: { provider: 'example.com/x', parameters: { a: '1', b: '2' } },
    });
  });

  it('restores a PVC from a snapshot in the destination namespace', () => {
    const plan = planOf({ 'dest-storage-class-name': 'fast' });
    expect(pvcManifest(plan, 'data-20240101120000', '1Gi', 'snap').spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
      storageClassName: 'fast',
      dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' },
    });
  });
});
