/**
 * Issue 21: a create answered 409 adopts only an object that carries Scribe's label and an
 * ownerReference to the same CR. A foreign object of Scribe's name (the user's, another CR's) is
 * reported, never changed or deleted, and nothing after it is made (no Job mounting a foreign
 * Secret); the machine turns the report into a Reconciled=False condition naming it. Against a
 * real API server, through the effects adapter and the real movers' builders.
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Action } from '../../../machines/actions.js';
import type { ScribeCr } from '../../../machines/api.js';
import { rcloneSourceName } from '../../../src/movers/rclone/names.js';
import { rsyncDestinationName, rsyncDestinationSourceKeysName } from '../../../src/movers/rsync/names.js';
import { step } from '../../../machines/step.js';
import { Controller } from '../../../src/controller/controller.js';
import { EffectsAdapter } from '../../../src/effects/adapter.js';
import { ownedBy } from '../../../src/effects/objects.js';
import { EventRecorder } from '../../../src/kube/events.js';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES, type KindName } from '../../../src/kube/resources.js';
import { rootLogger } from '../../../src/log.js';
import { ScribeMetrics } from '../../../src/metrics/registry.js';
import { waitFor } from '../../../src/local/processes.js';
import { MOVERS } from '../../../src/movers/index.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

const kc = testKubeConfig();

async function post<T extends KubernetesObject>(kind: KindName, namespace: string, body: object): Promise<T> {
  return kubeRequest<T>(kc, { method: 'POST', path: collectionPath(RESOURCES[kind], namespace), body });
}

async function read(kind: KindName, namespace: string, name: string): Promise<KubernetesObject | undefined> {
  return kubeRequest<KubernetesObject>(kc, { method: 'GET', path: objectPath(RESOURCES[kind], namespace, name) }).catch(
    () => undefined,
  );
}

function adapter(): EffectsAdapter {
  return new EffectsAdapter({
    kc,
    events: new EventRecorder(kc),
    metrics: new ScribeMetrics({ defaultMetrics: false }),
    movers: MOVERS,
    log: rootLogger,
  });
}

const ensureMover = (mover: 'rsync' | 'rclone'): Action => ({
  type: 'ensureMover',
  mover,
  cycleId: '1-20240101000000',
  attempt: 0,
  volume: 'data',
});

function job(name: string, labels: Record<string, string>): object {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels },
    spec: {
      template: {
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['true'] }] },
      },
    },
  };
}

/**
 * The object is the one that was there, with the owners and labels it had, and not being
 * deleted. Not its resourceVersion: Kubernetes' own controllers (the PV binder, the Job
 * controller) may update it meanwhile.
 */
function expectUntouched(after: KubernetesObject | undefined, before: KubernetesObject): void {
  const identity = (o: KubernetesObject | undefined) => ({
    uid: o?.metadata?.uid,
    labels: o?.metadata?.labels,
    ownerReferences: o?.metadata?.ownerReferences,
    deletionTimestamp: o?.metadata?.deletionTimestamp,
  });
  expect(identity(after)).toEqual(identity(before));
}

