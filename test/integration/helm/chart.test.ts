/**
 * The Helm chart: lint, offline rendering, `helm install` into the real API server, and the
 * operator's ServiceAccount allowed exactly what the operator does (`kubectl auth can-i`).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../../src/kube/resources.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../../../src/local/processes.js';
import { repoRoot, toolDir } from '../../../src/local/tools.js';
import { deleteNamespace, testKubeConfig, testNamespace } from '../../support/cluster.js';
import { CHART_DIR, helm, renderChart } from '../metrics/support.js';

const run = promisify(execFile);

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; nonResourceURLs?: string[] };
type Container = {
  securityContext?: Record<string, unknown>;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string }[];
};
type Deployment = KubernetesObject & {
  spec: { template: { spec: { securityContext?: Record<string, unknown>; containers: Container[] } } };
};

/** `kubectl auth can-i --as=USER` for each check: the answers by the check's words. */
function canIAnswers(kubeconfig: string, user: string) {
  const canI = async (...words: string[]) =>
    run(join(await toolDir('kubernetes'), 'kubectl'), ['--kubeconfig', kubeconfig, 'auth', 'can-i', `--as=${user}`, ...words]).then(
      () => true,
      (error: { code?: number; stderr?: string }) => {
        if (error.code === 1) return false;
        throw error;
      },
    );
  return async (checks: string[][]) =>
    Object.fromEntries(await Promise.all(checks.map(async (c) => [c.join(' '), await canI(...c)] as const)));
}

