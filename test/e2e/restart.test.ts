/**
 * The operator process is SIGKILLed while a sync is in a given state and a new one is started
 * against the same API server: the cycle completes, no Job or point-in-time copy is made twice,
 * and nothing temporary is left behind. This file runs its own local system, because it kills
 * the operator that other e2e files rely on.
 *
 * Each row checks that it caught the state it aimed at: a watch on the CRs sends SIGKILL the
 * moment the target state is written, and the state read back from the API server after the
 * process is gone (what the new operator starts from) must be that state. The data-bound states
 * (snapshotting, moving, preserving) last as long as the copy does, so a row whose kill lands
 * after the operator moved on lets that cycle finish and tries again with a new manual value, a
 * few times at most. `complete` is held by a finalizer of the test's on the point-in-time PVC
 * (the machine leaves complete only once its temporary objects are gone); `failed` by keys the
 * destination refuses (the machine waits out its retry backoff there).
 */
import { readFile, stat } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { ResourceInformer } from '../../src/kube/informer.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { objectPath, RESOURCES } from '../../src/kube/resources.js';
import { create, get, listeningAddress, patch, waitForObject } from '../../src/local/objects.js';
import { waitFor } from '../../src/local/processes.js';
import { CreatedObjects } from '../support/recorder.js';
import { listeningRsyncDestination, localSystemOfThisFile, sampleVolume } from '../support/local-system.js';

// The operator as a process of its own: these tests kill it the moment a state is written,
// and a kill through the node (operator-pod.test.ts covers that path) lands too late to catch
// short states such as a Clone's snapshotting.
const system = localSystemOfThisFile({ operatorMode: 'process' }, { names: ['src', 'dst'] });

const API = 'scribe.backube/v1alpha1';
/** How often a row whose kill landed too late tries again before it fails. */
const MAX_ATTEMPTS = 3;
/** The test's finalizer that keeps the point-in-time PVC, and so the source in complete. */
const HOLD = 'scribe.test/hold-cleanup';
/** Which states were really caught at the kill, for the report. */
const caught: string[] = [];

type Side = 'src' | 'dst';
type Cr = ReplicationSource | ReplicationDestination;
type Pvc = KubernetesObject & { metadata?: { finalizers?: string[]; deletionTimestamp?: string } };

const condition = (cr: Cr | undefined, type: string) => cr?.status?.conditions?.find((c) => c.type === type);

/**
 * The states the row's two CRs are written in, as the API server's watch delivers them, and a
 * way to act on one the moment it is seen (no await between seeing and acting).
 */
class StateWatch {
  /** "side:state" each time a CR's persisted state changed. */
  readonly path: string[] = [];
  private readonly last = new Map<Side, string>();
  private readonly informers: Array<[Side, ResourceInformer<Cr>]>;
  private waiter:
    { test: (side: Side, cr: Cr) => boolean; act: (side: Side, cr: Cr) => void; done: () => void } | undefined;

  /** The source namespace's PVCs: the point-in-time PVC that starts a Clone cycle (the Job first). */
  private readonly pvcs: ResourceInformer<Pvc>;
  private pvcWaiter: { name: string; act: (pvc: Pvc) => void } | undefined;

