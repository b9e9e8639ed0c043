/**
 * The state chart as a person reads it, in Chromium, opened the way a user opens it: through
 * `kubectl scribe dashboard` (the bundled plugin) given nothing but a kubeconfig. CRs of both
 * kinds are brought to a few states (a source whose mover failed, a source whose spec was made
 * invalid and fixed, a destination mid-sync, a destination whose restore failed); for each, the page's DOM
 * boxes show no label over another label or a state, and the highlighted, numbered edges are
 * the CR's journal since it last left idle, the failed attempt's edge in red; an open page
 * redraws the chart as its CR moves. A screenshot of each page goes to test-artifacts/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { chromium, type Page } from 'playwright-core';
import type { ScribeCr } from '../../machines/api.js';
import { pluralOf, type ScribeKind } from '../../src/inspect/kinds.js';
import { waitFor } from '../../src/local/processes.js';
import { repoRoot } from '../../src/local/tools.js';
import { create, createPvc, e2eKubeConfig, e2eNamespace, get, patch, waitForObject } from '../support/e2e.js';
import { buildPluginBundle } from '../support/plugin.js';

const API = 'scribe.backube/v1alpha1';

interface Rect {
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What the page shows, read from its DOM. */
interface Shown {
  current: string | null;
  labels: Rect[];
  states: Rect[];
  /** Each numbered edge: its steps, its ends (a state or a group's states) and its colour. */
  edges: { steps: number[]; from: string[]; to: string[]; failure: boolean; stroke: string }[];
  visited: string[];
}

/** The browser side of `shown` (the project compiles without the DOM library). */
type InBrowser = {
  document: {
    querySelector(s: string): { getAttribute(n: string): string | null } | null;
    querySelectorAll(s: string): Iterable<BrowserElement>;
  };
  getComputedStyle(e: BrowserElement): { stroke: string };
};
type BrowserElement = {
  getAttribute(n: string): string | null;
  getBoundingClientRect(): { x: number; y: number; width: number; height: number };
  querySelector(s: string): BrowserElement | null;
  classList: { contains(c: string): boolean };
  textContent: string | null;
};

async function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const w = globalThis as unknown as InBrowser;
    const rect = (name: string, e: BrowserElement) => {
      const r = e.getBoundingClientRect();
      return { name, x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const groups = new Map<string, string[]>();
    for (const g of w.document.querySelectorAll('g.group')) {
      groups.set(g.getAttribute('data-group') ?? '', (g.getAttribute('data-states') ?? '').split(' '));
    }
    const ends = (key: string | null) => groups.get(key ?? '') ?? [key ?? ''];
    return {
      current: w.document.querySelector('svg[data-machine]')?.getAttribute('data-current') ?? null,
      labels: [
        ...[...w.document.querySelectorAll('g.edge-label')].map((e) => rect(`label "${e.textContent}"`, e)),
        ...[...w.document.querySelectorAll('g.group text.title')].map((e) => rect(`title "${e.textContent}"`, e)),
      ],
      states: [...w.document.querySelectorAll('g.state rect')].map((e) => rect('state', e)),
      edges: [...w.document.querySelectorAll('g.transition[data-steps]')].map((e) => ({
        steps: (e.getAttribute('data-steps') ?? '').split(' ').map(Number),
        from: ends(e.getAttribute('data-from')),
        to: ends(e.getAttribute('data-to')),
        failure: e.classList.contains('failure'),
        stroke: w.getComputedStyle(e.querySelector('path') as BrowserElement).stroke,
      })),
      visited: [...w.document.querySelectorAll('g.state.visited')].map((e) => e.getAttribute('data-state') ?? ''),
    };
  });
}

const overlap = (a: Rect, b: Rect) =>
  a.x < b.x + b.width - 0.5 && b.x < a.x + a.width - 0.5 && a.y < b.y + b.height - 0.5 && b.y < a.y + a.height - 0.5;

/** The journal entries since the CR last left idle (all of them if it never did), numbered from 1. */
function expectedSteps(cr: ScribeCr) {
  const journal = cr.status?.journal ?? [];
  const start = journal.map((j) => j.from).lastIndexOf('idle');
  return journal.slice(Math.max(0, start)).map((j, i) => ({ ...j, step: i + 1 }));
}

