/** Helpers for tests of the metrics endpoint: tokens, RBAC from the chart, scrapes, the helm binary. */
import { request } from 'node:https';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubeRequest } from '../../../src/kube/rest.js';
import { CHART_DIR, helm } from '../../../src/local/helm.js';
import { waitFor } from '../../../src/local/processes.js';

export { CHART_DIR, helm };

/** The chart rendered offline (`helm template`) as objects. */
export async function renderChart(args: string[] = []): Promise<KubernetesObject[]> {
  const text = await helm([
    'template',
    'scribe',
    CHART_DIR,
    '-n',
    'scribe-system',
    '--kube-version',
    '1.35.0',
    ...args,
  ]);
  return parseAllDocuments(text)
    .map((document) => document.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => Boolean(object?.kind));
}

/** Creates a ServiceAccount and returns a short-lived token for it (TokenRequest API). */
export async function serviceAccountToken(kc: KubeConfig, namespace: string, name: string): Promise<string> {
  await kubeRequest(kc, {
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts`,
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } },
  });
  const answer = await kubeRequest<{ status: { token: string } }>(kc, {
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  return answer.status.token;
}

/** Binds a ClusterRole to a ServiceAccount; returns the binding's name. */
export async function bindClusterRole(kc: KubeConfig, role: string, namespace: string, account: string) {
  const name = `${role}-${namespace}-${account}`.slice(0, 253);
  await kubeRequest(kc, {
    method: 'POST',
    path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace }],
    },
  });
  return name;
}

/** Waits until the API server's authorizer lets `user` GET the non-resource `path` (RBAC caches settle). */
export async function waitForAccess(kc: KubeConfig, user: string, groups: string[], path: string): Promise<void> {
  await waitFor(`${user} allowed to get ${path}`, async () => {
    const review = await kubeRequest<{ status?: { allowed?: boolean } }>(kc, {
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user, groups, nonResourceAttributes: { path, verb: 'get' } },
      },
    });
    return review.status?.allowed === true;
  });
}

/** The groups a ServiceAccount's token authenticates with. */
export function serviceAccountGroups(namespace: string): string[] {
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'];
}

/** GETs an HTTPS URL (self-signed server: `ca` pins it when given) with an optional bearer token. */
export function scrape(url: string, token?: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(ca ? { ca, servername: 'localhost' } : { rejectUnauthorized: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample in Prometheus text, e.g. sample(text, 'scribe_volume_out_of_sync', {obj_name: 'x'}). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) return Number(match[4]);
  }
  return undefined;
}

/** Waits until the API server's authorizer lets `user` get `resource` (scribe.backube) in `namespace`. */
export async function waitForResourceAccess(
  kc: KubeConfig,
  user: string,
  groups: string[],
  resource: string,
  namespace: string,
): Promise<void> {
  await waitFor(`${user} allowed to get ${resource} in ${namespace}`, async () => {
    const review = await kubeRequest<{ status?: { allowed?: boolean } }>(kc, {
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user, groups, resourceAttributes: { group: 'scribe.backube', resource, verb: 'get', namespace } },
      },
    });
    return review.status?.allowed === true;
  });
}

/**
 * Lets ServiceAccount `namespace`/`account` open the /debug pages for the CRs of `resources` in
 * `crNamespaces`: the chart's scribe-debug-reader (under a name of the caller's, as tests share
 * a cluster) bound to it, and a Role granting `get` in each namespace. Returns a cleanup.
 */
export async function grantDebugPages(
  kc: KubeConfig,
  namespace: string,
  account: string,
  crNamespaces: string[],
  resources: string[] = ['replicationsources', 'replicationdestinations'],
): Promise<() => Promise<void>> {
  const chartRole = (
    await renderChart(['--set', 'debugPages.enabled=true', '--show-only', 'templates/debug-rbac.yaml'])
  ).find((object) => object.kind === 'ClusterRole' && object.metadata?.name === 'scribe-debug-reader');
  if (!chartRole) throw new Error('the chart renders no scribe-debug-reader ClusterRole');
  const roleName = `scribe-debug-reader-${namespace}-${account}`;
  await kubeRequest(kc, {
    method: 'POST',
    path: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
    body: { ...chartRole, metadata: { ...chartRole.metadata, name: roleName } },
  });
  const binding = await bindClusterRole(kc, roleName, namespace, account);
  for (const crNamespace of crNamespaces) {
    await kubeRequest(kc, {
      method: 'POST',
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${crNamespace}/roles`,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: `scribe-viewer-${account}` },
        rules: [{ apiGroups: ['scribe.backube'], resources, verbs: ['get'] }],
      },
    });
    await kubeRequest(kc, {
      method: 'POST',
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${crNamespace}/rolebindings`,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: `scribe-viewer-${account}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `scribe-viewer-${account}` },
        subjects: [{ kind: 'ServiceAccount', name: account, namespace }],
      },
    });
  }
  const user = `system:serviceaccount:${namespace}:${account}`;
  await waitForAccess(kc, user, serviceAccountGroups(namespace), '/debug');
  for (const crNamespace of crNamespaces) {
    for (const resource of resources) {
      await waitForResourceAccess(kc, user, serviceAccountGroups(namespace), resource, crNamespace);
    }
  }
  return async () => {
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    await kubeRequest(kc, { method: 'DELETE', path: `${rbac}/clusterrolebindings/${binding}` }).catch(() => undefined);
    await kubeRequest(kc, { method: 'DELETE', path: `${rbac}/clusterroles/${roleName}` }).catch(() => undefined);
  };
}
