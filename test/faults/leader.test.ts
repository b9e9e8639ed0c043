/**
 * Two operator replicas with leader election on a whole local system, the leader SIGKILLed
 * during syncs again and again (a replacement replica started each time, as a Deployment
 * would): every sync completes with the data intact, no Job is made twice for a cycle, and
 * the replicas' own logs show that at most one of them acted at any time.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { objectPath, RESOURCES } from '../../src/kube/resources.js';
import type { Lease } from '../../src/leader/lease.js';
import { DEFAULT_LEASE_NAME } from '../../src/main.js';
import { create, get, patch, pvcDirectory, waitForObject } from '../../src/local/objects.js';
import { startProcess, waitFor, type ManagedProcess } from '../../src/local/processes.js';
import { repoRoot } from '../../src/local/tools.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import { CreatedObjects } from '../support/recorder.js';
import { listeningRsyncDestination, localSystemOfThisFile, sampleVolume } from '../support/local-system.js';

const API = 'scribe.backube/v1alpha1';
const PAIRS = ['alpha', 'beta', 'gamma'];
const ROUNDS = 3;
// Short Lease timings (flags of `scribe operator`) keep each takeover to a few seconds.
const LEASE_FLAGS = [
  '--leader-election-lease-duration=4',
  '--leader-election-renew-deadline=3',
  '--leader-election-retry-period=0.5',
];

// The operator's replicas are the test's own (startReplica).
const system = localSystemOfThisFile({ operator: false }, { names: ['src', 'dst'], privileged: true });
const replicas: Array<{ process: ManagedProcess; identity: string }> = [];

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.process.kill()));
});

/** Starts one more operator replica competing for the Lease in `default`. */
function startReplica(): { process: ManagedProcess; identity: string } {
  const name = `operator-${replicas.length + 1}`;
  const process = startProcess(
    name,
    join(repoRoot(), 'bin', 'scribe'),
    [
      'operator',
      `--kubeconfig=${system.runtime.kubeconfigPath}`,
      '--leader-elect',
      '--leader-election-namespace=default',
      ...LEASE_FLAGS,
    ],
    join(system.runtime.dir, `${name}.log`),
    system.runtime.operatorEnv,
  );
  // setpriv execs the operator, so the pid is the operator's (holderIdentity: host_pid).
  const replica = { process, identity: `${hostname()}_${process.child.pid}` };
  replicas.push(replica);
  return replica;
}

const holder = async () =>
  (
    await kubeRequest<Lease>(system.runtime.kc, {
      method: 'GET',
      path: objectPath(RESOURCES.Lease, 'default', DEFAULT_LEASE_NAME),
    }).catch(() => undefined)
  )?.spec?.holderIdentity;

/** What a replica's log says it did: when it started leading and when it acted. */
async function activity(logFile: string): Promise<{ ledAt: number | undefined; actions: number[] }> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  let ledAt: number | undefined;
  const actions: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as { time: string; msg: string };
    const time = Date.parse(record.time);
    if (record.msg === 'acquired the Lease: leading') ledAt ??= time;
    // A state transition written to status, or an object created: the controller acting.
    if (record.msg === 'state' || record.msg === 'created') actions.push(time);
  }
  return { ledAt, actions };
}

async function pair(id: string) {
  const kc = system.runtime.kc;
  const dir = await sampleVolume(kc, 'src', id);
  // copyMethod None: the destination volume itself is the image, complete once the source's
  // sync is (no snapshot still being taken when the test compares).
  const { rd, keys } = await listeningRsyncDestination(kc, id, { copyMethod: 'None', capacity: '1Gi' });
  await create(kc, 'ReplicationSource', 'src', {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: id },
    spec: {
      sourcePVC: id,
      trigger: { manual: 'round-0' },
      rsync: { copyMethod: 'Clone', address: rd.status?.rsync?.address, sshKeys: keys },
    },
  });
  return dir;
}

const readSource = (id: string) => get<ReplicationSource>(system.runtime.kc, 'ReplicationSource', 'src', id);
const allSynced = (round: number) =>
  Promise.all(
    PAIRS.map((id) =>
      waitForObject(
        `${id} synced round ${round}`,
        () => readSource(id),
        (rs) => rs.status?.lastManualSync === `round-${round}`,
        240_000,
      ),
    ),
  );

