import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import { STATES } from '../../../machines/context.js';
import { debugHandler, renderDebugIndex, renderDebugPage } from '../../../src/inspect/debug.js';
import { renderHtml } from '../../../src/inspect/html.js';
import { renderText } from '../../../src/inspect/text.js';
import { inspectionOf, renderJson } from '../../../src/inspect/view.js';

/** A ReplicationSource caught mid-sync, as the operator writes its status. */
function midSync(state = 'moving'): ScribeCr {
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationSource',
    metadata: { name: 'database-source', namespace: 'source' },
    spec: { sourcePVC: 'mysql-pv-claim', rsync: { copyMethod: 'Clone', address: '10.0.0.1' } },
    status: {
      state,
      journal: [
        {
          time: '2024-01-01T10:00:00Z',
          event: 'observe',
          from: 'idle',
          to: 'snapshotting',
          reason: 'manual trigger "x"',
        },
        {
          time: '2024-01-01T10:00:02Z',
          event: 'observe',
          from: 'snapshotting',
          to: state,
          reason: 'volume <ready> & ok',
        },
      ],
      cycle: {
        id: 'c1',
        objects: { pointInTime: 'scribe-src-database-source', job: 'scribe-rsync-src-database-source' },
      },
      conditions: [
        {
          type: 'Synchronizing',
          status: 'True',
          reason: 'SyncInProgress',
          message: 'Synchronization in-progress',
          lastTransitionTime: '2024-01-01T10:00:00Z',
        },
      ],
    },
  };
}

describe('inspection of a CR', () => {
  it('JSON names the current state, the chart, the journal and the cycle objects', () => {
    const parsed = JSON.parse(renderJson(inspectionOf(midSync()))) as Record<string, unknown> & {
      chart: { states: { key: string }[] };
    };
    expect(parsed).toMatchObject({
      kind: 'ReplicationSource',
      namespace: 'source',
      name: 'database-source',
      state: 'moving',
    });
    expect(parsed.chart.states.map((s) => s.key).sort()).toEqual([...STATES].sort());
    expect(parsed.cycle).toMatchObject({ id: 'c1', objects: { job: 'scribe-rsync-src-database-source' } });
    expect(parsed.journal).toHaveLength(2);
  });

  it('text shows the state, the transitions with their causes, and the objects', () => {
    const text = renderText(inspectionOf(midSync()));
    expect(text).toContain('State:        moving');
    expect(text).toContain('[moving]');
    expect(text).toMatch(/snapshotting\s+moving\s+observe\s+volume <ready> & ok/);
    expect(text).toMatch(/job\s+scribe-rsync-src-database-source/);
    expect(text).toMatch(/Synchronizing\s+True\s+SyncInProgress/);
  });

  it('text draws the chart as a table: boxes once, the steps of the cycle numbered on their transitions', () => {
    const text = renderText(inspectionOf(midSync(), undefined, Date.parse('2024-01-01T10:00:05Z')));
    expect(text).toMatch(/\(working states\): idle waitingForPvc snapshotting moving preserving complete failed/);
    expect(text).toMatch(/^ {9}\(working states\) +invalid +invalid spec$/m);
    expect(text).toMatch(/^ {2}1 +idle +snapshotting +syncDue \|\| startRecorded$/m);
    expect(text).toMatch(/^ {2}2 +snapshotting +moving +volume ready$/m);
    // This cycle: step, reason and how long the CR stayed (the current state until now).
    expect(text).toMatch(/^2 +snapshotting +moving +volume <ready> & ok +3s$/m);
    expect(text).toContain('[moving] (3s)');
  });

  it('HTML embeds the chart with the current state highlighted and escapes status text', async () => {
    const html = await renderHtml(inspectionOf(midSync('preserving')));
    expect(html).toContain('<g class="state visited current" id="state-preserving"');
    for (const state of STATES) expect(html).toContain(`data-state="${state}"`);
    expect(html).toContain('volume &lt;ready&gt; &amp; ok');
    expect(html).toContain('scribe-rsync-src-database-source');
    expect(html).toContain('SyncInProgress');
    // Opens offline: nothing is loaded from anywhere, and the static page has no script.
    expect(html).not.toMatch(/<script|src=|<link|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});

describe('/debug pages', () => {
  const crs = [
    midSync(),
    { ...midSync('idle'), kind: 'ReplicationDestination', metadata: { name: 'rd', namespace: 'dest' } } as ScribeCr,
  ];
  const handler = debugHandler(
    async () => crs,
    async (kind, ns, name) =>
      crs.find((c) => c.kind === kind && c.metadata.namespace === ns && c.metadata.name === name),
  );

  it('the index links every CR with its state', () => {
    const html = renderDebugIndex(crs);
    expect(html).toContain('href="/debug/replicationsources/source/database-source"');
    expect(html).toContain('href="/debug/replicationdestinations/dest/rd"');
    expect(html).toContain('<tr data-state="moving">');
  });

  it('a CR page polls its JSON every 2 s with an inline script only', async () => {
    const html = await renderDebugPage(midSync());
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    expect(scripts).toEqual(['<script>']);
    expect(html).toContain("fetch('?format=json'");
    expect(html).toContain('setTimeout(poll,2000)');
    expect(html).toContain('id="journal-rows"');
    expect(html).not.toMatch(/src=|<link/);
  });

  it('routes /debug, a CR page, their JSON, and answers 404 for the rest', async () => {
    expect(await handler('/debug')).toMatchObject({ status: 200, contentType: 'text/html; charset=utf-8' });
    const list = await handler('/debug?format=json');
    expect(JSON.parse(list.body)).toHaveLength(2);
    const page = await handler('/debug/replicationsources/source/database-source');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<g class="state visited current" id="state-moving"');
    const json = await handler('/debug/rs/source/database-source?format=json');
    expect(json.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(json.body).state).toBe('moving');
    expect((await handler('/debug/rd/dest/rd')).status).toBe(200);
    expect((await handler('/debug/rd/dest/missing')).status).toBe(404);
    expect((await handler('/debug/rd/dest/missing?format=json')).status).toBe(404);
    expect((await handler('/debug/pods/x/y')).status).toBe(404);
    expect((await handler('/metrics')).status).toBe(404);
  });
  it('shows only what the caller may get: the index filtered, another CR 403 before it is read', async () => {
    const asked: string[] = [];
    const sourcesOnly = (kind: string, namespace: string) => {
      asked.push(`${kind}/${namespace}`);
      return Promise.resolve(kind === 'ReplicationSource' && namespace === 'source');
    };
    const index = await handler('/debug', sourcesOnly);
    expect(index.body).toContain('href="/debug/replicationsources/source/database-source"');
    expect(index.body).not.toContain('/debug/replicationdestinations/dest/rd');
    const list = JSON.parse((await handler('/debug?format=json', sourcesOnly)).body) as { name: string }[];
    expect(list.map((cr) => cr.name)).toEqual(['database-source']);
    expect((await handler('/debug/rs/source/database-source', sourcesOnly)).status).toBe(200);
    const refused = await handler('/debug/rd/dest/rd', sourcesOnly);
    expect(refused.status).toBe(403);
    expect(refused.body).not.toContain('<svg');
    expect((await handler('/debug/rd/dest/rd?format=json', sourcesOnly)).status).toBe(403);
    // Refused whether or not it exists: a missing CR where the caller may not look is 403, not 404.
    expect((await handler('/debug/rd/dest/missing', sourcesOnly)).status).toBe(403);
    expect(asked).toContain('ReplicationDestination/dest');
  });
});