  constructor(
    kc: KubeConfig,
    private readonly name: string,
  ) {
    this.pvcs = new ResourceInformer<Pvc>(kc, RESOURCES.PersistentVolumeClaim, { namespace: 'src' });
    this.pvcs.events$.subscribe((event) => {
      const waiter = this.pvcWaiter;
      if (event.type !== 'added' || !waiter || event.object.metadata?.name !== waiter.name) return;
      this.pvcWaiter = undefined;
      waiter.act(event.object);
    });
    this.informers = [
      ['src', new ResourceInformer<Cr>(kc, RESOURCES.ReplicationSource, { namespace: 'src' })],
      ['dst', new ResourceInformer<Cr>(kc, RESOURCES.ReplicationDestination, { namespace: 'dst' })],
    ];
    for (const [side, informer] of this.informers) {
      informer.events$.subscribe((event) => {
        if (event.type !== 'added' && event.type !== 'updated') return;
        if (event.object.metadata?.name !== this.name) return;
        const state = event.object.status?.state;
        if (state && this.last.get(side) !== state) {
          this.last.set(side, state);
          this.path.push(`${side}:${state}`);
        }
        this.check(side, event.object);
      });
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.informers.map(([, informer]) => informer.start()), this.pvcs.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.map(([, informer]) => informer.stop()), this.pvcs.stop()]);
  }

  /** The source CR as this watch last saw it. */
  source(): Cr | undefined {
    return this.informers.find(([side]) => side === 'src')?.[1].get(this.name, 'src');
  }

  /** Calls `act` synchronously when PVC `name` is created in the source namespace; resolves after. */
  untilPvc(name: string, act: (pvc: Pvc) => void, timeoutMs = 180_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pvcWaiter = undefined;
        reject(new Error(`PVC ${name}: not created within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pvcWaiter = {
        name,
        act: (pvc) => {
          clearTimeout(timer);
          act(pvc);
          resolve();
        },
      };
    });
  }

  /** Calls `act` synchronously on the first version of a CR for which `test` holds; resolves after. */
  until(what: string, test: (side: Side, cr: Cr) => boolean, act: (side: Side, cr: Cr) => void, timeoutMs = 180_000) {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${what}: not seen within ${timeoutMs} ms; states written: ${this.path.join(' ')}`));
      }, timeoutMs);
      this.waiter = {
        test,
        act,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      for (const [side, informer] of this.informers) {
        const cr = informer.get(this.name, side);
        if (cr) this.check(side, cr);
      }
    });
  }

  private check(side: Side, cr: Cr): void {
    const waiter = this.waiter;
    if (!waiter || !waiter.test(side, cr)) return;
    this.waiter = undefined;
    waiter.act(side, cr);
    waiter.done();
  }
}

/** The key Secret of another destination, copied into the source namespace: keys the row's destination refuses. */
async function wrongKeys(kc: KubeConfig, id: string): Promise<string> {
  const other = `other-${id}`;
  await create(kc, 'ReplicationDestination', 'dst', {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: other },
    spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
  });
  const { keys } = await listeningAddress(kc, 'dst', other, 'keys of another destination');
  const secret = await get<KubernetesObject & { data?: Record<string, string> }>(kc, 'Secret', 'dst', keys);
  const name = `wrong-${id}`;
  await create(kc, 'Secret', 'src', { apiVersion: 'v1', kind: 'Secret', metadata: { name }, data: secret?.data });
  // Its listener is not needed any more; its Secrets go with it, the copy stays.
  await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.ReplicationDestination, 'dst', other) });
  return name;
}

/** Puts the test's finalizer on a PVC as soon as it exists (before the operator deletes it). */
async function holdPvc(kc: KubeConfig, name: string): Promise<void> {
  const path = objectPath(RESOURCES.PersistentVolumeClaim, 'src', name);
  await waitFor(
    `finalizer on PVC ${name}`,
    async () => {
      const pvc = await get<Pvc>(kc, 'PersistentVolumeClaim', 'src', name);
      if (!pvc) return false;
      if (pvc.metadata?.finalizers?.includes(HOLD)) return true;
      if (pvc.metadata?.deletionTimestamp) throw new Error(`PVC ${name} was deleted before the test could hold it`);
      const body = pvc.metadata?.finalizers?.length
        ? [{ op: 'add', path: '/metadata/finalizers/-', value: HOLD }]
        : [{ op: 'add', path: '/metadata/finalizers', value: [HOLD] }];
      await kubeRequest(kc, { method: 'PATCH', path, patchType: 'json', body });
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 20 },
  );
}