/** A copy of `kubeconfig` that authenticates as a ServiceAccount, with a token the API server issues. */
async function serviceAccountKubeconfig(kubeconfig: string, namespace: string, account: string): Promise<string> {
  const answer = await kubeRequest<{ status: { token: string } }>(testKubeConfig(), {
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const config = parse(await readFile(kubeconfig, 'utf8')) as { users: Array<{ user: object }> };
  for (const entry of config.users) entry.user = { token: answer.status.token };
  const path = join(await mkdtemp(join(tmpdir(), 'scribe-chart-')), 'kubeconfig');
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

describe('the Helm chart', () => {
  it("gives the operator's node the chart's nodeOptions on its command line (bin/scribe, SCRIBE_NODE_FLAGS)", async () => {
    const objects = await renderChart([]);
    const manager = (objects.find((o) => o.kind === 'Deployment') as Deployment).spec.template.spec.containers[0];
    const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as { nodeOptions: string };
    const flags = manager?.env?.find((e) => e.name === 'SCRIBE_NODE_FLAGS')?.value;
    expect(flags).toBe(values.nodeOptions);
    expect(flags).toContain('--no-memory-reducer');
    // The image's launcher with an operator bundle that reports node's flags: node accepts them all.
    const app = await mkdtemp(join(tmpdir(), 'scribe-launcher-'));
    await mkdir(join(app, 'bin'));
    await mkdir(join(app, 'dist'));
    await copyFile(join(repoRoot(), 'bin', 'scribe'), join(app, 'bin', 'scribe'));
    await writeFile(join(app, 'dist', 'operator.mjs'), 'console.log(JSON.stringify(process.execArgv));\n');
    const { stdout } = await run('bash', [join(app, 'bin', 'scribe'), 'operator'], {
      env: { ...process.env, SCRIBE_NODE_FLAGS: flags },
    });
    expect(JSON.parse(stdout)).toEqual(flags?.split(' '));
  });

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

      const answers = canIAnswers(kubeconfig, `system:serviceaccount:${ns}:${release}`);
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
        ['patch', 'volumesnapshots.snapshot.storage.k8s.io', '-n', 'any'],
        ['get', 'pods', '--subresource=log', '-n', 'any'],
        ['create', 'services', '-n', 'any'],
        ['create', 'secrets', '-n', 'any'],
        // A create answered 409: that one Secret is read to check it is the CR's own (issue 21).
        ['get', 'secrets', '-n', 'any'],
        ['watch', 'pods', '-A'],
        ['create', 'events.events.k8s.io', '-n', 'any'],
        ['patch', 'events.events.k8s.io', '-n', 'any'],
        // The Job controller's FailedCreate Events on mover Jobs (a pod a ResourceQuota refused).
        ['watch', 'events', '-A'],
        ['create', 'leases.coordination.k8s.io', '-n', ns],
        ['get', `leases.coordination.k8s.io/${lease}`, '-n', ns],
        ['update', `leases.coordination.k8s.io/${lease}`, '-n', ns],
        ['create', 'tokenreviews.authentication.k8s.io'],
        ['create', 'subjectaccessreviews.authorization.k8s.io'],
        // The volume populator re-points a restored prime PVC's PV at the user's PVC (populator-rbac.yaml).
        ['get', 'persistentvolumes'],
        ['patch', 'persistentvolumes'],
      ];
      const denied: string[][] = [
        ['delete', 'namespaces'],
        ['list', 'persistentvolumes'],
        ['create', 'persistentvolumes'],
        // Issue 21: Secrets are never listed or watched (RBAC cannot limit either to a label),
        // and Services and Secrets go with their CR (ownerReferences), never deleted by Scribe.
        ['list', 'secrets', '-A'],
        ['watch', 'secrets', '-A'],
        ['delete', 'secrets', '-n', 'any'],
        ['delete', 'services', '-n', 'any'],
        ['get', 'pods', '-n', 'any'],
        ['get', 'replicationsources.scribe.backube', '--subresource=status', '-n', 'any'],
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
      expect(await answers(allowed)).toEqual(Object.fromEntries(allowed.map((c) => [c.join(' '), true])));
      expect(await answers(denied)).toEqual(Object.fromEntries(denied.map((c) => [c.join(' '), false])));
    } finally {
      await helm(['uninstall', release, '-n', ns, '--kubeconfig', kubeconfig]).catch(() => undefined);
      await deleteNamespace(kc, ns);
    }
  });

  it('watchNamespace: a Role in that one namespace, no Secret read elsewhere, and the operator serves it with just those rights', async () => {
    const kc = testKubeConfig();
    const kubeconfig = inject('kubeconfig');
    const suffix = randomBytes(3).toString('hex');
    const release = `scribe-${suffix}`;
    const ns = `scribe-system-${suffix}`;
    const watched = await testNamespace(kc, 'watched');
    const other = await testNamespace(kc, 'other');
    await helm([
      ...['install', release, CHART_DIR, '-n', ns, '--create-namespace', '--kubeconfig', kubeconfig],
      ...['--set', `watchNamespace=${watched}`],
    ]);
    let operator: ManagedProcess | undefined;
    try {
      const answers = canIAnswers(kubeconfig, `system:serviceaccount:${ns}:${release}`);
      const allowed: string[][] = [
        ['get', 'secrets', '-n', watched],
        ['create', 'secrets', '-n', watched],
        ['watch', 'replicationdestinations.scribe.backube', '-n', watched],
        ['patch', 'replicationdestinations.scribe.backube', '--subresource=status', '-n', watched],
        ['create', 'jobs.batch', '-n', watched],
        ['watch', 'pods', '-n', watched],
        ['create', 'events.events.k8s.io', '-n', watched],
        ['create', 'leases.coordination.k8s.io', '-n', ns],
        ['create', 'tokenreviews.authentication.k8s.io'],
        ['create', 'subjectaccessreviews.authorization.k8s.io'],
      ];
      const denied: string[][] = [
        ['watch', 'secrets', '-A'],
        ['watch', 'secrets', '-n', watched],
        ['get', 'secrets', '-n', other],
        ['list', 'secrets', '-n', ns],
        ['list', 'replicationsources.scribe.backube', '-A'],
        ['create', 'jobs.batch', '-n', other],
        ['watch', 'pods', '-A'],
        ['update', 'secrets', '-n', watched],
      ];
      expect(await answers(allowed)).toEqual(Object.fromEntries(allowed.map((c) => [c.join(' '), true])));
      expect(await answers(denied)).toEqual(Object.fromEntries(denied.map((c) => [c.join(' '), false])));

      // The operator as the chart runs it (the installed Deployment's arguments), with the
      // ServiceAccount's own token: a destination in the watched namespace gets its objects.
      const deployment = await kubeRequest<Deployment>(kc, {
        method: 'GET',
        path: `/apis/apps/v1/namespaces/${ns}/deployments/${release}`,
      });
      const args = deployment.spec.template.spec.containers[0]?.args ?? [];
      expect(args).toContain(`--namespace=${watched}`);
      const dir = await mkdtemp(join(tmpdir(), 'scribe-chart-operator-'));
      const health = await freePort();
      operator = startProcess(
        'operator',
        join(repoRoot(), 'bin', 'scribe'),
        [
          ...args.filter((arg) => !arg.startsWith('--metrics-bind-address') && !arg.startsWith('--health-probe')),
          `--kubeconfig=${await serviceAccountKubeconfig(kubeconfig, ns, release)}`,
          `--leader-election-namespace=${ns}`,
          '--metrics-bind-address=0',
          `--health-probe-bind-address=127.0.0.1:${health}`,
        ],
        join(dir, 'operator.log'),
      );
      await kubeRequest(kc, {
        method: 'POST',
        path: collectionPath(RESOURCES.ReplicationDestination, watched),
        body: {
          apiVersion: 'scribe.backube/v1alpha1',
          kind: 'ReplicationDestination',
          metadata: { name: 'db' },
          spec: {
            trigger: { manual: 'one' },
            rsync: { copyMethod: 'None', capacity: '1Gi', accessModes: ['ReadWriteOnce'] },
          },
        },
      });
      const exists = (resource: (typeof RESOURCES)[keyof typeof RESOURCES], name: string) =>
        kubeRequest(kc, { method: 'GET', path: objectPath(resource, watched, name) }).then(
          () => true,
          () => false,
        );
      // The generated key Secret, the Service and the mover Job: each needed a right of the Role.
      await waitFor(
        "the destination's key Secret, Service and Job",
        async () =>
          (await exists(RESOURCES.Secret, 'scribe-rsync-dest-src-db')) &&
          (await exists(RESOURCES.Service, 'scribe-rsync-dest-db')) &&
          (await exists(RESOURCES.Job, 'scribe-rsync-dest-db')),
        { timeoutMs: 60_000 },
      );
      const log = await readFile(join(dir, 'operator.log'), 'utf8');
      expect(log).not.toMatch(/forbidden/i);
    } finally {
      await operator?.kill();
      await helm(['uninstall', release, '-n', ns, '--kubeconfig', kubeconfig]).catch(() => undefined);
      await deleteNamespace(kc, ns);
    }
  });
});
