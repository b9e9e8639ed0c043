/**
 * The operator's /debug page in a real headless browser (Debian's Chromium through
 * playwright-core): it loads with no request leaving the operator, highlights the CR's current
 * state in the chart, and follows the state when a sync starts. A screenshot is kept in
 * test-artifacts/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { operatorPorts } from '../../src/local/runtime.js';
import { waitFor } from '../../src/local/processes.js';
import { repoRoot } from '../../src/local/tools.js';
import { create, createPvc, e2eKubeConfig, e2eNamespace, get, patch, waitForObject } from '../support/e2e.js';
import {
  bindClusterRole,
  renderChart,
  serviceAccountGroups,
  serviceAccountToken,
  waitForAccess,
} from '../integration/metrics/support.js';

const API = 'scribe.backube/v1alpha1';

describe('the /debug page in a headless browser', () => {
  it('shows the chart with the current state and follows it live', async () => {
    const kc = e2eKubeConfig();
    const viewers = await e2eNamespace(kc, 'viewers');
    const ns = await e2eNamespace(kc, 'dbg');
    let ports: Awaited<ReturnType<typeof operatorPorts>> = {};
    await waitFor('the operator serving metrics', async () => {
      ports = await operatorPorts(inject('e2eOperatorLog'));
      return ports.metrics !== undefined;
    });
    const role = (await renderChart(['--show-only', 'templates/rbac.yaml'])).find(
      (o) => o.kind === 'ClusterRole' && o.metadata?.name === 'scribe-metrics-reader',
    ) as KubernetesObject;
    const roleName = `scribe-metrics-reader-${viewers}`;
    await kubeRequest(kc, {
      method: 'POST',
      path: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      body: { ...role, metadata: { ...role.metadata, name: roleName } },
    });
    await bindClusterRole(kc, roleName, viewers, 'viewer');
    const token = await serviceAccountToken(kc, viewers, 'viewer');
    await waitForAccess(kc, `system:serviceaccount:${viewers}:viewer`, serviceAccountGroups(viewers), '/metrics');

    // A destination waiting for its source, and a manual source that has not synced yet.
    await createPvc(kc, ns, 'data');
    await create(kc, 'ReplicationDestination', ns, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'dest' },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
    });
    const rd = await waitForObject(
      'address',
      () => get<ReplicationDestination>(kc, 'ReplicationDestination', ns, 'dest'),
      (d) => Boolean(d.status?.rsync?.address),
    );
    await create(kc, 'ReplicationSource', ns, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'src' },
      spec: {
        sourcePVC: 'data',
        trigger: { manual: 'one' },
        rsync: { copyMethod: 'Clone', address: rd.status?.rsync?.address, sshKeys: rd.status?.rsync?.sshKeys },
      },
    });
    const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', ns, 'src');
    // The key Secret is in the same namespace, so the first sync completes; then the page is idle.
    await waitForObject(
      'first sync',
      readSource,
      (rs) => rs.status?.lastManualSync === 'one' && rs.status.state === 'idle',
    );

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const context = await browser.newContext({
        ignoreHTTPSErrors: true, // the operator's self-signed certificate
        extraHTTPHeaders: { authorization: `Bearer ${token}` },
      });
      const page = await context.newPage();
      const origins = new Set<string>();
      page.on('request', (request) => origins.add(new URL(request.url()).origin));
      const pageUrl = `https://127.0.0.1:${ports.metrics}/debug/ReplicationSource/${ns}/src`;
      const response = await page.goto(pageUrl);
      expect(response?.status()).toBe(200);
      const current = () => page.locator('svg[data-machine]').getAttribute('data-current');
      expect(await current()).toBe('idle');
      expect(await page.locator('g.state.current').getAttribute('data-state')).toBe('idle');
      await page.locator('svg[data-machine]').waitFor();

      // A new manual value starts a sync: the page follows without a reload.
      await patch(kc, 'ReplicationSource', ns, 'src', { spec: { trigger: { manual: 'two' } } });
      const seen = new Set<string>();
      await waitFor(
        'the page to show the sync',
        async () => {
          const state = await current();
          if (state) seen.add(state);
          return [...seen].some((s) => s !== 'idle');
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      await waitForObject('second sync', readSource, (rs) => rs.status?.lastManualSync === 'two');
      await waitFor('the page back to idle', async () => (await current()) === 'idle', { timeoutMs: 30_000 });
      const artifacts = join(repoRoot(), 'test-artifacts');
      await mkdir(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'debug-page.png'), fullPage: true });
      // Nothing was fetched from anywhere but the operator.
      expect([...origins]).toEqual([`https://127.0.0.1:${ports.metrics}`]);
    } finally {
      await browser.close();
      await kubeRequest(kc, { method: 'DELETE', path: `/apis/rbac.authorization.k8s.io/v1/clusterroles/${roleName}` });
    }
  });
});
