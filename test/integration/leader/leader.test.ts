/**
 * Leader election between two real operator processes (bin/scribe operator --leader-elect)
 * against the shared API server, each confined to this test's namespace: only the Lease holder
 * reconciles; a killed leader is replaced once its Lease expires; a SIGTERMed leader releases
 * the Lease so a standby takes over at once.
 */
import { readFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../../src/kube/resources.js';
import { LEASE_DEFAULTS } from '../../../src/leader/elector.js';
import type { Lease } from '../../../src/leader/lease.js';
import { DEFAULT_LEASE_NAME } from '../../../src/main.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../../../src/local/processes.js';
import { repoRoot } from '../../../src/local/tools.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

/** client-go's worst case for a takeover after the leader's last renewal: the lease duration plus
 * up to two jittered retry periods (one to see the last renewal, one to try after expiry). */
const TAKEOVER_BOUND_MS = LEASE_DEFAULTS.leaseDurationMs + 2 * 2.2 * LEASE_DEFAULTS.retryPeriodMs;

describe('leader election', () => {
  const kc = testKubeConfig();
  const running: ManagedProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.kill()));
  });

  async function operator(namespace: string, dir: string, name: string) {
    const health = await freePort();
    const process = startProcess(
      name,
      join(repoRoot(), 'bin', 'scribe'),
      [
        'operator',
        `--kubeconfig=${inject('kubeconfig')}`,
        `--namespace=${namespace}`,
        '--leader-elect',
        `--leader-election-namespace=${namespace}`,
        `--health-probe-bind-address=127.0.0.1:${health}`,
      ],
      join(dir, `${name}.log`),
    );
    running.push(process);
    const identity = `${hostname()}_${process.child.pid}`;
    const ready = async () => (await fetch(`http://127.0.0.1:${health}/readyz`)).status === 200;
    const logText = () => readFile(join(dir, `${name}.log`), 'utf8').catch(() => '');
    return { process, identity, ready, logText };
  }

  const lease = (namespace: string) =>
    kubeRequest<Lease>(kc, { method: 'GET', path: objectPath(RESOURCES.Lease, namespace, DEFAULT_LEASE_NAME) }).catch(
      () => undefined,
    );

  async function createSource(namespace: string, name: string) {
    // A source whose key Secret is missing: the leader reacts with a status, nothing else runs.
    await kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.ReplicationSource, namespace),
      body: {
        apiVersion: 'scribe.backube/v1alpha1',
        kind: 'ReplicationSource',
        metadata: { name },
        spec: {
          sourcePVC: 'data',
          trigger: { manual: 'once' },
          rsync: { copyMethod: 'None', address: 'nowhere', sshKeys: 'keys' },
        },
      },
    });
    await waitFor(`${name} reconciled`, async () => {
      const cr = await kubeRequest<{ status?: { state?: string } }>(kc, {
        method: 'GET',
        path: objectPath(RESOURCES.ReplicationSource, namespace, name),
      });
      return Boolean(cr.status?.state);
    });
  }

  it('only the Lease holder acts; a killed leader is replaced within the lease duration', async () => {
    const ns = await testNamespace(kc, 'leader');
    const dir = await mkdtemp(join(tmpdir(), 'scribe-leader-'));
    const a = await operator(ns, dir, 'operator-a');
    await waitFor('operator-a leading', async () => (await lease(ns))?.spec?.holderIdentity === a.identity, {
      timeoutMs: 60_000,
    });
    const b = await operator(ns, dir, 'operator-b');
    // Both are ready: the leader with synced caches, the standby waiting for the Lease.
    await waitFor('both ready', async () => (await a.ready()) && (await b.ready()), { timeoutMs: 60_000 });
    expect(await b.logText()).toContain('waiting for the leader election Lease');

    await createSource(ns, 'first');
    // The status is written before the line about it reaches a's log file: wait for the line.
    await waitFor('operator-a logging "first"', async () => (await a.logText()).includes('"name":"first"'));
    expect(await b.logText()).not.toContain('"name":"first"');
    expect((await lease(ns))?.spec?.holderIdentity).toBe(a.identity);

    // The leader dies without a word: the standby waits for the Lease to expire on its own clock.
    const before = await lease(ns);
    await a.process.kill();
    const killedAt = Date.now();
    await waitFor('operator-b leading', async () => (await lease(ns))?.spec?.holderIdentity === b.identity, {
      timeoutMs: TAKEOVER_BOUND_MS + 5_000,
      intervalMs: 200,
    });
    const takeoverMs = Date.now() - killedAt;
    const after = await lease(ns);
    console.log(`[leader] takeover after SIGKILL: ${takeoverMs} ms (bound ${TAKEOVER_BOUND_MS} ms)`);
    expect(takeoverMs).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
    expect(after?.spec?.leaseTransitions).toBe((before?.spec?.leaseTransitions ?? 0) + 1);

    await createSource(ns, 'second');
    await waitFor('operator-b logging "second"', async () => (await b.logText()).includes('"name":"second"'));
  });

  it('a leader stopped with SIGTERM releases the Lease and a standby takes over at once', async () => {
    const ns = await testNamespace(kc, 'leader');
    const dir = await mkdtemp(join(tmpdir(), 'scribe-leader-'));
    const a = await operator(ns, dir, 'operator-a');
    await waitFor('operator-a leading', async () => (await lease(ns))?.spec?.holderIdentity === a.identity, {
      timeoutMs: 60_000,
    });
    const b = await operator(ns, dir, 'operator-b');
    await waitFor('operator-b standing by', async () => await b.ready(), { timeoutMs: 60_000 });
    // The standby has been observing the Lease for a while: it reads before acting.
    await waitFor('operator-b saw the Lease', async () => (await b.logText()).includes('waiting for the leader'));

    const stoppedAt = Date.now();
    await a.process.stop(10_000);
    expect(await a.process.exited).toBe(0);
    expect(await a.logText()).toContain('released the Lease');
    await waitFor('operator-b leading', async () => (await lease(ns))?.spec?.holderIdentity === b.identity, {
      timeoutMs: LEASE_DEFAULTS.leaseDurationMs,
      intervalMs: 100,
    });
    const takeoverMs = Date.now() - stoppedAt;
    console.log(`[leader] takeover after SIGTERM: ${takeoverMs} ms`);
    // Well before the 15 s an unreleased Lease would need: at most one jittered retry period.
    expect(takeoverMs).toBeLessThan(LEASE_DEFAULTS.leaseDurationMs);
    await createSource(ns, 'third');
    await waitFor('operator-b logging "third"', async () => (await b.logText()).includes('"name":"third"'));
  });
});
