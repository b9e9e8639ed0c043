/**
 * The plugin's protection of restores (issue 18, point 6): remove-replication refuses while a
 * PVC still restores from a snapshot the removal would delete, and set-replication waits until
 * its restored PVC is Bound, except on a WaitForFirstConsumer class, where it says why not.
 * The cluster's answers are handed in as readings; the e2e suite runs both against a real one.
 */
import { describe, expect, it } from 'vitest';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { EXIT_FAILURE, EXIT_TIMEOUT, PluginError } from '../../../src/plugin/errors.js';
import type { Cluster } from '../../../src/plugin/kube.js';
import { buildProgram } from '../../../src/plugin/program.js';
import {
  bindingPlan,
  goesWith,
  pendingRestores,
  refusal,
  restoreSource,
  waitForRestore,
  type PvcObject,
} from '../../../src/plugin/restores.js';

const RD_UID = 'uid-rd';
const RS_UID = 'uid-rs';
const NO_CLUSTER: Cluster = { kc: new KubeConfig(), context: 'none', clusterName: 'none', namespace: 'dest' };

const owner = (uid: string) => ({ apiVersion: 'scribe.backube/v1alpha1', kind: 'X', name: 'x', uid });

function snapshot(name: string, owners: string[], namespace = 'dest'): KubernetesObject {
  return { metadata: { name, namespace, ownerReferences: owners.map(owner) } };
}

function pvc(
  name: string,
  from: string | undefined,
  extra: { phase?: string; owners?: string[]; ref?: 'dataSource' | 'dataSourceRef'; namespace?: string } = {},
): PvcObject {
  const source = from ? { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: from } : undefined;
  return {
    metadata: { name, namespace: 'dest', ownerReferences: (extra.owners ?? []).map(owner) },
    spec: source ? { [extra.ref ?? 'dataSource']: { ...source, namespace: extra.namespace } } : {},
    status: { phase: extra.phase ?? 'Pending' },
  };
}

describe('which restores the removal would break', () => {
  it('reads the snapshot a PVC restores from, in dataSource or dataSourceRef, and nothing else', () => {
    expect(restoreSource(pvc('a', 'snap'))).toEqual({ namespace: 'dest', name: 'snap' });
    expect(restoreSource(pvc('a', 'snap', { ref: 'dataSourceRef' }))).toEqual({ namespace: 'dest', name: 'snap' });
    expect(restoreSource(pvc('a', undefined))).toBeUndefined();
    expect(
      restoreSource({ metadata: { name: 'c' }, spec: { dataSource: { kind: 'PersistentVolumeClaim', name: 'src' } } }),
    ).toBeUndefined();
  });

  it('a snapshot goes with the removed CRs only when every owner is among them', () => {
    const removed = new Set([RD_UID]);
    expect(goesWith(snapshot('s', [RD_UID]), removed)).toBe(true);
    expect(goesWith(snapshot('s', [RD_UID, 'someone-else']), removed)).toBe(false);
    // Released (decision 20: labelled do-not-delete, the ownerReference removed): it stays.
    expect(goesWith(snapshot('s', []), removed)).toBe(false);
  });

  it('names each PVC that is not Bound and restores from a snapshot that goes, and only those', () => {
    const snapshots = [
      snapshot('image', [RD_UID]),
      snapshot('kept', []),
      snapshot('shared', [RD_UID, 'other']),
      snapshot('scribe-src-db', [RS_UID]),
    ];
    const pvcs = [
      pvc('restoring', 'image'),
      pvc('restoring-ref', 'image', { ref: 'dataSourceRef', phase: 'Pending' }),
      pvc('done', 'image', { phase: 'Bound' }),
      pvc('from-kept', 'kept'),
      pvc('from-shared', 'shared'),
      pvc('elsewhere', 'image', { ref: 'dataSourceRef', namespace: 'other-ns' }),
      // The source's point-in-time PVC goes with its CR too: no reason to refuse.
      pvc('scribe-src-db', 'scribe-src-db', { owners: [RS_UID] }),
      pvc('plain', undefined),
      { ...pvc('deleting', 'image'), metadata: { name: 'deleting', namespace: 'dest', deletionTimestamp: new Date() } },
    ];
    expect(pendingRestores(pvcs, snapshots, new Set([RD_UID, RS_UID]))).toEqual([
      { namespace: 'dest', pvc: 'restoring', phase: 'Pending', snapshot: 'image' },
      { namespace: 'dest', pvc: 'restoring-ref', phase: 'Pending', snapshot: 'image' },
    ]);
    expect(pendingRestores(pvcs, snapshots, new Set(['unrelated']))).toEqual([]);
  });

  it('the refusal names the PVC, the snapshot, what is removed and the ways out, with exit code 1', () => {
    const error = refusal(
      [{ namespace: 'dest', pvc: 'mysql-pv-claim-20240101000000', phase: 'Pending', snapshot: 'scribe-dest-x-1' }],
      'ReplicationDestination dest/x',
    );
    expect(error).toBeInstanceOf(PluginError);
    expect(error.exitCode).toBe(EXIT_FAILURE);
    expect(error.message).toMatch(/^refusing to remove the replication: removing ReplicationDestination dest\/x/);
    expect(error.message).toContain(
      'PVC dest/mysql-pv-claim-20240101000000 (Pending) still restores from VolumeSnapshot dest/scribe-dest-x-1',
    );
    expect(error.message).toContain('Nothing was removed.');
    expect(error.message).toContain(
      'kubectl label volumesnapshot -n dest scribe-dest-x-1 scribe.backube/do-not-delete=true',
    );
  });
});

