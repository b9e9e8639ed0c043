/**
 * The operator's /debug pages: an index of the CRs the caller may read and one live page per
 * CR. Rendering and routing only; the HTTPS server (src/server) mounts `debugHandler` behind its
 * authentication and passes, per request, whom the caller may `get` (MayGet).
 */
import type { ScribeCr } from '../../machines/api.js';
import { chartOf } from './chart.js';
import { escapeXml as esc } from './escape.js';
import { renderHtml } from './html.js';
import { renderSvg } from './svg.js';
import { parseKind, pluralOf, type ScribeKind } from './kinds.js';
import { inspectionOf, renderJson } from './view.js';

/** What the server sends back. */
export interface DebugResponse {
  status: number;
  contentType: string;
  body: string;
}

/** Path of a CR's debug page. */
export function debugPathOf(cr: ScribeCr): string {
  const ns = encodeURIComponent(cr.metadata.namespace ?? '');
  const name = encodeURIComponent(cr.metadata.name ?? '');
  return `/debug/${pluralOf(cr.kind)}/${ns}/${name}`;
}

/** The index page: every CR with its state, linking to its page. Reloads itself every 5 s. */
export function renderDebugIndex(crs: readonly ScribeCr[]): string {
  const sorted = [...crs].sort((a, b) =>
    `${a.kind}/${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
      `${b.kind}/${b.metadata.namespace}/${b.metadata.name}`,
    ),
  );
  const rows = sorted
    .map(
      (cr) =>
        `<tr data-state="${esc(cr.status?.state ?? '')}"><td>${esc(cr.kind)}</td><td>${esc(cr.metadata.namespace ?? '')}</td>` +
        `<td><a href="${esc(debugPathOf(cr))}">${esc(cr.metadata.name ?? '')}</a></td><td>${esc(cr.status?.state ?? '')}</td>` +
        `<td>${esc(cr.status?.lastSyncTime ?? '')}</td><td>${esc(cr.status?.latestMoverStatus?.result ?? '')}</td></tr>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Scribe replications</title>
<meta http-equiv="refresh" content="5">
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #cbd2d9;padding:.25em .6em;text-align:left}</style>
</head><body><h1>Scribe replications</h1>
<table><thead><tr><th>Kind</th><th>Namespace</th><th>Name</th><th>State</th><th>Last sync</th><th>Last result</th></tr></thead>
<tbody>${rows || '<tr><td colspan="6">no ReplicationSources or ReplicationDestinations</td></tr>'}</tbody></table>
</body></html>
`;
}

/** A CR's live page: its chart with the current state and cycle highlighted, refreshed every 2 s. */
export function renderDebugPage(cr: ScribeCr): Promise<string> {
  return renderHtml(inspectionOf(cr, chartOf()), { live: true, backLink: '/debug' });
}

/** A CR's chart alone, as the live page redraws it when the CR moves. */
export function renderDebugChart(cr: ScribeCr): Promise<string> {
  const title = `${cr.kind} ${cr.metadata.namespace}/${cr.metadata.name}: ${cr.status?.state ?? 'no state yet'}`;
  return renderSvg(chartOf(), { current: cr.status?.state, title, journal: cr.status?.journal, now: Date.now() });
}

/** Reads every CR (both kinds, all namespaces the operator watches). */
export type ListCrs = () => Promise<readonly ScribeCr[]>;
/** Reads one CR, or undefined when it does not exist. */
export type GetCr = (kind: ScribeKind, namespace: string, name: string) => Promise<ScribeCr | undefined>;
/** Whether the caller may `get` CRs of `kind` in `namespace` (asked once per request and pair). */
export type MayGet = (kind: ScribeKind, namespace: string) => Promise<boolean>;

/** Everyone may read everything: for rendering without a caller (tests, tools). */
export const MAY_GET_ALL: MayGet = () => Promise.resolve(true);

const html = (status: number, body: string): DebugResponse => ({
  status,
  contentType: 'text/html; charset=utf-8',
  body,
});
const json = (status: number, body: string): DebugResponse => ({
  status,
  contentType: 'application/json; charset=utf-8',
  body,
});

/**
 * A request handler for /debug and /debug/<kind>/<namespace>/<name>, each also as JSON with
 * `?format=json` (a CR's chart alone with `?format=svg`). Takes the request URL (path and query) and what the caller may get: the
 * index lists only those CRs, and a CR's page is 403 for a caller who may not get it (asked
 * before the CR is read, so a refusal says nothing of whether it exists). Never throws for a
 * bad path.
 */
export function debugHandler(listCrs: ListCrs, getCr: GetCr): (url: string, mayGet?: MayGet) => Promise<DebugResponse> {
  return async (url, mayGet = MAY_GET_ALL) => {
    const parsed = new URL(url, 'http://debug.invalid');
    const format = parsed.searchParams.get('format');
    const asJson = format === 'json';
    const parts = parsed.pathname.replace(/\/+$/, '').split('/').slice(1).map(decodeURIComponent);
    if (parts[0] !== 'debug') return html(404, notFound(parsed.pathname));
    if (parts.length === 1) {
      const all = await listCrs();
      const visible = await Promise.all(all.map((cr) => mayGet(cr.kind, cr.metadata.namespace ?? '')));
      const crs = all.filter((_, i) => visible[i]);
      if (!asJson) return html(200, renderDebugIndex(crs));
      const list = crs.map((cr) => ({
        kind: cr.kind,
        namespace: cr.metadata.namespace,
        name: cr.metadata.name,
        state: cr.status?.state,
        path: debugPathOf(cr),
      }));
      return json(200, `${JSON.stringify(list, null, 2)}\n`);
    }
    const kind = parseKind(parts[1] ?? '');
    if (parts.length !== 4 || !kind) return html(404, notFound(parsed.pathname));
    if (!(await mayGet(kind, parts[2] ?? ''))) {
      return asJson ? json(403, '{"error":"forbidden"}\n') : html(403, forbidden(kind, parts[2] ?? ''));
    }
    const cr = await getCr(kind, parts[2] ?? '', parts[3] ?? '');
    if (!cr) return asJson ? json(404, '{"error":"not found"}\n') : html(404, notFound(parsed.pathname));
    if (format === 'svg')
      return { status: 200, contentType: 'image/svg+xml; charset=utf-8', body: await renderDebugChart(cr) };
    return asJson ? json(200, renderJson(inspectionOf(cr))) : html(200, await renderDebugPage(cr));
  };
}

function forbidden(kind: ScribeKind, namespace: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Forbidden</title></head><body><p>You may not get ${esc(pluralOf(kind))} in namespace ${esc(namespace)}: see <a href="/debug">/debug</a> for those you may.</p></body></html>\n`;
}

function notFound(path: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Not found</title></head><body><p>${esc(path)} is not a Scribe debug page: see <a href="/debug">/debug</a>, then /debug/&lt;kind&gt;/&lt;namespace&gt;/&lt;name&gt;.</p></body></html>\n`;
}