/** Starts `kubectl-scribe dashboard` with a kubeconfig only; resolves with its URL once printed. */
async function startDashboard(bundle: string, home: string, browserLog: string) {
  // A stand-in for the desktop's xdg-open that records what it was asked to open.
  const bin = join(home, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" >> '${browserLog}'\n`);
  await chmod(join(bin, 'xdg-open'), 0o755);
  const child: ChildProcess = spawn(bundle, ['dashboard'], {
    env: {
      PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`,
      HOME: home,
      KUBECONFIG: inject('e2eKubeconfig'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  let url = '';
  await waitFor(
    'the dashboard to print its URL',
    () => {
      if (child.exitCode !== null) throw new Error(`kubectl-scribe dashboard exited ${child.exitCode}: ${out}`);
      url = /(http:\/\/127\.0\.0\.1:\d+\/debug)/.exec(out)?.[1] ?? '';
      return url !== '';
    },
    { timeoutMs: 30_000 },
  );
  return { child, url, output: () => out };
}

describe('the state chart through kubectl scribe dashboard', () => {
  it('reads clearly and follows each CR’s journal, for both kinds in several states', async () => {
    const kc = e2eKubeConfig();
    const ns = await e2eNamespace(kc, 'chart');
    await createPvc(kc, ns, 'data');
    // A restic repository nothing listens at: the source's mover fails at once.
    await create(kc, 'Secret', ns, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'restic-config' },
      stringData: { RESTIC_REPOSITORY: 's3:http://127.0.0.1:9/nowhere/repo', RESTIC_PASSWORD: 'a-password' },
    });
    const restic = { repository: 'restic-config', copyMethod: 'None' };
    await create(kc, 'ReplicationSource', ns, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'failing' },
      spec: { sourcePVC: 'data', trigger: { manual: 'once' }, restic },
    });
    await create(kc, 'ReplicationSource', ns, {
      apiVersion: API,
      kind: 'ReplicationSource',
      metadata: { name: 'fixed' },
      spec: { sourcePVC: 'data', paused: true, trigger: { schedule: '0 0 1 1 *' }, restic },
    });
    await create(kc, 'ReplicationDestination', ns, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'waiting' },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
    });
    await create(kc, 'ReplicationDestination', ns, {
      apiVersion: API,
      kind: 'ReplicationDestination',
      metadata: { name: 'restoring' },
      spec: { trigger: { manual: 'once' }, restic: { ...restic, destinationPVC: 'data' } },
    });
    const read = (kind: ScribeKind, name: string) => () => get<ScribeCr>(kc, kind, ns, name);
    const reach = (kind: ScribeKind, name: string, state: string) =>
      waitForObject(`${kind} ${name} ${state}`, read(kind, name), (cr) => cr.status?.state === state);
    const home = await mkdtemp(join(tmpdir(), 'scribe-dashboard-'));
    const browserLog = join(home, 'opened');
    const dashboard = await startDashboard(await buildPluginBundle(), home, browserLog);
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      // It opened the browser with the URL it printed.
      await waitFor('xdg-open to be run', async () => (await readFile(browserLog, 'utf8').catch(() => '')) !== '');
      expect((await readFile(browserLog, 'utf8')).trim()).toBe(dashboard.url);
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

      // The paused source goes invalid (a minute of 99 passes the CRD's pattern, not the
      // machine's check), then is fixed, returning through the boxes' shared edges; its open page
      // redraws the chart each time without a reload.
      await reach('ReplicationSource', 'fixed', 'idle');
      await page.goto(`${dashboard.url}/replicationsources/${ns}/fixed`);
      const chart = page.locator('svg[data-machine]');
      const trailShown = async (trail: string, state: string) =>
        (await chart.getAttribute('data-trail')) === trail && (await chart.getAttribute('data-current')) === state;
      await patch(kc, 'ReplicationSource', ns, 'fixed', { spec: { trigger: { schedule: '99 * * * *' } } });
      await waitFor('the open page to draw the step to invalid', () => trailShown('idle>invalid', 'invalid'), {
        timeoutMs: 30_000,
      });
      await patch(kc, 'ReplicationSource', ns, 'fixed', { spec: { trigger: { schedule: '0 0 1 1 *' } } });
      await waitFor('the open page to draw the way back', () => trailShown('idle>invalid invalid>idle', 'idle'), {
        timeoutMs: 30_000,
      });
      await Promise.all([
        reach('ReplicationSource', 'failing', 'failed'),
        reach('ReplicationDestination', 'waiting', 'moving'),
        reach('ReplicationDestination', 'restoring', 'failed'),
      ]);

      const index = await page.goto(dashboard.url);
      expect(index?.status()).toBe(200);
      for (const name of ['failing', 'fixed', 'waiting', 'restoring']) {
        await expect(page.locator(`a:text-is("${name}")`).count()).resolves.toBe(1);
      }
      const artifacts = join(repoRoot(), 'test-artifacts');
      await mkdir(artifacts, { recursive: true });
      const cases: [ScribeKind, string][] = [
        ['ReplicationSource', 'failing'],
        ['ReplicationSource', 'fixed'],
        ['ReplicationDestination', 'waiting'],
        ['ReplicationDestination', 'restoring'],
      ];
      for (const [kind, name] of cases) {
        // The CR may move while the page loads (a retry): compare a page whose CR was the same
        // before and after it was rendered.
        let cr: ScribeCr | undefined;
        let seen: Shown | undefined;
        await waitFor(
          `a page of ${kind} ${name} rendered while it stood still`,
          async () => {
            const before = await read(kind, name)();
            const response = await page.goto(`${dashboard.url}/${pluralOf(kind)}/${ns}/${name}`);
            expect(response?.status()).toBe(200);
            seen = await shown(page);
            const after = await read(kind, name)();
            cr = after;
            return JSON.stringify(before?.status?.journal) === JSON.stringify(after?.status?.journal);
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        const s = seen as Shown;
        const what = `${kind} ${name}`;
        expect(s.current, what).toBe(cr?.status?.state);
        expect(s.labels.length).toBeGreaterThan(10);
        for (const [i, a] of s.labels.entries()) {
          for (const b of s.labels.slice(i + 1)) expect(overlap(a, b), `${what}: ${a.name} over ${b.name}`).toBe(false);
          for (const state of s.states) expect(overlap(a, state), `${what}: ${a.name} over a state`).toBe(false);
        }
        // The numbered edges are the journal's steps, each between the entry's states.
        const steps = expectedSteps(cr as ScribeCr).filter((j) => j.from !== 'new');
        expect(steps.length, `${what} has steps to show`).toBeGreaterThan(0);
        expect(s.edges.flatMap((e) => e.steps).sort((a, b) => a - b)).toEqual(steps.map((j) => j.step));
        for (const j of steps) {
          const edge = s.edges.find((e) => e.steps.includes(j.step));
          expect(edge?.from, `${what} step ${j.step}`).toContain(j.from);
          expect(edge?.to, `${what} step ${j.step}`).toContain(j.to);
          expect(edge?.failure, `${what} step ${j.step} is a failure`).toBe(j.to === 'failed');
          expect(edge?.stroke).toBe(j.to === 'failed' ? 'rgb(214, 69, 69)' : 'rgb(31, 111, 235)');
          expect(s.visited).toContain(j.to);
        }
        await page.screenshot({ path: join(artifacts, `state-chart-${name}.png`), fullPage: true });
        if (name === 'failing') {
          // The chart and its steps, for docs/images/state-chart-debug-page.png.
          const table = await page.locator('#trail-rows').boundingBox();
          const height = Math.ceil((table?.y ?? 0) + (table?.height ?? 0) + 16);
          await page.setViewportSize({ width: 1280, height });
          await page.screenshot({ path: join(artifacts, 'state-chart-debug-page.png') });
          await page.setViewportSize({ width: 1280, height: 900 });
        }
      }
    } finally {
      await browser.close();
      dashboard.child.kill('SIGTERM');
    }
    await waitFor('the dashboard to stop', () => dashboard.child.exitCode !== null, { timeoutMs: 10_000 });
    expect(dashboard.child.exitCode, dashboard.output()).toBe(0);
  });
});
