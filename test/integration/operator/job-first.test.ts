/**
 * The Job first (issue 24, machines/write-ahead.ts): a cycle started from idle creates its Job
 * before status records the cycle, and the Job's cycle label is the write-ahead record. Against
 * a real API server: the controller makes the Job before it writes the cycle into status, and an
 * operator that stopped right after the Job (before any status write) is followed by one that
 * resumes that same cycle with that same Job.
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ScribeCr } from '../../../machines/api.js';
import { CYCLE_LABEL } from '../../../machines/naming.js';
import { step } from '../../../machines/step.js';
import { Controller } from '../../../src/controller/controller.js';
import { EffectsAdapter } from '../../../src/effects/adapter.js';
import { EventRecorder } from '../../../src/kube/events.js';
import { ResourceInformer } from '../../../src/kube/informer.js';
import { readObject } from '../../../src/kube/objects.js';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES, type KindName } from '../../../src/kube/resources.js';
import { waitFor } from '../../../src/local/processes.js';
import { rootLogger } from '../../../src/log.js';
import { ScribeMetrics } from '../../../src/metrics/registry.js';
import { MOVERS } from '../../../src/movers/index.js';
import { rsyncDestinationName } from '../../../src/movers/rsync/names.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

const kc = testKubeConfig();

async function post<T extends KubernetesObject>(kind: KindName, namespace: string, body: object): Promise<T> {
  return kubeRequest<T>(kc, { method: 'POST', path: collectionPath(RESOURCES[kind], namespace), body });
}

async function jobs(namespace: string): Promise<KubernetesObject[]> {
  const list = await kubeRequest<{ items: KubernetesObject[] }>(kc, {
    method: 'GET',
    path: collectionPath(RESOURCES.Job, namespace),
  });
  return list.items;
}

/**
 * A destination writing into the user's PVC `data` (so its cycle's first object is the Job),
 * created paused: a new CR's first step writes its conditions first, the trigger comes later.
 */
async function destination(namespace: string): Promise<ScribeCr> {
  await post('PersistentVolumeClaim', namespace, {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  });
  return post<ScribeCr>('ReplicationDestination', namespace, {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationDestination',
    metadata: { name: 'db' },
    spec: { paused: true, rsync: { copyMethod: 'None', destinationPVC: 'data' } },
  });
}

/** The CR once status says `state`: idle after the first write (paused), moving once a cycle runs. */
async function inState(namespace: string, state: 'idle' | 'moving'): Promise<ScribeCr> {
  let cr: ScribeCr | undefined;
  await waitFor(`status state ${state}`, async () => {
    cr = await readObject<ScribeCr>(kc, 'ReplicationDestination', namespace, 'db');
    return cr?.status?.state === state;
  });
  return cr as ScribeCr;
}

/** Unpauses with a manual trigger: a sync is due. */
async function trigger(namespace: string): Promise<ScribeCr> {
  return kubeRequest<ScribeCr>(kc, {
    method: 'PATCH',
    path: objectPath(RESOURCES.ReplicationDestination, namespace, 'db'),
    patchType: 'merge',
    body: { spec: { paused: false, trigger: { manual: 'one' } } },
  });
}

function controller(namespace: string): Controller {
  return new Controller({ kc, metrics: new ScribeMetrics({ defaultMetrics: false }), movers: MOVERS, namespace });
}