describe('leader election under repeated leader kills', () => {
  it(`kills the leader during syncs ${ROUNDS} times: every sync completes, one Job per cycle, one replica acting at a time`, async () => {
    const kc = system.runtime.kc;
    startReplica();
    startReplica();
    await waitFor(
      'a leader',
      async () => {
        const identity = await holder();
        return replicas.some((r) => r.identity === identity);
      },
      { timeoutMs: 60_000 },
    );
    const recorder = new CreatedObjects(kc, ['src', 'dst']);
    await recorder.start();
    try {
      const dirs = new Map<string, string>();
      for (const id of PAIRS) dirs.set(id, await pair(id));
      await allSynced(0);
      const killedWhile: string[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        for (const [id, dir] of dirs) await writeFile(join(dir, 'd', `round-${round}`), `${id} ${round}\n`);
        for (const id of PAIRS)
          await patch(kc, 'ReplicationSource', 'src', id, { spec: { trigger: { manual: `round-${round}` } } });
        let states: string[] = [];
        await waitFor(
          'a sync in progress',
          async () => {
            states = await Promise.all(PAIRS.map(async (id) => (await readSource(id))?.status?.state ?? ''));
            return states.some((s) => s === 'snapshotting' || s === 'moving');
          },
          { timeoutMs: 120_000, intervalMs: 20 },
        );
        const leaderIdentity = await holder();
        const leader = replicas.find((r) => r.identity === leaderIdentity && r.process.child.exitCode === null);
        expect(leader, `round ${round}: the Lease names a running replica`).toBeDefined();
        await leader?.process.kill();
        killedWhile.push(states.join('/'));
        startReplica();
        await allSynced(round);
      }
      console.log(`[leader faults] states at each kill (${PAIRS.join('/')}): ${killedWhile.join('; ')}`);

      // One source Job per CR, cycle and attempt, whoever created it (a killed leader's
      // attempt may be retried as a new attempt, never made twice).
      for (const id of PAIRS) {
        const jobs = recorder.ofKind('Job').filter((o) => o.metadata?.name === `scribe-rsync-src-${id}`);
        const label = (job: (typeof jobs)[number], key: string) => job.metadata?.labels?.[`scribe.backube/${key}`];
        const attempts = new Set(jobs.map((job) => `${label(job, 'cycle')}/${label(job, 'attempt')}`));
        expect(jobs.length, `${id}: one source Job per cycle and attempt`).toBe(attempts.size);
        expect(new Set(jobs.map((job) => label(job, 'cycle'))).size).toBeGreaterThanOrEqual(ROUNDS + 1);
      }

      // Each destination volume holds the last round's data.
      for (const [id, dir] of dirs) {
        const rd = await get<ReplicationDestination>(kc, 'ReplicationDestination', 'dst', id);
        expect(rd?.status?.latestImage).toMatchObject({ kind: 'PersistentVolumeClaim', name: `scribe-dest-${id}` });
        expect(snapshotTree(await pvcDirectory(kc, 'dst', `scribe-dest-${id}`))).toEqual(snapshotTree(dir));
      }

      // At most one replica acted at any time: in the order they came to lead, each one's
      // last action precedes the next one's taking the Lease, and standbys never acted.
      const logs = await Promise.all(replicas.map((r) => activity(r.process.logFile)));
      const leaders = logs.filter((l) => l.ledAt !== undefined).sort((a, b) => (a.ledAt ?? 0) - (b.ledAt ?? 0));
      expect(leaders.length).toBeGreaterThanOrEqual(ROUNDS + 1);
      for (const standby of logs.filter((l) => l.ledAt === undefined)) expect(standby.actions).toEqual([]);
      for (const [i, current] of leaders.entries()) {
        expect(current.actions.every((t) => t >= (current.ledAt ?? 0))).toBe(true);
        const next = leaders[i + 1];
        if (next) expect(Math.max(...current.actions, 0)).toBeLessThanOrEqual(next.ledAt ?? 0);
      }
    } finally {
      await recorder.stop();
    }
  });
});
