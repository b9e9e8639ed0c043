/**
 * The operator process is SIGKILLed while a sync is in a given state and a new one is started
 * against the same API server: the cycle completes, no Job or point-in-time copy is made twice,
 * and nothing temporary is left behind. This file runs its own local system, because it kills
 * the operator that other e2e files rely on.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { startLocalRuntime, type LocalRuntime } from '../../src/local/runtime.js';
import {
  copySecret,
  create,
  createPvc,
  get,
  listeningAddress,
  patch,
  pvcDirectory,
  waitForObject,
} from '../../src/local/objects.js';
import { waitFor } from '../../src/local/processes.js';
import { CreatedObjects } from '../support/recorder.js';

let runtime: LocalRuntime;
beforeAll(async () => {
  runtime = await startLocalRuntime();
  const kc = runtime.kc;
  for (const name of ['src', 'dst']) {
    await create(kc, 'Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
});
afterAll(async () => {
  await runtime?.stop();
});

const API = 'scribe.backube/v1alpha1';
/** Which states were really caught at the kill, for the report. */
const caught: string[] = [];

describe('operator restarts', () => {
  it.each([
    ['Clone', 'snapshotting'],
    ['Clone', 'moving'],
    ['Snapshot', 'snapshotting'],
    ['Snapshot', 'moving'],
    ['Snapshot', 'destination preserving'],
  ] as const)('copyMethod %s, killed while %s', async (copyMethod, target) => {
    const kc = runtime.kc;
    const id = `${copyMethod}-${target.replace(/ /g, '-')}`.toLowerCase();
    await createPvc(kc, 'src', `data-${id}`);
    const dir = await pvcDirectory(kc, 'src', `data-${id}`);
    await mkdir(join(dir, 'd'), { recursive: true });
    for (let i = 0; i < 200; i++) await writeFile(join(dir, 'd', `f${i}`), `${i}\n`.repeat(2000));

    await create(kc, 'ReplicationDestination', 'dst', {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: id },
      spec: { rsync: { copyMethod: 'Snapshot', capacity: '1Gi' } },
    });
    const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', 'dst', id);
    const { rd, keys } = await listeningAddress(kc, 'dst', id);
    await copySecret(kc, keys, 'dst', 'src');

    const recorder = new CreatedObjects(kc, ['src', 'dst']);
    await recorder.start();
    try {
      await create(kc, 'ReplicationSource', 'src', {
        apiVersion: API,
        kind: 'ReplicationSource',
        metadata: { name: id },
        spec: {
          sourcePVC: `data-${id}`,
          trigger: { manual: 'first' },
          rsync: { copyMethod, address: rd.status?.rsync?.address, sshKeys: keys },
        },
      });
      const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', 'src', id);
      let stateAtKill = '';
      const [side, state] = target.startsWith('destination') ? ['dst', 'preserving'] : ['src', target];
      await waitFor(
        `${side} state ${state}`,
        async () => {
          const current = side === 'src' ? await readSource() : await readDest();
          stateAtKill = current?.status?.state ?? '';
          return stateAtKill === state || Boolean((await readSource())?.status?.lastManualSync);
        },
        { timeoutMs: 120_000, intervalMs: 10 },
      );
      await runtime.stopOperator({ kill: true });
      caught.push(`${id}: ${side} ${stateAtKill}`);
      await runtime.startOperator();

      await waitForObject('sync after restart', readSource, (rs) => rs.status?.lastManualSync === 'first');
      const image = await waitForObject('image', readDest, (d) => Boolean(d.status?.latestImage?.name));
      // The next manual value proves the CR is not stuck, and gives a second, clean cycle.
      await patch(kc, 'ReplicationSource', 'src', id, { spec: { trigger: { manual: 'second' } } });
      await waitForObject('second sync', readSource, (rs) => rs.status?.lastManualSync === 'second');

      const sourceJobs = recorder.ofKind('Job').filter((o) => o.metadata?.name === `scribe-rsync-src-${id}`);
      const cycles = new Set(sourceJobs.map((job) => job.metadata?.labels?.['scribe.backube/cycle']));
      expect(sourceJobs.length, 'one source Job per cycle').toBe(cycles.size);
      const pits = [...recorder.seen.values()].filter(
        (o) => o.metadata?.namespace === 'src' && o.metadata?.name === `scribe-src-${id}`,
      );
      const pitCycles = new Set(pits.map((o) => `${o.kind}/${o.metadata?.labels?.['scribe.backube/cycle']}`));
      expect(pits.length, 'one point-in-time copy per kind and cycle').toBe(pitCycles.size);
      expect(image.status?.latestImage?.name).toMatch(new RegExp(`^scribe-dest-${id}-`));
      await waitFor(
        'no temporary objects left',
        () =>
          !recorder.exists('Job', 'src', `scribe-rsync-src-${id}`) &&
          !recorder.exists('PersistentVolumeClaim', 'src', `scribe-src-${id}`) &&
          !recorder.exists('VolumeSnapshot', 'src', `scribe-src-${id}`),
        { timeoutMs: 60_000 },
      );
    } finally {
      await recorder.stop();
    }
  });

  afterAll(() => {
    console.log(`[restart] states at kill: ${caught.join('; ')}`);
  });
});
