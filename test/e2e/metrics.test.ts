/**
 * The operator process's /metrics on the local runtime, scraped as Prometheus would (a
 * ServiceAccount token, the chart's scribe-metrics-reader role), while a scheduled rsync
 * source waits for its key Secret (out of sync), then syncs (in sync, duration observed).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { operatorPorts } from '../../src/local/runtime.js';
import { waitFor } from '../../src/local/processes.js';
import { create, createPvc, e2eKubeConfig, e2eNamespace, get, pvcDirectory, waitForObject } from '../support/e2e.js';
import {
  bindClusterRole,
  grantDebugPages,
  renderChart,
  sample,
  scrape,
  serviceAccountGroups,
  serviceAccountToken,
  waitForAccess,
} from '../integration/metrics/support.js';

type Secret = KubernetesObject & { data?: Record<string, string> };

describe('metrics of the operator process', () => {
  it('follow a scheduled rsync source: out of sync while it cannot sync, in sync after, duration observed', async () => {
    const kc = e2eKubeConfig();
    const monitoring = await e2eNamespace(kc, 'monitoring');
    const sourceNs = await e2eNamespace(kc, 'msrc');
    const destNs = await e2eNamespace(kc, 'mdst');

    let ports: Awaited<ReturnType<typeof operatorPorts>> = {};
    await waitFor('the operator serving metrics', async () => {
      ports = await operatorPorts(inject('e2eOperatorLog'));
      return ports.metrics !== undefined && ports.health !== undefined;
    });
    expect((await fetch(`http://${inject('e2eOperatorHost')}:${ports.health}/healthz`)).status).toBe(200);
    expect((await fetch(`http://${inject('e2eOperatorHost')}:${ports.health}/readyz`)).status).toBe(200);
    const url = `https://${inject('e2eOperatorHost')}:${ports.metrics}/metrics`;
    expect((await scrape(url)).status).toBe(401);

    const role = (await renderChart(['--show-only', 'templates/rbac.yaml'])).find(
      (o) => o.kind === 'ClusterRole' && o.metadata?.name === 'scribe-metrics-reader',
    ) as KubernetesObject;
    const roleName = `scribe-metrics-reader-${monitoring}`;
    await kubeRequest(kc, {
      method: 'POST',
      path: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      body: { ...role, metadata: { ...role.metadata, name: roleName } },
    });
    await bindClusterRole(kc, roleName, monitoring, 'prometheus');
    const token = await serviceAccountToken(kc, monitoring, 'prometheus');
    await waitForAccess(
      kc,
      `system:serviceaccount:${monitoring}:prometheus`,
      serviceAccountGroups(monitoring),
      '/metrics',
    );
    const metricsText = async () => {
      const answer = await scrape(url, token);
      expect(answer.status).toBe(200);
      return answer.body;
    };
    const src = { obj_name: 'scheduled', obj_namespace: sourceNs, role: 'source', method: 'rsync' };
    const dst = { obj_name: 'landing', obj_namespace: destNs, role: 'destination', method: 'rsync' };

    await createPvc(kc, sourceNs, 'data');
    await writeFile(join(await pvcDirectory(kc, sourceNs, 'data'), 'hello'), 'metrics\n');
    await create(kc, 'ReplicationDestination', destNs, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'landing' },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi', accessModes: ['ReadWriteOnce'] } },
    });
    const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', destNs, 'landing');
    const listening = await waitForObject('destination address and keys', readDest, (rd) =>
      Boolean(rd.status?.rsync?.address && rd.status.rsync.sshKeys),
    );
    const keys = listening.status?.rsync?.sshKeys as string;

    // A yearly schedule: the first sync is due at once, but the key Secret is not there yet.
    await create(kc, 'ReplicationSource', sourceNs, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'scheduled' },
      spec: {
        sourcePVC: 'data',
        trigger: { schedule: '0 0 1 1 *' },
        rsync: { sshKeys: keys, address: listening.status?.rsync?.address, copyMethod: 'None' },
      },
    });
    await waitFor('out of sync while the Secret is missing', async () => {
      return sample(await metricsText(), 'scribe_volume_out_of_sync', src) === 1;
    });

    const secret = await get<Secret>(kc, 'Secret', destNs, keys);
    await create(kc, 'Secret', sourceNs, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: keys },
      data: secret?.data,
    });
    const synced = await waitForObject(
      'the first sync',
      () => get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'scheduled'),
      (rs) => Boolean(rs.status?.lastSyncTime),
    );
    let text = '';
    await waitFor('metrics of the completed sync', async () => {
      text = await metricsText();
      return sample(text, 'scribe_sync_duration_seconds_count', src) === 1;
    });
    expect(sample(text, 'scribe_volume_out_of_sync', src)).toBe(0);
    expect(sample(text, 'scribe_sync_duration_seconds_sum', src)).toBeGreaterThan(0);
    expect(sample(text, 'scribe_syncs_total', { ...src, result: 'Successful' })).toBe(1);
    expect(sample(text, 'scribe_missed_intervals_total', src)).toBe(0);
    expect(sample(text, 'scribe_last_successful_sync_timestamp_seconds', src)).toBe(
      Date.parse(synced.status?.lastSyncTime ?? '') / 1000,
    );
    // The destination has no schedule: never out of sync (seed: the gauge needs a schedule).
    await waitFor('the destination recorded its sync', async () => {
      text = await metricsText();
      return (sample(text, 'scribe_syncs_total', { ...dst, result: 'Successful' }) ?? 0) >= 1;
    });
    expect(sample(text, 'scribe_volume_out_of_sync', dst)).toBe(0);

    // The /debug pages (the local runtime enables them): authorized on their own
    // (scribe-debug-reader), listing only the CRs the caller may get, self-contained, naming the state.
    const debugBase = `https://${inject('e2eOperatorHost')}:${ports.metrics}/debug`;
    expect((await scrape(debugBase)).status).toBe(401);
    expect((await scrape(debugBase, token)).status).toBe(403);
    const revokeDebug = await grantDebugPages(kc, monitoring, 'prometheus', [sourceNs]);
    // The 403 just above is remembered for up to 10 s (the authorization cache, docs/metrics.md).
    let index = await scrape(debugBase, token);
    await waitFor(
      'the /debug grant to outlive the cached refusal',
      async () => (index = await scrape(debugBase, token)).status === 200,
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(index.status).toBe(200);
    expect(index.body).toContain('scheduled');
    expect(index.body).not.toContain('landing');
    expect((await scrape(`${debugBase}/ReplicationDestination/${destNs}/landing`, token)).status).toBe(403);
    expect(index.body).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
    const pagePath = `${debugBase}/ReplicationSource/${sourceNs}/scheduled`;
    const page = await scrape(pagePath, token);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<svg');
    const stateNow = async () =>
      (await get<ReplicationSource>(kc, 'ReplicationSource', sourceNs, 'scheduled'))?.status?.state;
    const before = await stateNow();
    const live = JSON.parse((await scrape(`${pagePath}?format=json`, token)).body) as { state?: string };
    const after = await stateNow();
    // The page names the state the CR is in (read around the request, as it may move on).
    expect([before, after]).toContain(live.state);

    await revokeDebug();
    await kubeRequest(kc, { method: 'DELETE', path: `/apis/rbac.authorization.k8s.io/v1/clusterroles/${roleName}` });
  });
});