describe('objects of Scribe’s names that are not the CR’s (issue 21)', () => {
  it('a foreign key Secret: reported, untouched, and neither the Service nor the Job is made', async () => {
    const namespace = await testNamespace(kc, 'foreign');
    const cr = await post<ScribeCr>('ReplicationDestination', namespace, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'db' },
      spec: { rsync: { copyMethod: 'Snapshot', capacity: '1Gi' } },
    });
    const secretName = rsyncDestinationSourceKeysName('db');
    const mine = await post('Secret', namespace, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretName },
      stringData: { note: 'the user’s' },
    });

    const result = await adapter().execute(cr, [ensureMover('rsync')], {});
    expect(result).toMatchObject({ outcome: 'done', foreign: [{ kind: 'Secret', name: secretName }] });
    const after = await read('Secret', namespace, secretName);
    expect(after?.metadata?.resourceVersion).toBe(mine.metadata?.resourceVersion);
    expect(after?.metadata?.ownerReferences).toBeUndefined();
    expect(await read('Service', namespace, rsyncDestinationName('db'))).toBeUndefined();
    expect(await read('Job', namespace, rsyncDestinationName('db'))).toBeUndefined();

    // The machine makes it a condition naming the object; it asks to make or delete nothing.
    const report = result.outcome === 'done' ? result.foreign : undefined;
    const stepped = step(cr, {
      now: Date.now(),
      owned: { pvcs: {}, snapshots: {}, mover: { phase: 'absent' }, foreign: report },
    });
    const reconciled = stepped.nextPersisted.conditions?.find((c) => c.type === 'Reconciled');
    expect(reconciled).toMatchObject({ status: 'False' });
    expect(reconciled?.message).toContain(`Secret "${secretName}" exists and is not this ReplicationDestination's`);
    expect(stepped.actions.filter((a) => /^(ensure|delete|cleanup|release)/.test(a.type))).toEqual([]);
  });

  it('a PVC labelled as Scribe’s but owned by another CR is foreign; one owned by this CR is adopted', async () => {
    const namespace = await testNamespace(kc, 'foreign');
    const body = (name: string) => ({
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name },
      spec: { rsync: { copyMethod: 'Snapshot', capacity: '1Gi' } },
    });
    const cr = await post<ScribeCr>('ReplicationDestination', namespace, body('db'));
    const other = await post<ScribeCr>('ReplicationDestination', namespace, body('other'));
    const pvc = (name: string) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, labels: { 'app.kubernetes.io/created-by': 'scribe' } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    const owner = (of: ScribeCr) => ({
      apiVersion: of.apiVersion,
      kind: of.kind,
      metadata: { name: of.metadata.name ?? '', namespace, uid: of.metadata.uid ?? '' },
    });
    const theirs = await post('PersistentVolumeClaim', namespace, ownedBy(owner(other), pvc('scribe-dest-db')));
    await post('PersistentVolumeClaim', namespace, ownedBy(owner(cr), pvc('scribe-dest-db-2')));
    const ensure = (name: string): Action => ({
      type: 'ensurePvc',
      name,
      labels: {},
      temporary: false,
      spec: { capacity: '1Gi' },
    });

    const foreign = await adapter().execute(cr, [ensure('scribe-dest-db')], {});
    expect(foreign).toMatchObject({ foreign: [{ kind: 'PersistentVolumeClaim', name: 'scribe-dest-db' }] });
    expect(foreign.outcome === 'done' && foreign.foreign?.[0]?.why).toContain('ReplicationDestination other');
    const after = await read('PersistentVolumeClaim', namespace, 'scribe-dest-db');
    expectUntouched(after, theirs);

    const adopted = await adapter().execute(cr, [ensure('scribe-dest-db-2')], {});
    expect(adopted).toEqual({ outcome: 'done', status: cr });
  });

  it('a key Secret it made is not asked for again in the next cycle; a retry makes it again if it is gone', async () => {
    const namespace = await testNamespace(kc, 'ensured');
    const cr = await post<ScribeCr>('ReplicationDestination', namespace, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'db' },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
    });
    const secretName = rsyncDestinationSourceKeysName('db');
    const effects = adapter();
    const cycle = (cycleId: string, attempt: number): Action => ({
      type: 'ensureMover',
      mover: 'rsync',
      cycleId,
      attempt,
      volume: 'data',
    });
    expect(await effects.execute(cr, [cycle('1-20240101000000', 0)], {})).toMatchObject({ outcome: 'done' });
    const made = await read('Secret', namespace, secretName);
    expect(made?.metadata?.ownerReferences?.[0]?.uid).toBe(cr.metadata.uid);

    // Deleted behind its back: the next cycle's first attempt trusts what it made (no request)…
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.Secret, namespace, secretName) });
    await waitFor('the Secret gone', async () => (await read('Secret', namespace, secretName)) === undefined);
    expect(await effects.execute(cr, [cycle('2-20240101000100', 0)], {})).toMatchObject({ outcome: 'done' });
    expect(await read('Secret', namespace, secretName)).toBeUndefined();
    // …and its retry asks again, so the keys are made anew.
    expect(await effects.execute(cr, [cycle('2-20240101000100', 1)], {})).toMatchObject({ outcome: 'done' });
    const remade = await read('Secret', namespace, secretName);
    expect(remade?.metadata?.uid).toBeDefined();
    expect(remade?.metadata?.uid).not.toBe(made?.metadata?.uid);
  });

  it('a foreign Job of the mover’s name is neither replaced nor deleted', async () => {
    const namespace = await testNamespace(kc, 'foreign');
    const cr = await post<ScribeCr>('ReplicationSource', namespace, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'db' },
      spec: {
        sourcePVC: 'data',
        rclone: {
          copyMethod: 'None',
          rcloneConfigSection: 's3',
          rcloneDestPath: 'bucket/db',
          rcloneConfig: 'rclone-secret',
        },
      },
    });
    const name = rcloneSourceName('db');
    // Scribe's label, no ownerReference: a leftover of a deleted CR of the same name, say.
    const theirs = await post('Job', namespace, job(name, { 'app.kubernetes.io/created-by': 'scribe' }));
    const result = await adapter().execute(cr, [ensureMover('rclone')], {});
    expect(result).toMatchObject({ foreign: [{ kind: 'Job', name, why: 'it has not an ownerReference to this CR' }] });
    const after = await read('Job', namespace, name);
    expect(after?.metadata?.uid).toBe(theirs.metadata?.uid);
    expectUntouched(after, theirs);
  });

  it('through the controller: Reconciled=False names the Secret, nothing is made, and removing it lets the CR go on', async () => {
    const namespace = await testNamespace(kc, 'foreign');
    const secretName = rsyncDestinationSourceKeysName('db');
    const theirs = await post('Secret', namespace, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretName },
      stringData: { note: 'the user’s' },
    });
    const controller = new Controller({
      kc,
      metrics: new ScribeMetrics({ defaultMetrics: false }),
      movers: MOVERS,
      namespace,
      foreignRecheckMs: 500,
    });
    await controller.start();
    try {
      await post('ReplicationDestination', namespace, {
        apiVersion: 'scribe.backube/v1alpha1',
        kind: 'ReplicationDestination',
        metadata: { name: 'db' },
        spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
      });
      const reconciled = async () =>
        ((await read('ReplicationDestination', namespace, 'db')) as ScribeCr | undefined)?.status?.conditions?.find(
          (c) => c.type === 'Reconciled',
        );
      await waitFor('Reconciled=False naming the Secret', async () =>
        Boolean((await reconciled())?.message?.includes(`Secret "${secretName}" exists and is not this`)),
      );
      expect((await read('Secret', namespace, secretName))?.metadata?.resourceVersion).toBe(
        theirs.metadata?.resourceVersion,
      );
      expect(await read('Job', namespace, rsyncDestinationName('db'))).toBeUndefined();

      // The user removes it: the CR makes its own Secret and its Job.
      await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.Secret, namespace, secretName) });
      await waitFor(
        'the Job made',
        async () => (await read('Job', namespace, rsyncDestinationName('db'))) !== undefined,
      );
      const made = await read('Secret', namespace, secretName);
      expect(made?.metadata?.labels?.['app.kubernetes.io/created-by']).toBe('scribe');
      expect((await reconciled())?.message ?? '').not.toContain('exists and is not this');
    } finally {
      await controller.stop();
    }
  });
});
