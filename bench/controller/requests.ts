/**
 * Counting API requests: a separate identity for the operator whose requests the API server
 * counts on their own (a ServiceAccount, a token, and a FlowSchema that classifies only its
 * requests), and reading those counters (and the time spent answering) from the API server's
 * /metrics, by client and by verb and resource.
 */
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../src/kube/rest.js';
import { kubeconfigYaml } from '../../src/local/control-plane.js';

/** The FlowSchema that classifies the operator's requests (and so names its counter in /metrics). */
export const OPERATOR_FLOW_SCHEMA = 'scribe-bench-operator';

const NAMESPACE = 'scribe-bench-system';
const SERVICE_ACCOUNT = 'scribe-operator';

/**
 * Creates the operator's ServiceAccount (bound to cluster-admin: the benchmark measures cost, not
 * RBAC), a FlowSchema matching only it (exempt priority level: no queuing, as the admin user), and
 * writes a kubeconfig with a token for it to `path`.
 */
export async function operatorIdentity(kc: KubeConfig, server: string, caPem: Buffer, path: string): Promise<void> {
  const post = (apiPath: string, body: object) => kubeRequest(kc, { method: 'POST', path: apiPath, body });
  await post('/api/v1/namespaces', { metadata: { name: NAMESPACE } });
  await post(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, { metadata: { name: SERVICE_ACCOUNT } });
  await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'scribe-bench-operator' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: NAMESPACE }],
  });
  await post('/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas', {
    metadata: { name: OPERATOR_FLOW_SCHEMA },
    spec: {
      matchingPrecedence: 100,
      priorityLevelConfiguration: { name: 'exempt' },
      rules: [
        {
          subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: SERVICE_ACCOUNT, namespace: NAMESPACE } }],
          resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true }],
          nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
        },
      ],
    },
  });
  const answer = await kubeRequest<{ status: { token: string } }>(kc, {
    method: 'POST',
    path: `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SERVICE_ACCOUNT}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 24 * 3600 } },
  });
  writeFileSync(path, kubeconfigYaml(server, caPem, answer.status.token), { mode: 0o600 });
}

const insecure = new Agent({ rejectUnauthorized: false });

/** The API server's /metrics text (the admin token; its self-signed certificate is not checked for this read). */
export function apiServerMetrics(server: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}/metrics`,
      { agent: insecure, headers: { authorization: `Bearer ${token}` }, timeout: 30_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics: ${res.statusCode} ${body}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('/metrics timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** One sample of a Prometheus text exposition: labels and value. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Every sample of metric `name` (exact name, no suffixes). */
export function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^[^{\s]+(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1] as string] = pair[2] as string;
    out.push({ labels, value: Number(match[2]) });
  }
  return out;
}

/** Requests the API server counted, as totals: all, the operator's, and all by verb/resource. */
export interface RequestCounts {
  all: number;
  operator: number;
  byVerbResource: Map<string, number>;
  /** Seconds the API server spent answering, summed over requests (apiserver_request_duration_seconds_sum). */
  secondsByVerbResource: Map<string, number>;
}

/** Reads the counters once. */
export async function requestCounts(server: string, token: string): Promise<RequestCounts> {
  const text = await apiServerMetrics(server, token);
  const byVerbResource = new Map<string, number>();
  const secondsByVerbResource = new Map<string, number>();
  const keyOf = (labels: Record<string, string>) => {
    const resource = `${labels.resource ?? ''}${labels.subresource ? `/${labels.subresource}` : ''}`;
    return `${labels.verb} ${resource || '(non-resource)'}`;
  };
  let all = 0;
  for (const { labels, value } of samples(text, 'apiserver_request_total')) {
    all += value;
    byVerbResource.set(keyOf(labels), (byVerbResource.get(keyOf(labels)) ?? 0) + value);
  }
  for (const { labels, value } of samples(text, 'apiserver_request_duration_seconds_sum')) {
    if (labels.verb === 'WATCH') continue; // a watch lasts as long as it is open
    secondsByVerbResource.set(keyOf(labels), (secondsByVerbResource.get(keyOf(labels)) ?? 0) + value);
  }
  const operator = samples(text, 'apiserver_flowcontrol_dispatched_requests_total')
    .filter((s) => s.labels.flow_schema === OPERATOR_FLOW_SCHEMA)
    .reduce((sum, s) => sum + s.value, 0);
  return { all, operator, byVerbResource, secondsByVerbResource };
}

/** after − before, per key, largest first, zeros dropped (`seconds`: the time spent instead of the count). */
export function diffCounts(
  before: RequestCounts,
  after: RequestCounts,
  of: 'byVerbResource' | 'secondsByVerbResource' = 'byVerbResource',
): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [key, value] of after[of]) {
    const delta = value - (before[of].get(key) ?? 0);
    if (delta > 0) out.push([key, delta]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}
