/**
 * The chart's values for the operator's HTTP surface, rendered offline: debugPages.enabled
 * (the --debug-pages flag and the ClusterRole scribe-debug-reader, refused with
 * metrics.disableAuth) and metrics.tls.secretName (the Secret mounted as --metrics-cert-dir and
 * the ServiceMonitor verifying it with the Secret's CA and the Service's name).
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { renderChart } from '../metrics/support.js';

type Container = {
  args?: string[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
type Deployment = KubernetesObject & {
  spec: { template: { spec: { containers: Container[]; volumes?: { name: string; secret?: unknown }[] } } };
};
type ServiceMonitor = KubernetesObject & { spec: { endpoints: { tlsConfig?: Record<string, unknown> }[] } };

const deploymentOf = (objects: KubernetesObject[]) => objects.find((o) => o.kind === 'Deployment') as Deployment;
const monitorOf = (objects: KubernetesObject[]) => objects.find((o) => o.kind === 'ServiceMonitor') as ServiceMonitor;
const FORCE_MONITOR = ['--set', 'metrics.serviceMonitor.force=true'];

describe('the chart: /debug pages and the metrics certificate', () => {
  it('by default serves no /debug, grants no scribe-debug-reader, and skips verifying the self-signed certificate', async () => {
    const objects = await renderChart(FORCE_MONITOR);
    const manager = deploymentOf(objects).spec.template.spec.containers[0];
    expect(manager?.args).not.toContain('--debug-pages');
    expect(manager?.args?.some((arg) => arg.startsWith('--metrics-cert-dir'))).toBe(false);
    expect(objects.some((o) => o.metadata?.name === 'scribe-debug-reader')).toBe(false);
    expect(monitorOf(objects).spec.endpoints[0]?.tlsConfig).toEqual({ insecureSkipVerify: true });
  });

  it('debugPages.enabled: --debug-pages and the ClusterRole scribe-debug-reader for the non-resource URL /debug', async () => {
    const objects = await renderChart(['--set', 'debugPages.enabled=true']);
    expect(deploymentOf(objects).spec.template.spec.containers[0]?.args).toContain('--debug-pages');
    const role = objects.find((o) => o.kind === 'ClusterRole' && o.metadata?.name === 'scribe-debug-reader') as
      | (KubernetesObject & { rules: unknown[] })
      | undefined;
    expect(role?.rules).toEqual([{ nonResourceURLs: ['/debug'], verbs: ['get'] }]);
  });

  it('refuses debugPages.enabled with metrics.disableAuth, saying why', async () => {
    await expect(renderChart(['--set', 'debugPages.enabled=true', '--set', 'metrics.disableAuth=true'])).rejects.toThrow(
      /debugPages\.enabled needs metrics authentication: it cannot be combined with metrics\.disableAuth/,
    );
  });

  it("metrics.tls.secretName: the operator serves the Secret's tls.crt/tls.key; the ServiceMonitor verifies it with its CA", async () => {
    const objects = await renderChart([...FORCE_MONITOR, '--set', 'metrics.tls.secretName=scribe-metrics-cert']);
    const pod = deploymentOf(objects).spec.template.spec;
    const manager = pod.containers[0];
    expect(manager?.args).toContain('--metrics-cert-dir=/etc/scribe/metrics-tls');
    expect(manager?.volumeMounts).toContainEqual({
      name: 'metrics-tls',
      mountPath: '/etc/scribe/metrics-tls',
      readOnly: true,
    });
    expect(pod.volumes).toContainEqual({
      name: 'metrics-tls',
      secret: {
        secretName: 'scribe-metrics-cert',
        items: [
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
        ],
      },
    });
    expect(monitorOf(objects).spec.endpoints[0]?.tlsConfig).toEqual({
      ca: { secret: { name: 'scribe-metrics-cert', key: 'ca.crt' } },
      serverName: 'scribe-metrics.scribe-system.svc',
    });

    const custom = await renderChart([
      ...FORCE_MONITOR,
      '--set',
      'metrics.tls.secretName=scribe-metrics-cert',
      '--set',
      'metrics.tls.caKey=issuer.crt',
      '--set',
      'metrics.tls.serverName=metrics.example.com',
    ]);
    expect(monitorOf(custom).spec.endpoints[0]?.tlsConfig).toEqual({
      ca: { secret: { name: 'scribe-metrics-cert', key: 'issuer.crt' } },
      serverName: 'metrics.example.com',
    });
  });
});
