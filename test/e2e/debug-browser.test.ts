/**
 * The operator's /debug page in a real headless browser (Debian's Chromium through
 * playwright-core): it loads with no request leaving the operator, highlights the CR's current
 * state in the chart, and follows the state when a sync starts. The standalone documents of
 * `kubectl scribe inspect -o svg` and `-o html`, rendered for the CR caught mid-sync, open from
 * file:// with the network blocked and highlight the same working state. Screenshots (and the
 * two documents) are kept in test-artifacts/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ScribeCr } from '../../machines/api.js';
import { STATES, WORKING_STATES } from '../../machines/context.js';
import { rsyncDestinationName } from '../../src/movers/rsync/names.js';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { operatorPorts } from '../../src/local/runtime.js';
import { waitFor } from '../../src/local/processes.js';
import { repoRoot } from '../../src/local/tools.js';
import { renderInspection } from '../../src/plugin/program.js';
import { create, createPvc, e2eKubeConfig, e2eNamespace, get, patch, waitForObject } from '../support/e2e.js';
import {
  bindClusterRole,
  grantDebugPages,
  renderChart,
  serviceAccountGroups,
  serviceAccountToken,
  waitForAccess,
} from '../integration/metrics/support.js';

const API = 'scribe.backube/v1alpha1';

/** The one browser API used in page functions (the project compiles without the DOM library). */
type InBrowser = { getComputedStyle(element: unknown): { getPropertyValue(name: string): string } };

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
    // The /debug pages are authorized on their own: scribe-debug-reader, and `get` on the CRs shown.
    await grantDebugPages(kc, viewers, 'viewer', [ns]);

    // A destination waiting for its source, and a manual source that has not synced yet.
    await createPvc(kc, ns, 'data');
    await create(kc, 'ReplicationDestination', ns, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'dest' },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
    });
    // The destination names its key Secret once its mover Job exists, which may be after its address.
    const rd = await waitForObject(
      'address and keys',
      () => get<ReplicationDestination>(kc, 'ReplicationDestination', ns, 'dest'),
      (d) => Boolean(d.status?.rsync?.address && d.status.rsync.sshKeys),
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
      const pageUrl = `https://${inject('e2eOperatorHost')}:${ports.metrics}/debug/ReplicationSource/${ns}/src`;
      const response = await page.goto(pageUrl);
      expect(response?.status()).toBe(200);
      const current = () => page.locator('svg[data-machine]').getAttribute('data-current');
      expect(await current()).toBe('idle');
      expect(await page.locator('g.state.current').getAttribute('data-state')).toBe('idle');
      await page.locator('svg[data-machine]').waitFor();

      // A new manual value starts a sync: the page follows without a reload. Meanwhile the CR
      // is read until it is caught in a working state, for the standalone documents below.
      // The page polls every 2 s and a sync here can finish in less, so the sync is held in
      // its working state: the destination's Service selects no pod (the source retries its
      // connection) until both have seen it, then selects the destination again.
      const service = rsyncDestinationName('dest');
      await patch(kc, 'Service', ns, service, { spec: { selector: { 'scribe-e2e-hold': 'held' } } });
      await patch(kc, 'ReplicationSource', ns, 'src', { spec: { trigger: { manual: 'two' } } });
      const seen = new Set<string>();
      let working: ScribeCr | undefined;
      await Promise.all([
        waitFor(
          'the page to show the sync',
          async () => {
            const state = await current();
            if (state) seen.add(state);
            return [...seen].some((s) => s !== 'idle');
          },
          { timeoutMs: 60_000, intervalMs: 100 },
        ),
        waitFor(
          'the source in a working state',
          async () => {
            const rs = (await readSource()) as ScribeCr | undefined;
            if (!WORKING_STATES.includes(rs?.status?.state as never)) return false;
            working = rs;
            return true;
          },
          { timeoutMs: 60_000, intervalMs: 100 },
        ),
      ]);
      await patch(kc, 'Service', ns, service, { spec: { selector: { 'scribe-e2e-hold': null } } });
      await waitForObject('second sync', readSource, (rs) => rs.status?.lastManualSync === 'two');
      await waitFor('the page back to idle', async () => (await current()) === 'idle', { timeoutMs: 30_000 });
      const artifacts = join(repoRoot(), 'test-artifacts');
      await mkdir(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'debug-page.png'), fullPage: true });
      // Nothing was fetched from anywhere but the operator.
      expect([...origins]).toEqual([`https://${inject('e2eOperatorHost')}:${ports.metrics}`]);

      await expectStandaloneDocumentsRender(browser, working as ScribeCr, artifacts);
    } finally {
      await browser.close();
      await kubeRequest(kc, { method: 'DELETE', path: `/apis/rbac.authorization.k8s.io/v1/clusterroles/${roleName}` });
    }
  });
});

/**
 * `kubectl scribe inspect -o svg` and `-o html` for a CR caught in a working state, written to
 * files as a user would (`> chart.svg`) and opened from file:// with the network blocked: each
 * draws every state and highlights the working one, and fetches nothing but its own file.
 */
async function expectStandaloneDocumentsRender(browser: Browser, cr: ScribeCr, artifacts: string) {
  const state = cr.status?.state as string;
  expect(WORKING_STATES).toContain(state);
  const context = await browser.newContext({ offline: true });
  try {
    // Offline already fails any network request; aborting them as well makes it certain, and
    // every request (file or not) is recorded to show that none was attempted.
    await context.route(/^(https?|wss?|ftp):/, (route) => route.abort('blockedbyclient'));
    for (const output of ['svg', 'html'] as const) {
      const file = join(artifacts, `inspect.${output}`);
      await writeFile(file, await renderInspection(cr, output));
      const page = await context.newPage();
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      const response = await page.goto(pathToFileURL(file).href);
      expect(response === null || response.ok(), `${output}: ${response?.status()}`).toBe(true);
      const chart = page.locator('svg[data-machine]');
      await chart.waitFor();
      expect(await chart.getAttribute('data-current')).toBe(state);
      // Every state of the machine is drawn, and exactly one is highlighted: the working state.
      for (const s of STATES) await expect(page.locator(`g.state[data-state="${s}"]`).isVisible()).resolves.toBe(true);
      const highlighted = page.locator('g.state.current');
      expect(await highlighted.count()).toBe(1);
      expect(await highlighted.getAttribute('data-state')).toBe(state);
      expect(await highlighted.isVisible()).toBe(true);
      const fill = (selector: string) =>
        page
          .locator(selector)
          .evaluate((rect) => (globalThis as unknown as InBrowser).getComputedStyle(rect).getPropertyValue('fill'));
      const idleFill = await fill('g.state[data-state="idle"] rect');
      expect(await fill('g.state.current rect')).toBe('rgb(255, 213, 79)');
      expect(idleFill).not.toBe('rgb(255, 213, 79)');
      if (output === 'html') {
        await expect(page.locator('#state').textContent()).resolves.toBe(state);
        await expect(page.locator('h1').textContent()).resolves.toBe(
          `ReplicationSource ${cr.metadata.namespace}/${cr.metadata.name}`,
        );
      }
      if (output === 'svg') {
        // A full-page screenshot never completes on an SVG document: size the viewport to the chart.
        const size = async (name: string) => Math.ceil(Number(await chart.getAttribute(name)));
        await page.setViewportSize({ width: await size('width'), height: await size('height') });
      }
      await page.screenshot({ path: join(artifacts, `inspect-${output}.png`), fullPage: output === 'html' });
      expect(requests).toEqual([pathToFileURL(file).href]);
      await page.close();
    }
  } finally {
    await context.close();
  }
}