describe('the Job first (issue 24)', () => {
  it('a triggered cycle makes its Job before status records the cycle, and status then names the Job’s cycle', async () => {
    const namespace = await testNamespace(kc, 'job-first');
    const order = new WriteOrder(namespace);
    await order.start();
    const operator = controller(namespace);
    await operator.start();
    try {
      await destination(namespace);
      await inState(namespace, 'idle');
      await trigger(namespace);
      const cr = await inState(namespace, 'moving');
      const [job, ...more] = await jobs(namespace);
      expect(more).toEqual([]);
      expect(job?.metadata?.name).toBe(rsyncDestinationName('db'));
      expect(job?.metadata?.labels?.[CYCLE_LABEL]).toBe(cr.status?.cycle?.id);
      // The Job was made before the status write that first recorded its cycle.
      const created = order.jobCreated.get(rsyncDestinationName('db'));
      expect(order.firstCycleWrite?.cycleId).toBe(cr.status?.cycle?.id);
      expect(created).toBeLessThan(order.firstCycleWrite?.resourceVersion ?? 0);
    } finally {
      await operator.stop();
      await order.stop();
    }
  });

  it('an operator stopped between the Job and the status write: the next one resumes that cycle with that Job', async () => {
    const namespace = await testNamespace(kc, 'job-first');
    await destination(namespace);
    const first = controller(namespace);
    await first.start();
    await inState(namespace, 'idle').finally(() => first.stop());
    const cr = await trigger(namespace);
    // What the operator does before it would write status (machines/step.ts): the Job only.
    const owned = {
      pvcs: { data: { name: 'data', phase: 'Pending' as const } },
      snapshots: {},
      mover: { phase: 'absent' as const },
    };
    const started = step(cr, { now: Date.now(), owned });
    expect(started.statusDeferred).toBe(true);
    const adapter = new EffectsAdapter({
      kc,
      events: new EventRecorder(kc),
      metrics: new ScribeMetrics({ defaultMetrics: false }),
      movers: MOVERS,
      log: rootLogger,
    });
    await adapter.execute(cr, started.actions, {});
    // ... and stops there: status records nothing, the Job exists.
    expect((await readObject<ScribeCr>(kc, 'ReplicationDestination', namespace, 'db'))?.status?.cycle).toBeUndefined();
    const [made] = await jobs(namespace);
    const cycleId = made?.metadata?.labels?.[CYCLE_LABEL];
    expect(cycleId).toMatch(/^1-/);

    const operator = controller(namespace);
    await operator.start();
    try {
      const resumed = await inState(namespace, 'moving');
      expect(resumed.status?.cycle?.id).toBe(cycleId);
      expect(resumed.status?.journal?.find((entry) => entry.to === 'snapshotting')?.reason).toMatch(/^trigger: /);
      const all = await jobs(namespace);
      expect(all.map((job) => job.metadata?.uid)).toEqual([made?.metadata?.uid]);
    } finally {
      await operator.stop();
    }
  });
});

/**
 * The resourceVersions at which the namespace's Jobs were first seen and the CR's status first
 * named a cycle, as a watch delivers every version (one etcd: its revision orders all writes).
 */
class WriteOrder {
  readonly jobCreated = new Map<string, number>();
  firstCycleWrite: { cycleId: string; resourceVersion: number } | undefined;
  private readonly crs: ResourceInformer<ScribeCr>;
  private readonly jobs: ResourceInformer<KubernetesObject>;

  constructor(namespace: string) {
    this.crs = new ResourceInformer<ScribeCr>(kc, RESOURCES.ReplicationDestination, { namespace });
    this.jobs = new ResourceInformer<KubernetesObject>(kc, RESOURCES.Job, { namespace });
    this.crs.events$.subscribe((event) => {
      if (event.type !== 'added' && event.type !== 'updated') return;
      const object = event.object;
      const cycleId = object.status?.cycle?.id;
      if (cycleId !== undefined && this.firstCycleWrite === undefined)
        this.firstCycleWrite = { cycleId, resourceVersion: Number(object.metadata?.resourceVersion) };
    });
    this.jobs.events$.subscribe((event) => {
      if (event.type !== 'added') return;
      const name = event.object.metadata?.name ?? '';
      if (!this.jobCreated.has(name)) this.jobCreated.set(name, Number(event.object.metadata?.resourceVersion));
    });
  }

  start(): Promise<unknown> {
    return Promise.all([this.crs.start(), this.jobs.start()]);
  }

  stop(): Promise<unknown> {
    return Promise.all([this.crs.stop(), this.jobs.stop()]);
  }
}