describe('what set-replication waits for', () => {
  const wffc = { metadata: { name: 'late' }, volumeBindingMode: 'WaitForFirstConsumer' };
  const immediate = { metadata: { name: 'now' }, volumeBindingMode: 'Immediate' };

  it('Bound on a class that binds at once (or one it cannot read); nothing on WaitForFirstConsumer until a pod is placed', () => {
    expect(bindingPlan(pvc('p', 's'), immediate)).toBe('wait');
    expect(bindingPlan(pvc('p', 's'), undefined)).toBe('wait');
    expect(bindingPlan(pvc('p', 's'), wffc)).toBe('firstConsumer');
    const placed = pvc('p', 's');
    placed.metadata = { ...placed.metadata, annotations: { 'volume.kubernetes.io/selected-node': 'node-1' } };
    expect(bindingPlan(placed, wffc)).toBe('wait');
    expect(bindingPlan(pvc('p', 's', { phase: 'Bound' }), wffc)).toBe('bound');
  });

  /** Readings of the PVC: each read returns the next phase (the last one repeats). */
  function phases(...list: string[]) {
    let count = 0;
    return async () => {
      const phase = list[Math.min(count++, list.length - 1)] as string;
      return { ...pvc('restored', 'image', { phase }), spec: { storageClassName: 'now' } } as PvcObject;
    };
  }
  const readClass = async (name: string) => (name === 'now' ? immediate : wffc);

  it('waits while Pending, prints the phase as it changes and the PVC’s Events once each, ends at Bound', async () => {
    const lines: string[] = [];
    const ended = await waitForRestore(NO_CLUSTER, 'dest', 'restored', 'image', {
      print: (l) => lines.push(l),
      timeoutMs: 10_000,
      intervalMs: 1,
      readPvc: phases('Pending', 'Pending', 'Pending', 'Bound'),
      readClass,
      readEvents: async () => [
        { metadata: { uid: 'e1' }, type: 'Normal', reason: 'ExternalProvisioning', message: 'waiting for a volume' },
      ],
    });
    expect(ended).toBe('bound');
    expect(lines[0]).toBe('waiting for PVC dest/restored to be bound with the data of VolumeSnapshot image...');
    expect(lines.filter((l) => / is Pending$/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /Normal ExternalProvisioning: waiting for a volume$/.test(l))).toHaveLength(1);
    expect(lines[lines.length - 1]).toMatch(/PVC dest\/restored is Bound$/);
  });

  it('times out with exit code 2, naming the PVC, its phase and the snapshot that must stay', async () => {
    const error = await waitForRestore(NO_CLUSTER, 'dest', 'restored', 'image', {
      print: () => undefined,
      timeoutMs: 50,
      intervalMs: 5,
      readPvc: phases('Pending'),
      readClass,
      readEvents: async () => [],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect((error as PluginError).exitCode).toBe(EXIT_TIMEOUT);
    expect((error as PluginError).message).toMatch(
      /^timed out after 0s waiting for PVC dest\/restored to be bound \(it is Pending\); it restores from VolumeSnapshot dest\/image: until it is, the snapshot must stay: remove-replication refuses/,
    );
  });

  it('a lost or deleted PVC ends the wait with exit code 1', async () => {
    for (const readPvc of [
      phases('Pending', 'Lost'),
      (() => {
        let n = 0;
        return async () => (n++ === 0 ? pvc('restored', 'image') : undefined);
      })(),
    ]) {
      const error = await waitForRestore(NO_CLUSTER, 'dest', 'restored', 'image', {
        print: () => undefined,
        timeoutMs: 10_000,
        intervalMs: 1,
        readPvc,
        readClass,
        readEvents: async () => [],
      }).catch((e: unknown) => e);
      expect((error as PluginError).exitCode).toBe(EXIT_FAILURE);
      expect((error as PluginError).message).toMatch(/PVC dest\/restored (is Lost|was deleted before it was bound)/);
    }
  });

  it('on a WaitForFirstConsumer class it does not wait, and says when the PVC binds and what keeps the snapshot', async () => {
    const lines: string[] = [];
    let reads = 0;
    const ended = await waitForRestore(NO_CLUSTER, 'dest', 'restored', 'image', {
      print: (l) => lines.push(l),
      timeoutMs: 10_000,
      readPvc: async () => {
        reads++;
        return { ...pvc('restored', 'image'), spec: { storageClassName: 'late' } } as PvcObject;
      },
      readClass,
      readEvents: async () => [],
    });
    expect(ended).toBe('firstConsumer');
    expect(reads).toBe(1);
    expect(lines).toEqual([
      'PVC dest/restored stays Pending until a pod uses it: its StorageClass late binds WaitForFirstConsumer, and the data is restored from VolumeSnapshot image when it binds; until it is, the snapshot must stay: remove-replication refuses to remove the replication meanwhile',
    ]);
  });

  it('--bind-timeout 0 does not wait, and says so', async () => {
    const lines: string[] = [];
    const ended = await waitForRestore(NO_CLUSTER, 'dest', 'restored', 'image', {
      print: (l) => lines.push(l),
      timeoutMs: 0,
      readPvc: async () => {
        throw new Error('not read');
      },
    });
    expect(ended).toBe('notWaited');
    expect(lines[0]).toMatch(/^not waiting for PVC dest\/restored to be bound \(--bind-timeout 0\)/);
  });

  it('set-replication --help names --bind-timeout; remove-replication --help says when it refuses', () => {
    const program = buildProgram({ out: () => undefined, write: () => undefined });
    const help = (name: string) => program.commands.find((c) => c.name() === name)?.helpInformation() ?? '';
    expect(help('set-replication')).toContain('--bind-timeout <duration>');
    expect(help('set-replication')).toMatch(/wait until that\s+PVC is Bound/);
    expect(help('remove-replication')).toMatch(/refused\s+while\s+a\s+PVC\s+still\s+restores/);
  });
});
