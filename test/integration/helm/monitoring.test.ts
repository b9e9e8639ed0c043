/**
 * The chart's monitoring objects through its Capabilities checks: with the Prometheus Operator's
 * real CRDs installed (the global setup does, from tools/prometheus-crds), a plain `helm install`
 * (no `force` values) creates the ServiceMonitor and the PrometheusRule, and the API server
 * accepts them against the upstream schemas. chart.test.ts covers the forced, offline path.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubeRequest } from '../../../src/kube/rest.js';
import { deleteNamespace, testKubeConfig } from '../../support/cluster.js';
import { CHART_DIR, helm } from '../metrics/support.js';

const MONITORING = '/apis/monitoring.coreos.com/v1';

type ServiceMonitor = KubernetesObject & {
  spec: { endpoints: Array<Record<string, unknown>>; selector: { matchLabels: Record<string, string> } };
};
type PrometheusRule = KubernetesObject & {
  spec: { groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string }> }> };
};

describe("the chart with the Prometheus Operator's CRDs present", () => {
  it('helm install without force flags creates the ServiceMonitor and the PrometheusRule', async () => {
    const kc = testKubeConfig();
    const kubeconfig = inject('kubeconfig');
    // The CRDs must be served, or this test would only show that nothing was rendered.
    const served = await kubeRequest<{ resources: { name: string }[] }>(kc, { method: 'GET', path: MONITORING });
    expect(served.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['servicemonitors', 'prometheusrules']));

    const suffix = randomBytes(3).toString('hex');
    const release = `scribe-mon-${suffix}`;
    const ns = `scribe-monitoring-${suffix}`;
    await helm(['install', release, CHART_DIR, '-n', ns, '--create-namespace', '--kubeconfig', kubeconfig]);
    try {
      // Helm rendered both against the live cluster's capabilities.
      const manifest = await helm(['get', 'manifest', release, '-n', ns, '--kubeconfig', kubeconfig]);
      const kinds = parseAllDocuments(manifest)
        .map((document) => document.toJS() as KubernetesObject | null)
        .map((object) => `${object?.kind}/${object?.metadata?.name}`);
      expect(kinds).toEqual(expect.arrayContaining(['ServiceMonitor/scribe-monitor', `PrometheusRule/${release}-alerts`]));

      // ... and the API server stored them: names as the templates give them.
      const monitor = await kubeRequest<ServiceMonitor>(kc, {
        method: 'GET',
        path: `${MONITORING}/namespaces/${ns}/servicemonitors/scribe-monitor`,
      });
      expect(monitor.metadata?.labels?.['control-plane']).toBe('scribe-controller');
      expect(monitor.spec.selector).toEqual({ matchLabels: { 'control-plane': 'scribe-controller' } });
      expect(monitor.spec.endpoints).toEqual([
        {
          interval: '30s',
          path: '/metrics',
          port: 'https',
          scheme: 'https',
          bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
          tlsConfig: { insecureSkipVerify: true },
        },
      ]);

      const rule = await kubeRequest<PrometheusRule>(kc, {
        method: 'GET',
        path: `${MONITORING}/namespaces/${ns}/prometheusrules/${release}-alerts`,
      });
      const alerts = rule.spec.groups.flatMap((group) => group.rules.map((r) => r.alert));
      expect(alerts.sort()).toEqual([
        'ScribeMissedIntervals',
        'ScribeOperatorDown',
        'ScribeRecoveryPointObjectiveMissed',
        'ScribeSyncFailing',
        'ScribeSyncStalled',
        'ScribeVolumeOutOfSync',
      ]);
      const rpo = rule.spec.groups.flatMap((group) => group.rules).find((r) => r.alert === 'ScribeRecoveryPointObjectiveMissed');
      expect(rpo?.expr).toContain('scribe_replication_created_timestamp_seconds');
      expect(rpo?.expr).toContain('> 86400');
    } finally {
      await helm(['uninstall', release, '-n', ns, '--kubeconfig', kubeconfig]).catch(() => undefined);
      await deleteNamespace(kc, ns);
    }
  });
});
