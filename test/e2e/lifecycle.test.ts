/**
 * The seed's remaining promises on the local runtime: a schedule of every minute runs twice
 * with nextSyncTime on the minute; a failing mover shows in status and Events and leaves the
 * destination's previous image intact; deleting the CRs garbage-collects what Scribe made and
 * nothing the user made.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../src/kube/resources.js';
import { waitFor } from '../../src/local/processes.js';
import {
  create,
  createPvc,
  e2eKubeConfig,
  e2eNamespace,
  get,
  patch,
  pvcDirectory,
  waitForObject,
} from '../support/e2e.js';
import { copySecret, listeningAddress } from '../../src/local/objects.js';

const API = 'scribe.backube/v1alpha1';

async function listenSetup(prefix: string) {
  const kc = e2eKubeConfig();
  const sourceNs = await e2eNamespace(kc, `${prefix}s`);
  const destNs = await e2eNamespace(kc, `${prefix}d`);
  await createPvc(kc, sourceNs, 'data');
  await writeFile(join(await pvcDirectory(kc, sourceNs, 'data'), 'file'), 'payload\n');
  await create(kc, 'ReplicationDestination', destNs, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: 'dest' },
    spec: { rsync: { copyMethod: 'Snapshot', capacity: '1Gi' } },
  });
  const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', destNs, 'dest');
  const { address, keys } = await listeningAddress(kc, destNs, 'dest');
  await copySecret(kc, keys, destNs, sourceNs);
  return { kc, sourceNs, destNs, readDest, address, keys };
}

describe('lifecycle on the local runtime', () => {
  it('a schedule of every minute runs twice and sets nextSyncTime to the next minute', async () => {
    const { kc, sourceNs, address, keys } = await listenSetup('sch');
    await create(kc, 'ReplicationSource', sourceNs, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'minutely' },
      spec: {
        sourcePVC: 'data',
        trigger: { schedule: '* * * * *' },
        rsync: { copyMethod: 'Clone', address, sshKeys: keys },
      },
    });
    const read = () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'minutely');
    const first = await waitForObject(
      'the first (immediate) sync',
      read,
      (rs) => Boolean(rs.status?.lastSyncTime) && rs.status?.state === 'idle',
    );
    const next = Date.parse(first.status?.nextSyncTime ?? '');
    const last = Date.parse(first.status?.lastSyncTime ?? '');
    // Decision 14: the first cron time after the last completion, on the minute.
    expect(next % 60_000).toBe(0);
    expect(next).toBeGreaterThan(last);
    expect(next - last).toBeLessThanOrEqual(60_000);
    const second = await waitForObject(
      'the scheduled sync',
      read,
      (rs) => rs.status?.lastSyncTime !== first.status?.lastSyncTime && rs.status?.state === 'idle',
      150_000,
    );
    expect(Date.parse(second.status?.lastSyncStartTime ?? '')).toBeGreaterThanOrEqual(next);
    expect(Date.parse(second.status?.nextSyncTime ?? '')).toBeGreaterThan(
      Date.parse(second.status?.lastSyncTime ?? ''),
    );
    expect(second.status?.conditions?.find((c) => c.type === 'Synchronizing')?.reason).toBe('WaitingForSchedule');
  });

  it('a failing mover shows in status and Events, and the destination keeps its previous image', async () => {
    const { kc, sourceNs, destNs, readDest, address, keys } = await listenSetup('fail');
    await create(kc, 'ReplicationSource', sourceNs, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'src' },
      spec: { sourcePVC: 'data', trigger: { manual: 'one' }, rsync: { copyMethod: 'Clone', address, sshKeys: keys } },
    });
    await waitForObject(
      'first sync',
      () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'src'),
      (rs) => rs.status?.lastManualSync === 'one',
    );
    const image = (await waitForObject('image', readDest, (d) => Boolean(d.status?.latestImage?.name))).status
      ?.latestImage?.name;

    // Keys of another destination: the destination refuses them (not retried, unlike a
    // destination that is not up yet), so the attempt fails at once.
    await create(kc, 'ReplicationDestination', destNs, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'other' },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
    });
    const other = await waitForObject(
      'other keys',
      () => get<ReplicationDestination>(kc, 'ReplicationDestination', destNs, 'other'),
      (d) => Boolean(d.status?.rsync?.sshKeys),
    );
    const wrong = await get<KubernetesObject & { data?: Record<string, string> }>(
      kc,
      'Secret',
      destNs,
      other.status?.rsync?.sshKeys ?? '',
    );
    await create(kc, 'Secret', sourceNs, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'wrong-keys' },
      data: wrong?.data,
    });
    await patch(kc, 'ReplicationSource', sourceNs, 'src', {
      spec: { trigger: { manual: 'two' }, rsync: { sshKeys: 'wrong-keys' } },
    });
    const failed = await waitForObject(
      'the failure in status',
      () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'src'),
      (rs) => rs.status?.latestMoverStatus?.result === 'Failed',
      200_000,
    );
    const reconciled = failed.status?.conditions?.find((c) => c.type === 'Reconciled');
    expect(reconciled?.status).toBe('False');
    expect(reconciled?.message).toMatch(/transfer failed/);
    expect(failed.status?.latestMoverStatus?.logs).toMatch(/Permission denied|refused|host key/i);
    // The Event is posted after the status write that says Failed: wait for it, do not race it.
    await waitFor('a TransferFailed Warning on the source', async () => {
      const events = await kubeRequest<{ items: Array<{ type: string; reason: string; regarding: { name: string } }> }>(
        kc,
        { method: 'GET', path: collectionPath(RESOURCES.Event, sourceNs) },
      );
      return events.items.some(
        (e) => e.type === 'Warning' && e.reason === 'TransferFailed' && e.regarding.name === 'src',
      );
    });
    expect((await readDest())?.status?.latestImage?.name).toBe(image);
    expect(await get(kc, 'VolumeSnapshot', destNs, image ?? '')).toBeDefined();
  });

  it('deleting the CRs garbage-collects what Scribe made and nothing the user made', async () => {
    const { kc, sourceNs, destNs, address, keys } = await listenSetup('gc');
    await create(kc, 'ReplicationSource', sourceNs, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'src' },
      spec: { sourcePVC: 'data', trigger: { manual: 'one' }, rsync: { copyMethod: 'Clone', address, sshKeys: keys } },
    });
    await waitForObject(
      'sync',
      () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'src'),
      (rs) => rs.status?.lastManualSync === 'one',
    );
    for (const [kind, ns, name] of [
      ['ReplicationSource', sourceNs, 'src'],
      ['ReplicationDestination', destNs, 'dest'],
    ] as const) {
      await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES[kind], ns, name) });
    }
    const scribeObjects = async (ns: string) => {
      let count = 0;
      for (const kind of ['Job', 'PersistentVolumeClaim', 'VolumeSnapshot', 'Service', 'Secret'] as const) {
        const list = await kubeRequest<{ items: unknown[] }>(kc, {
          method: 'GET',
          path: collectionPath(RESOURCES[kind], ns),
          query: { labelSelector: 'app.kubernetes.io/created-by=scribe' },
        });
        count += list.items.length;
      }
      return count;
    };
    await waitFor(
      'Scribe objects collected',
      async () => (await scribeObjects(sourceNs)) + (await scribeObjects(destNs)) === 0,
      {
        timeoutMs: 120_000,
        intervalMs: 500,
      },
    );
    // The user's PVC and the Secret the user copied stay.
    expect(await get(kc, 'PersistentVolumeClaim', sourceNs, 'data')).toBeDefined();
    expect(await get(kc, 'Secret', sourceNs, keys)).toBeDefined();
  });
});
