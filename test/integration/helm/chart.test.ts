/**
 * The Helm chart: lint, offline rendering, `helm install` into the real API server, and the
 * operator's ServiceAccount allowed exactly what the operator does (`kubectl auth can-i`).
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { kubeRequest } from '../../../src/kube/rest.js';
import { repoRoot, toolDir } from '../../../src/local/tools.js';
import { testKubeConfig } from '../../support/cluster.js';
import { CHART_DIR, helm, renderChart } from '../metrics/support.js';

const run = promisify(execFile);

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; nonResourceURLs?: string[] };
type Container = { securityContext?: Record<string, unknown>; args?: string[]; command?: string[] };
type Deployment = KubernetesObject & {
  spec: { template: { spec: { securityContext?: Record<string, unknown>; containers: Container[] } } };
};

describe('the Helm chart', () => {
  it("carries exactly the repository's generated CRDs (npm run crds copies them)", async () => {
    const generated = (await readdir(join(repoRoot(), 'crds'))).sort();
    expect((await readdir(join(CHART_DIR, 'crds'))).sort()).toEqual(generated);
    for (const file of generated) {
      expect(await readFile(join(CHART_DIR, 'crds', file), 'utf8'), file).toBe(
        await readFile(join(repoRoot(), 'crds', file), 'utf8'),
      );
    }
  });

  it('passes helm lint --strict', async () => {
    const output = await helm(['lint', '--strict', CHART_DIR]);
    expect(output).toContain('0 chart(s) failed');
  });

  it('decision 8: renders a restricted Deployment, least-privilege RBAC, the seed-named scribe-metrics-reader and metrics Service, auth on by default', async () => {
    const objects = await renderChart();
    const kinds = objects.map((o) => `${o.kind}/${o.metadata?.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'ServiceAccount/scribe',
        'ClusterRole/scribe-manager',
        'ClusterRole/scribe-metrics-reader',
        'Role/scribe-leader-election',
        'Deployment/scribe',
        'Service/scribe-metrics',
      ]),
    );
    // Without the Prometheus Operator's CRDs (offline) neither is rendered unless forced.
    expect(kinds.some((k) => k.startsWith('ServiceMonitor/') || k.startsWith('PrometheusRule/'))).toBe(false);

    for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
      for (const rule of (role as unknown as { rules: Rule[] }).rules) {
        expect([...rule.verbs, ...(rule.resources ?? []), ...(rule.apiGroups ?? [])], role.metadata?.name).not.toContain('*');
      }
    }

    const deployment = objects.find((o) => o.kind === 'Deployment') as Deployment;
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const [manager] = pod.containers;
    expect(manager?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(manager?.command).toEqual(['/scribe/bin/scribe']);
    expect(manager?.args).toEqual(expect.arrayContaining(['operator', '--leader-elect']));
    expect(manager?.args).not.toContain('--metrics-disable-auth');

    const service = objects.find((o) => o.kind === 'Service') as KubernetesObject & { spec: { ports: { name: string }[] } };
    expect(service.metadata?.labels?.['control-plane']).toBe('scribe-controller');
    expect(service.spec.ports.map((p) => p.name)).toEqual(['https']);
  });

  it('decision 8: metrics.disableAuth: true disables authentication; forced monitoring objects as the seed names them', async () => {
    const objects = await renderChart([
      '--set',
      'metrics.disableAuth=true',
      '--set',
      'metrics.serviceMonitor.force=true',
      '--set',
      'alerts.force=true',
    ]);
    const deployment = objects.find((o) => o.kind === 'Deployment') as Deployment;
    expect(deployment.spec.template.spec.containers[0]?.args).toContain('--metrics-disable-auth');
    const monitor = objects.find((o) => o.kind === 'ServiceMonitor') as KubernetesObject & { spec: unknown };
    expect(monitor.metadata?.name).toBe('scribe-monitor');
    expect(monitor.spec).toEqual({
      endpoints: [{ interval: '30s', path: '/metrics', port: 'https', scheme: 'https', tlsConfig: { insecureSkipVerify: true } }],
      selector: { matchLabels: { 'control-plane': 'scribe-controller' } },
    });
    expect(objects.some((o) => o.kind === 'PrometheusRule')).toBe(true);
  });

  it('installs into the real API server; the ServiceAccount may do what the operator does and nothing else', async () => {
    const kc = testKubeConfig();
    const kubeconfig = inject('kubeconfig');
    const suffix = randomBytes(3).toString('hex');
    const release = `scribe-${suffix}`;
    const ns = `scribe-system-${suffix}`;
    await helm(['install', release, CHART_DIR, '-n', ns, '--create-namespace', '--kubeconfig', kubeconfig]);
    try {
      const status = JSON.parse(await helm(['status', release, '-n', ns, '-o', 'json', '--kubeconfig', kubeconfig]));
      expect(status.info.status).toBe('deployed');
      // The CRDs the global setup installed are left alone; the chart's objects exist.
      await kubeRequest(kc, { method: 'GET', path: `/apis/apps/v1/namespaces/${ns}/deployments/${release}` });
      await kubeRequest(kc, { method: 'GET', path: '/apis/rbac.authorization.k8s.io/v1/clusterroles/scribe-metrics-reader' });

      const kubectl = join(await toolDir('kubernetes'), 'kubectl');
      const as = `system:serviceaccount:${ns}:${release}`;
      const canI = async (...words: string[]) =>
        run(kubectl, ['--kubeconfig', kubeconfig, 'auth', 'can-i', `--as=${as}`, ...words]).then(
          () => true,
          (error: { code?: number; stderr?: string }) => {
            if (error.code === 1) return false;
            throw error;
          },
        );
      const lease = `${release}-leader-election`;
      const allowed: string[][] = [
        ['watch', 'replicationsources.scribe.backube', '-A'],
        ['list', 'replicationdestinations.scribe.backube', '-A'],
        ['patch', 'replicationsources.scribe.backube', '--subresource=status', '-n', 'any'],
        ['patch', 'replicationdestinations.scribe.backube', '--subresource=status', '-n', 'any'],
        ['create', 'jobs.batch', '-n', 'any'],
        ['delete', 'jobs.batch', '-n', 'any'],
        ['create', 'persistentvolumeclaims', '-n', 'any'],
        ['delete', 'persistentvolumeclaims', '-n', 'any'],
        ['create', 'volumesnapshots.snapshot.storage.k8s.io', '-n', 'any'],
        ['create', 'services', '-n', 'any'],
        ['create', 'secrets', '-n', 'any'],
        ['watch', 'secrets', '-A'],
        ['watch', 'pods', '-A'],
        ['create', 'events.events.k8s.io', '-n', 'any'],
        ['patch', 'events.events.k8s.io', '-n', 'any'],
        ['create', 'leases.coordination.k8s.io', '-n', ns],
        ['get', `leases.coordination.k8s.io/${lease}`, '-n', ns],
        ['update', `leases.coordination.k8s.io/${lease}`, '-n', ns],
        ['create', 'tokenreviews.authentication.k8s.io'],
        ['create', 'subjectaccessreviews.authorization.k8s.io'],
      ];
      const denied: string[][] = [
        ['delete', 'namespaces'],
        ['update', 'secrets', '-n', 'any'],
        ['patch', 'secrets', '-n', 'any'],
        ['create', 'pods', '-n', 'any'],
        ['delete', 'pods', '-n', 'any'],
        ['create', 'pods/exec', '-n', 'any'],
        ['update', 'replicationsources.scribe.backube', '-n', 'any'],
        ['delete', 'replicationdestinations.scribe.backube', '-n', 'any'],
        ['update', 'jobs.batch', '-n', 'any'],
        ['patch', 'persistentvolumeclaims', '-n', 'any'],
        ['delete', 'persistentvolumes'],
        ['delete', 'volumesnapshotcontents.snapshot.storage.k8s.io'],
        ['get', 'configmaps', '-n', 'any'],
        ['list', 'nodes'],
        ['get', 'leases.coordination.k8s.io/kube-controller-manager', '-n', 'kube-system'],
        ['create', 'leases.coordination.k8s.io', '-n', 'kube-system'],
        ['update', `leases.coordination.k8s.io/other`, '-n', ns],
        ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
        ['create', 'customresourcedefinitions.apiextensions.k8s.io'],
        ['get', '/metrics'],
      ];
      const answers = async (checks: string[][]) =>
        Object.fromEntries(await Promise.all(checks.map(async (c) => [c.join(' '), await canI(...c)] as const)));
      expect(await answers(allowed)).toEqual(Object.fromEntries(allowed.map((c) => [c.join(' '), true])));
      expect(await answers(denied)).toEqual(Object.fromEntries(denied.map((c) => [c.join(' '), false])));
    } finally {
      await helm(['uninstall', release, '-n', ns, '--kubeconfig', kubeconfig]).catch(() => undefined);
      await kubeRequest(kc, { method: 'DELETE', path: `/api/v1/namespaces/${ns}` }).catch(() => undefined);
    }
  });
});
