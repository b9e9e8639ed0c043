/**
 * HTML of one CR's inspection: the chart as inline SVG, the recent transitions, the objects of
 * the current cycle and the conditions. One file with no external scripts, styles or fonts, so
 * it opens offline; the live variant refreshes itself from `?format=json`.
 */
import { escapeXml as esc } from './escape.js';
import { renderSvg } from './svg.js';
import type { Inspection } from './view.js';

/** Options of an HTML rendering. */
export interface HtmlOptions {
  /** Poll `?format=json` every 2 s and update the highlight, state and tables in place. */
  live?: boolean;
  /** Link shown above the title (the /debug index). */
  backLink?: string;
}

const STYLE = `body{font-family:sans-serif;margin:1.5em;color:#1f2933}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #cbd2d9;padding:.25em .6em;text-align:left;vertical-align:top;font-size:13px}
th{background:#f5f7fa}code,pre{font-family:monospace}pre{background:#f5f7fa;padding:.6em;overflow:auto;max-height:20em}
.state-name{font-weight:bold;background:#ffd54f;padding:0 .3em}.chart{overflow:auto;border:1px solid #e4e7eb}
tr.failure td{color:#a61b1b}`;

/** Table rows as HTML. */
function rows(cells: readonly (readonly string[])[]): string {
  return cells.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
}

/** The live-update script: plain DOM, text only (no innerHTML), so status text cannot inject markup. */
const LIVE_SCRIPT = `(function(){
function fill(id,rows){var b=document.getElementById(id);if(!b)return;while(b.firstChild)b.removeChild(b.firstChild);
rows.forEach(function(r){var tr=document.createElement('tr');r.forEach(function(c){var td=document.createElement('td');td.textContent=c==null?'':String(c);tr.appendChild(td);});b.appendChild(tr);});}
var seen=document.body.getAttribute('data-journal-key');
function redraw(){fetch('?format=svg',{cache:'no-store'}).then(function(r){return r.ok?r.text():null;}).then(function(t){if(!t)return;
var doc=new DOMParser().parseFromString(t,'image/svg+xml');var next=doc.documentElement;var old=document.querySelector('svg[data-machine]');
if(old&&next&&next.nodeName==='svg')old.parentNode.replaceChild(document.importNode(next,true),old);}).catch(function(){});}
function apply(d){
var last=d.journal.length?d.journal[d.journal.length-1]:null;var key=(d.state||'')+'|'+d.journal.length+'|'+(last?last.time:'');
if(seen!==key)redraw();seen=key;
document.querySelectorAll('[data-state]').forEach(function(g){g.classList.toggle('current',g.getAttribute('data-state')===d.state);});
var svg=document.querySelector('svg[data-machine]');if(svg)svg.setAttribute('data-current',d.state||'');
var s=document.getElementById('state');if(s)s.textContent=d.state||'(not yet reconciled)';
fill('journal-rows',d.journal.slice().reverse().map(function(j){return[j.time,j.from,j.to,j.event,j.reason||''];}));
fill('trail-rows',d.trail.steps.map(function(t){return[t.step,t.from,t.to,t.reason||'',t.time,t.stay||''];}));
fill('object-rows',Object.keys(d.cycle.objects).map(function(k){return[k,d.cycle.objects[k]];}));
fill('condition-rows',d.conditions.map(function(c){return[c.type,c.status,c.reason,c.lastTransitionTime,c.message];}));
var u=document.getElementById('updated');if(u)u.textContent=new Date().toISOString();}
function poll(){fetch('?format=json',{cache:'no-store'}).then(function(r){return r.ok?r.json():null;}).then(function(d){if(d)apply(d);}).catch(function(){}).then(function(){setTimeout(poll,2000);});}
setTimeout(poll,2000);})();`;

/**
 * What the live page compares to know the CR moved (and redraw its chart): the state and the
 * journal's length and last time, as the script computes it from `?format=json`.
 */
function journalKey(i: Inspection): string {
  const last = i.journal[i.journal.length - 1];
  return `${i.state ?? ''}|${i.journal.length}|${last ? last.time : ''}`;
}

/** Renders an inspection as a complete HTML document. */
export async function renderHtml(i: Inspection, options: HtmlOptions = {}): Promise<string> {
  const title = `${i.kind} ${i.namespace}/${i.name}`;
  const chart = await renderSvg(i.chart, {
    current: i.state,
    title: `${title}: ${i.state ?? 'no state yet'}`,
    journal: i.journal,
    now: Date.parse(i.inspectedAt),
  });
  const steps = i.trail.steps
    .map(
      (t) =>
        `<tr${t.failure ? ' class="failure"' : ''}>${[
          String(t.step),
          t.from,
          t.to,
          t.reason ?? '',
          t.time,
          t.stay ?? '',
        ]
          .map((c) => `<td>${esc(c)}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  const journal = [...i.journal].reverse().map((j) => [j.time, j.from, j.to, j.event, j.reason ?? '']);
  const objects = Object.entries(i.cycle.objects);
  const conditions = i.conditions.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime, c.message]);
  const mover = i.latestMoverStatus;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body data-kind="${esc(i.kind)}" data-namespace="${esc(i.namespace)}" data-name="${esc(i.name)}" data-journal-key="${esc(journalKey(i))}">
${options.backLink ? `<p><a href="${esc(options.backLink)}">all replications</a></p>` : ''}
<h1>${esc(title)}</h1>
<p>State: <span class="state-name" id="state">${esc(i.state ?? '(not yet reconciled)')}</span>
${i.lastSyncTime ? ` · last sync ${esc(i.lastSyncTime)} (${esc(i.lastSyncDuration ?? '?')})` : ''}
${i.nextSyncTime ? ` · next sync ${esc(i.nextSyncTime)}` : ''}
${options.live ? ' · updated <span id="updated">now</span>' : ''}</p>
<div class="chart">
${chart}
</div>
<h2>This cycle, step by step</h2>
<table><thead><tr><th>Step</th><th>From</th><th>To</th><th>Reason</th><th>Entered</th><th>Stayed</th></tr></thead>
<tbody id="trail-rows">${steps}</tbody></table>
<h2>Recent transitions</h2>
<table><thead><tr><th>Time</th><th>From</th><th>To</th><th>Event</th><th>Reason</th></tr></thead>
<tbody id="journal-rows">${rows(journal)}</tbody></table>
<h2>Objects of the current cycle${i.cycle.id ? ` (${esc(i.cycle.id)})` : ''}</h2>
<table><thead><tr><th>Role</th><th>Name</th></tr></thead><tbody id="object-rows">${rows(objects)}</tbody></table>
<h2>Conditions</h2>
<table><thead><tr><th>Type</th><th>Status</th><th>Reason</th><th>Since</th><th>Message</th></tr></thead>
<tbody id="condition-rows">${rows(conditions)}</tbody></table>
${mover?.result || mover?.logs ? `<h2>Last mover result: ${esc(mover.result ?? '?')}</h2><pre>${esc(mover.logs ?? '')}</pre>` : ''}
${options.live ? `<script>${LIVE_SCRIPT}</script>` : ''}
</body></html>
`;
}