/** Removes the test's finalizer from a PVC, if it is there. */
async function releasePvc(kc: KubeConfig, name: string): Promise<void> {
  const path = objectPath(RESOURCES.PersistentVolumeClaim, 'src', name);
  await waitFor(
    `finalizer off PVC ${name}`,
    async () => {
      const index = (await get<Pvc>(kc, 'PersistentVolumeClaim', 'src', name))?.metadata?.finalizers?.indexOf(HOLD);
      if (index === undefined || index < 0) return true;
      await kubeRequest(kc, {
        method: 'PATCH',
        path,
        patchType: 'json',
        body: [
          { op: 'test', path: `/metadata/finalizers/${index}`, value: HOLD },
          { op: 'remove', path: `/metadata/finalizers/${index}` },
        ],
      });
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

/** Waits for the "operator started" line an operator logs once its caches are synced, after `offset`. */
async function operatorStarted(offset: number): Promise<void> {
  await waitFor(
    'the new operator started',
    async () =>
      (await readFile(system.runtime.operatorLog)).subarray(offset).toString('utf8').includes('"operator started"'),
    { timeoutMs: 120_000, intervalMs: 200 },
  );
}

const labelOf = (o: KubernetesObject, label: string) => o.metadata?.labels?.[`scribe.backube/${label}`];
/** Runs of each row so far: a retried row (the e2e project retries once) uses fresh names. */
const runs = new Map<string, number>();

describe('operator restarts', () => {
  // `started`: between a cycle's first object and the status write that records it (the Job
  // first, machines/write-ahead.ts); for Clone that object is the point-in-time PVC, and the step
  // that records it finds the PVC there and goes on to moving, so Clone never rests in snapshotting.
  it.each([
    ['Clone', 'started'],
    ['Clone', 'moving'],
    ['Snapshot', 'snapshotting'],
    ['Snapshot', 'moving'],
    ['Snapshot', 'destination preserving'],
    ['Clone', 'complete'],
    ['Snapshot', 'complete'],
    ['Snapshot', 'failed'],
  ] as const)('copyMethod %s, killed while %s', async (copyMethod, target) => {
    const kc = system.runtime.kc;
    const row = `${copyMethod}-${target.replace(/ /g, '-')}`.toLowerCase();
    const run = (runs.get(row) ?? 0) + 1;
    runs.set(row, run);
    const id = run === 1 ? row : `${row}-r${run}`;
    const pit = `scribe-src-${id}`;
    await sampleVolume(kc, 'src', `data-${id}`, { files: 200, content: (i) => `${i}\n`.repeat(2000) });

    const { rd, keys } = await listeningRsyncDestination(kc, id, { copyMethod: 'Snapshot', capacity: '1Gi' });
    const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', 'dst', id);
    const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', 'src', id);
    // failed: keys of another destination, which this one refuses; fixed after the restart.
    const sshKeys = target === 'failed' ? await wrongKeys(kc, id) : keys;

    const [side, state] =
      target === 'destination preserving' ? (['dst', 'preserving'] as const) : (['src', target] as const);
    /** started: the cycle label of the point-in-time PVC the kill came after. */
    let startedCycle: string | undefined;
    const isTarget = (s: Side, cr: Cr) =>
      s === side &&
      cr.status?.state === state &&
      // complete: the completion is recorded and the cleanup under way.
      (state !== 'complete' || condition(cr, 'Synchronizing')?.reason === 'CleaningUp');

    const recorder = new CreatedObjects(kc, ['src', 'dst']);
    await recorder.start();
    const watch = new StateWatch(kc, id);
    await watch.start();
    let operatorDown = false;
    try {
      await create(kc, 'ReplicationSource', 'src', {
        apiVersion: API,
        kind: 'ReplicationSource',
        metadata: { name: id },
        spec: {
          sourcePVC: `data-${id}`,
          trigger: { manual: 'first' },
          rsync: { copyMethod, address: rd.status?.rsync?.address, sshKeys },
        },
      });
      const holding = target === 'complete' ? holdPvc(kc, pit) : undefined;
      holding?.catch(() => undefined); // awaited (and so reported) below

      // Kill the moment the target state is written; a cycle that ends first (the state was
      // never written) counts as a miss too.
      let token = 'first';
      let attempts = 0;
      let atKill: Cr | undefined;
      for (;;) {
        attempts += 1;
        let killing: Promise<void> | undefined;
        if (state === 'started') {
          await watch.untilPvc(pit, (pvc) => {
            startedCycle = labelOf(pvc, 'cycle');
            killing = system.runtime.stopOperator({ kill: true });
          });
        } else {
          await watch.until(
            `${side} state ${state}`,
            (s, cr) =>
              isTarget(s, cr) || (s === 'src' && cr.status?.lastManualSync === token && cr.status.state === 'idle'),
            (s, cr) => {
              if (isTarget(s, cr)) killing = system.runtime.stopOperator({ kill: true });
            },
          );
        }
        if (killing) {
          await killing;
          operatorDown = true;
        }
        // What the API server holds now is what the new operator starts from.
        atKill = side === 'src' ? await readSource() : await readDest();
        const other = side === 'src' ? await readDest() : await readSource();
        caught.push(
          `${id} attempt ${attempts}: ${side} ${atKill?.status?.state} (other side ${other?.status?.state}; written: ${watch.path.join(' ')}${startedCycle ? `; PVC of cycle ${startedCycle}` : ''})`,
        );
        // started: caught when status does not record the PVC's cycle yet.
        if (killing && state === 'started' && atKill?.status?.cycle?.id !== startedCycle) break;
        if (killing && atKill?.status?.state === state) break;
        console.warn(`[restart] ${id}: missed ${state} (attempt ${attempts}): ${caught.at(-1)}`);
        if (attempts >= MAX_ATTEMPTS) break;
        if (operatorDown) {
          await system.runtime.startOperator();
          operatorDown = false;
        }
        await waitForObject(
          `${token} done`,
          readSource,
          (rs) => rs.status?.lastManualSync === token && rs.status.state === 'idle',
        );
        token = `first-${attempts + 1}`;
        watch.path.length = 0;
        await patch(kc, 'ReplicationSource', 'src', id, { spec: { trigger: { manual: token } } });
      }
      if (state === 'started') {
        expect(startedCycle, 'the point-in-time PVC carries its cycle').toBeTruthy();
        expect(atKill?.status?.cycle?.id, 'status does not record the started cycle yet').not.toBe(startedCycle);
      } else {
        expect(atKill?.status?.state, `the ${side} state at the kill (see the log for what was written)`).toBe(state);
        expect(atKill?.status?.cycle?.id, 'a cycle in flight').toBeTruthy();
      }
      if (state === 'complete') {
        await holding;
        expect(condition(atKill, 'Synchronizing')).toMatchObject({ status: 'True', reason: 'CleaningUp' });
        expect(atKill?.status?.lastManualSync, 'completion recorded before the cleanup').toBe(token);
        // The kill may land before or after the operator asked for the PVC's deletion; either way
        // it is still there, held by the test.
        const held = await get<Pvc>(kc, 'PersistentVolumeClaim', 'src', pit);
        expect(held?.metadata?.finalizers).toContain(HOLD);
      }
      if (state === 'failed') {
        expect(atKill?.status?.latestMoverStatus?.result).toBe('Failed');
        expect(condition(atKill, 'Reconciled')).toMatchObject({ status: 'False', reason: 'ReconcileError' });
      }

      const logOffset = (await stat(system.runtime.operatorLog)).size;
      await system.runtime.startOperator();
      operatorDown = false;
      let releasedAt = 0;
      if (state === 'complete') {
        // The new operator must not leave complete while a temporary object remains.
        await operatorStarted(logOffset);
        // (A controller that steps CRs before its PVC cache is synced sees no PVC here and goes
        // idle, leaving the PVC behind when the killed operator had not asked for its deletion:
        // the wait for the new operator's delete below, and the journal's complete → idle time
        // checked after the release, catch that without waiting a fixed time.)
        const still = await readSource();
        const pvcNow = await get<Pvc>(kc, 'PersistentVolumeClaim', 'src', pit);
        expect(
          {
            state: still?.status?.state,
            pvcExists: Boolean(pvcNow),
            pvcDeleting: Boolean(pvcNow?.metadata?.deletionTimestamp),
          },
          'still cleaning up after the restart, while the point-in-time PVC exists',
        ).toEqual({ state: 'complete', pvcExists: true, pvcDeleting: expect.any(Boolean) });
        const deleting = await waitForObject(
          'the new operator deletes the point-in-time PVC',
          () => get<Pvc>(kc, 'PersistentVolumeClaim', 'src', pit),
          (pvc) => Boolean(pvc.metadata?.deletionTimestamp),
          60_000,
        );
        expect(deleting.metadata?.finalizers).toContain(HOLD);
        expect((await readSource())?.status?.state, 'still cleaning up while the PVC is held').toBe('complete');
        releasedAt = Date.now();
        await releasePvc(kc, pit);
      }
      if (state === 'failed') {
        // Fix the cause: the keys this destination accepts.
        await patch(kc, 'ReplicationSource', 'src', id, { spec: { rsync: { sshKeys: keys } } });
      }

      const synced = await waitForObject(
        'sync after restart',
        readSource,
        (rs) => rs.status?.lastManualSync === token && rs.status.state === 'idle',
        240_000,
      );
      expect(synced.status?.latestMoverStatus?.result).toBe('Successful');
      if (state === 'complete') {
        const closed = synced.status?.journal?.findLast((entry) => entry.from === 'complete' && entry.to === 'idle');
        expect(
          Date.parse(closed?.time ?? ''),
          'complete → idle only once the test released the PVC',
        ).toBeGreaterThanOrEqual(releasedAt);
      }
      const image = await waitForObject('image', readDest, (d) => Boolean(d.status?.latestImage?.name));
      // The next manual value proves the CR is not stuck, and gives a second, clean cycle.
      await patch(kc, 'ReplicationSource', 'src', id, { spec: { trigger: { manual: 'second' } } });
      await waitForObject('second sync', readSource, (rs) => rs.status?.lastManualSync === 'second');

      // One cycle per manual value: a restart starts no extra cycle. The fix of a failed cycle
      // is a change of its spec, whose retry takes a new point-in-time copy as a new cycle
      // (docs/triggers.md): one more.
      const sourceJobs = recorder.ofKind('Job').filter((o) => o.metadata?.name === `scribe-rsync-src-${id}`);
      const cycles = new Set(sourceJobs.map((job) => labelOf(job, 'cycle')));
      expect(cycles.size, 'source cycles').toBe(attempts + 1 + (state === 'failed' ? 1 : 0));
      // started: the new operator went on with the cycle the PVC was made for.
      if (state === 'started') expect([...cycles], 'the started cycle resumed').toContain(startedCycle);
      const jobAttempts = new Set(sourceJobs.map((job) => `${labelOf(job, 'cycle')}/${labelOf(job, 'attempt')}`));
      expect(sourceJobs.length, 'one source Job per cycle and attempt').toBe(jobAttempts.size);
      // The retry carries the failed attempts' count into the new cycle's Job.
      if (state === 'failed')
        expect(
          sourceJobs.some((job) => Number(labelOf(job, 'attempt')) >= 1),
          'the failed cycle was retried',
        ).toBe(true);
      else expect(sourceJobs.length, 'one source Job per cycle').toBe(cycles.size);
      const destJobs = recorder
        .ofKind('Job')
        .filter((o) => o.metadata?.namespace === 'dst' && o.metadata?.name === `scribe-rsync-dest-${id}`);
      const destAttempts = new Set(destJobs.map((job) => `${labelOf(job, 'cycle')}/${labelOf(job, 'attempt')}`));
      expect(destJobs.length, 'one destination Job per cycle and attempt').toBe(destAttempts.size);
      const pits = [...recorder.seen.values()].filter(
        (o) => o.metadata?.namespace === 'src' && o.metadata?.name === pit,
      );
      const pitCycles = new Set(pits.map((o) => `${o.kind}/${labelOf(o, 'cycle')}`));
      expect(pits.length, 'one point-in-time copy per kind and cycle').toBe(pitCycles.size);
      expect(image.status?.latestImage?.name).toMatch(new RegExp(`^scribe-dest-${id}-`));
      await waitFor(
        'no temporary objects left',
        () =>
          !recorder.exists('Job', 'src', `scribe-rsync-src-${id}`) &&
          !recorder.exists('PersistentVolumeClaim', 'src', pit) &&
          !recorder.exists('VolumeSnapshot', 'src', pit),
        { timeoutMs: 60_000 },
      );
    } finally {
      if (target === 'complete') await releasePvc(kc, pit).catch(() => undefined);
      if (operatorDown) await system.runtime.startOperator();
      await watch.stop();
      await recorder.stop();
    }
  });

  afterAll(() => {
    console.log(`[restart] states at kill:\n  ${caught.join('\n  ')}`);
  });
});
