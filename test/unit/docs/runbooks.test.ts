/**
 * Every alert of the chart's PrometheusRule points its `runbook_url` at its own runbook, a
 * section of docs/metrics.md whose heading is the alert's name: the URL is the chart's
 * `alerts.runbookBaseUrl` (that page) and the anchor GitHub gives the heading.
 */
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CHART_DIR, helm } from '../../../src/local/helm.js';
import { anchors, headings, readRepoFile, slug } from './markdown.js';

interface Rule {
  alert?: string;
  annotations?: Record<string, string>;
}

/** The alerting rules of the rendered PrometheusRule. */
async function renderedAlerts(): Promise<Rule[]> {
  const text = await helm([
    'template',
    'scribe',
    CHART_DIR,
    '-n',
    'scribe-system',
    '--set',
    'alerts.force=true',
    '--show-only',
    'templates/prometheusrule.yaml',
  ]);
  const [rule] = parseAllDocuments(text).map(
    (document) => document.toJS() as { spec: { groups: { rules: Rule[] }[] } },
  );
  return (rule?.spec.groups ?? []).flatMap((group) => group.rules).filter((candidate) => candidate.alert);
}

describe('the alerts’ runbooks', () => {
  it('are sections of docs/metrics.md, one per alert, where each runbook_url points', async () => {
    const values = parse(await readRepoFile('helm/scribe/values.yaml')) as { alerts: { runbookBaseUrl: string } };
    const base = values.alerts.runbookBaseUrl;
    expect(base).toMatch(/\/docs\/metrics\.md$/);
    const metrics = await readRepoFile('docs/metrics.md');
    const pageAnchors = anchors(metrics);
    const alerts = await renderedAlerts();
    expect(alerts.length).toBeGreaterThan(0);
    for (const { alert = '', annotations = {} } of alerts) {
      const url = annotations.runbook_url ?? '';
      expect(url, alert).toBe(`${base}#${slug(alert)}`);
      expect(pageAnchors, `${alert}: docs/metrics.md has no heading for #${slug(alert)}`).toContain(slug(alert));
      expect(headings(metrics), `${alert}: its runbook's heading`).toContain(alert);
    }
  });
});
