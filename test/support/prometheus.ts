/**
 * A real Prometheus (Debian's `prometheus`) on loopback, configured from the chart's own objects
 * as the Prometheus Operator would configure it: its scrape configuration is generated from a
 * ServiceMonitor (Kubernetes service discovery of the selected Services' endpoints, the
 * endpoint's port, path, scheme, interval, TLS settings and bearer token) and its rule file
 * from a PrometheusRule (spec.groups), so a change to either template changes what is tested.
 * Debian builds Prometheus without Kubernetes discovery: EndpointSliceDiscovery plays it,
 * writing the targets (with the labels that discovery gives) to a file Prometheus reads.
 *
 * Prometheus runs as a ServiceAccount of its own (discovery rights, and the chart's
 * `scribe-metrics-reader` for /metrics) with a TokenRequest token, written where a pod would
 * have it mounted. The relabelling follows the Prometheus Operator's generated configuration
 * (pkg/prometheus/promcfg.go): targets carry `namespace`, `service`, `pod`, `endpoint` and
 * `job` (the Service's name), the labels the chart's rules select on.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { loadKubeConfig } from '../../src/kube/config.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { serviceAccountUser, tokenKubeconfigYaml } from '../../src/local/operator-identity.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../../src/local/processes.js';

/** Debian's Prometheus server (scripts/setup.sh installs the package). */
export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

/** A ServiceMonitor endpoint, with the fields this generator translates (anything else is refused). */
export interface ServiceMonitorEndpoint {
  port?: string;
  path?: string;
  scheme?: string;
  interval?: string;
  scrapeTimeout?: string;
  honorLabels?: boolean;
  bearerTokenFile?: string;
  tlsConfig?: {
    insecureSkipVerify?: boolean;
    serverName?: string;
    ca?: { secret?: { name: string; key: string }; configMap?: { name: string; key: string } };
  };
}

/** The Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1), as far as it is used here. */
export type ServiceMonitor = KubernetesObject & {
  metadata: { name: string; namespace: string };
  spec: {
    endpoints: ServiceMonitorEndpoint[];
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    namespaceSelector?: { any?: boolean; matchNames?: string[] };
    jobLabel?: string;
  };
};

/** The Prometheus Operator's PrometheusRule (monitoring.coreos.com/v1). */
export type PrometheusRule = KubernetesObject & {
  spec: { groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }> };
};

const ENDPOINT_FIELDS = new Set([
  'port',
  'path',
  'scheme',
  'interval',
  'scrapeTimeout',
  'honorLabels',
  'bearerTokenFile',
  'tlsConfig',
]);
const TLS_FIELDS = new Set(['insecureSkipVerify', 'serverName', 'ca']);

/** What the generated configuration refers to on this machine. */
export interface ScrapeFiles {
  /** The file of discovered targets (see EndpointSliceDiscovery). */
  targetsFile: string;
  /** The ServiceAccount token file (what `bearerTokenFile` names inside a pod). */
  tokenFile: string;
  /** The file holding a CA that tlsConfig.ca names, written beforehand (see writeTlsFiles). */
  caFile(ref: { kind: 'secret' | 'configMap'; name: string; key: string }): string;
}

/** Prometheus' name for a Kubernetes label in a service discovery meta label. */
const metaLabel = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, '_');

/**
 * The scrape configurations (one per endpoint) the Prometheus Operator generates for a
 * ServiceMonitor, its relabelling of role `endpointslice` discovery included. Debian builds
 * Prometheus without Kubernetes discovery, so the targets come from a file that
 * EndpointSliceDiscovery keeps as that discovery would (the same `__meta_kubernetes_*` labels).
 * Throws on a field it does not translate, so a template change that this would silently drop
 * fails the test instead.
 */
export function scrapeConfigsFor(monitor: ServiceMonitor, files: ScrapeFiles): Record<string, unknown>[] {
  if (monitor.spec.selector.matchExpressions?.length) {
    throw new Error(`ServiceMonitor ${monitor.metadata.name}: selector.matchExpressions is not translated`);
  }
  if (monitor.spec.jobLabel) throw new Error(`ServiceMonitor ${monitor.metadata.name}: jobLabel is not translated`);
  return monitor.spec.endpoints.map((endpoint, index) => {
    const unknown = Object.keys(endpoint).filter((key) => !ENDPOINT_FIELDS.has(key));
    const unknownTls = Object.keys(endpoint.tlsConfig ?? {}).filter((key) => !TLS_FIELDS.has(key));
    if (unknown.length || unknownTls.length) {
      throw new Error(
        `ServiceMonitor ${monitor.metadata.name} endpoint ${index}: ${[...unknown, ...unknownTls.map((k) => `tlsConfig.${k}`)].join(', ')} not translated`,
      );
    }
    if (!endpoint.port) throw new Error(`ServiceMonitor ${monitor.metadata.name} endpoint ${index}: no port name`);
    const tls = endpoint.tlsConfig;
    const ca = tls?.ca?.secret
      ? files.caFile({ kind: 'secret', ...tls.ca.secret })
      : tls?.ca?.configMap
        ? files.caFile({ kind: 'configMap', ...tls.ca.configMap })
        : undefined;
    const selectorKeeps = Object.entries(monitor.spec.selector.matchLabels ?? {}).map(([label, value]) => ({
      action: 'keep',
      source_labels: [
        `__meta_kubernetes_service_label_${metaLabel(label)}`,
        `__meta_kubernetes_service_labelpresent_${metaLabel(label)}`,
      ],
      regex: `(${value});true`,
    }));
    return {
      job_name: `serviceMonitor/${monitor.metadata.namespace}/${monitor.metadata.name}/${index}`,
      honor_labels: endpoint.honorLabels ?? false,
      file_sd_configs: [{ files: [files.targetsFile], refresh_interval: '1s' }],
      ...(endpoint.interval ? { scrape_interval: endpoint.interval } : {}),
      ...(endpoint.scrapeTimeout ? { scrape_timeout: endpoint.scrapeTimeout } : {}),
      metrics_path: endpoint.path ?? '/metrics',
      scheme: endpoint.scheme ?? 'http',
      ...(endpoint.bearerTokenFile ? { authorization: { type: 'Bearer', credentials_file: files.tokenFile } } : {}),
      ...(tls
        ? {
            tls_config: {
              ...(tls.insecureSkipVerify ? { insecure_skip_verify: true } : {}),
              ...(tls.serverName ? { server_name: tls.serverName } : {}),
              ...(ca ? { ca_file: ca } : {}),
            },
          }
        : {}),
      relabel_configs: [
        ...selectorKeeps,
        { action: 'keep', source_labels: ['__meta_kubernetes_endpointslice_port_name'], regex: endpoint.port },
        {
          source_labels: [
            '__meta_kubernetes_endpointslice_address_target_kind',
            '__meta_kubernetes_endpointslice_address_target_name',
          ],
          separator: ';',
          regex: 'Pod;(.*)',
          replacement: '${1}',
          target_label: 'pod',
        },
        { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
        { source_labels: ['__meta_kubernetes_service_name'], target_label: 'service' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
        // The job is the Service's name (no jobLabel): what the chart's ScribeOperatorDown selects.
        { source_labels: ['__meta_kubernetes_service_name'], target_label: 'job', replacement: '${1}' },
        { target_label: 'endpoint', replacement: endpoint.port },
      ],
    };
  });
}

/** The namespaces a ServiceMonitor selects Services in (undefined: all). */
export function monitoredNamespaces(monitor: ServiceMonitor): string[] | undefined {
  if (monitor.spec.namespaceSelector?.any) return undefined;
  return monitor.spec.namespaceSelector?.matchNames ?? [monitor.metadata.namespace];
}

type Service = KubernetesObject & {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: {
    selector?: Record<string, string>;
    ports?: Array<{ name?: string; port: number; protocol?: string; targetPort?: number | string }>;
  };
};
type Pod = KubernetesObject & {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: unknown };
  status?: { podIP?: string; phase?: string; conditions?: Array<{ type: string; status: string }> };
  spec?: { containers: Array<{ name: string; ports?: Array<{ name?: string; containerPort: number }> }> };
};

/**
 * Prometheus' Kubernetes service discovery, role `endpointslice`, for the namespaces of a
 * ServiceMonitor: every endpoint of every Service port becomes a target with the
 * `__meta_kubernetes_*` labels Prometheus gives it (namespace, slice, port, target, its
 * Service's and pod's names and labels), written as a file_sd file and refreshed as they change.
 * The endpoints are the ones the endpoint-slice controller puts in a Service's slices: the pods
 * its selector matches that have an IP, at the container port its targetPort names. (The local
 * runtime's pods have loopback addresses, which the API server refuses in an EndpointSlice, so
 * the slices themselves stay empty there; kube-controller-manager logs the refusal.) It reads
 * with Prometheus' own kubeconfig, so its RBAC is what is exercised.
 */
export class EndpointSliceDiscovery {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private last = '';

  constructor(
    private readonly kc: KubeConfig,
    private readonly namespaces: string[],
    readonly file: string,
    private readonly intervalMs = 500,
  ) {}

  /** Writes the targets once, then keeps them current. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.refresh()).catch(() => undefined);
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** The current target groups, as file_sd reads them. */
  async targetGroups(): Promise<Array<{ targets: string[]; labels: Record<string, string> }>> {
    const groups: Array<{ targets: string[]; labels: Record<string, string> }> = [];
    for (const namespace of this.namespaces) {
      const list = async <T>(path: string) =>
        (await kubeRequest<{ items: T[] }>(this.kc, { method: 'GET', path })).items;
      const services = await list<Service>(`/api/v1/namespaces/${namespace}/services`);
      const pods = (await list<Pod>(`/api/v1/namespaces/${namespace}/pods`)).filter(
        (pod) => pod.status?.podIP && pod.status.phase !== 'Succeeded' && pod.status.phase !== 'Failed',
      );
      for (const service of services) {
        const selector = service.spec?.selector;
        if (!selector || !Object.keys(selector).length) continue;
        const serviceLabels: Record<string, string> = {
          __meta_kubernetes_service_name: service.metadata.name,
          ...Object.fromEntries(
            Object.entries(service.metadata.labels ?? {}).flatMap(([k, v]) => [
              [`__meta_kubernetes_service_label_${metaLabel(k)}`, v],
              [`__meta_kubernetes_service_labelpresent_${metaLabel(k)}`, 'true'],
            ]),
          ),
        };
        const selected = pods.filter((pod) =>
          Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v),
        );
        for (const port of service.spec?.ports ?? []) {
          for (const pod of selected) {
            const target = port.targetPort ?? port.port;
            const container = pod.spec?.containers.find((c) =>
              c.ports?.some((p) => (typeof target === 'string' ? p.name === target : p.containerPort === target)),
            );
            const containerPort = container?.ports?.find((p) =>
              typeof target === 'string' ? p.name === target : p.containerPort === target,
            )?.containerPort;
            if (containerPort === undefined) continue;
            const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
            groups.push({
              targets: [`${pod.status?.podIP}:${containerPort}`],
              labels: {
                __meta_kubernetes_namespace: namespace,
                __meta_kubernetes_endpointslice_name: service.metadata.name,
                __meta_kubernetes_endpointslice_port_name: port.name ?? '',
                __meta_kubernetes_endpointslice_port_protocol: port.protocol ?? 'TCP',
                __meta_kubernetes_endpointslice_port: String(containerPort),
                __meta_kubernetes_endpointslice_endpoint_conditions_ready: String(ready),
                __meta_kubernetes_endpointslice_address_target_kind: 'Pod',
                __meta_kubernetes_endpointslice_address_target_name: pod.metadata.name,
                ...serviceLabels,
                __meta_kubernetes_pod_name: pod.metadata.name,
                __meta_kubernetes_pod_ip: pod.status?.podIP ?? '',
                ...(container ? { __meta_kubernetes_pod_container_name: container.name } : {}),
              },
            });
          }
        }
      }
    }
    return groups;
  }

  private async refresh(): Promise<void> {
    const text = JSON.stringify(await this.targetGroups(), null, 1);
    if (text === this.last) return;
    // Written whole, then renamed: Prometheus never reads half a file.
    await writeFile(`${this.file}.tmp`, text);
    await rename(`${this.file}.tmp`, this.file);
    this.last = text;
  }
}

/** The Prometheus rule file of a PrometheusRule: its spec.groups, as the Prometheus Operator writes it. */
export function ruleFileFor(rule: PrometheusRule): string {
  return stringify({ groups: rule.spec.groups });
}

/** An alert as Prometheus' /api/v1/alerts reports it. */
export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

/** One series of a query's answer. */
export interface Series {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** A running Prometheus. */
export interface Prometheus {
  url: string;
  dir: string;
  configFile: string;
  process: ManagedProcess;
  /** An instant query (PromQL); each series with its one value. */
  query(expr: string): Promise<Series[]>;
  /** A range query over [start, end] (Unix seconds) every `step` seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<Series[]>;
  /** Pending and firing alerts, from /api/v1/alerts. */
  alerts(): Promise<ActiveAlert[]>;
  /** The scrape targets, from /api/v1/targets. */
  targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }>>;
  stop(): Promise<void>;
}

/** The ServiceAccount Prometheus runs as, and the files a pod of it would have. */
export interface PrometheusIdentity {
  namespace: string;
  name: string;
  tokenFile: string;
  kubeconfigFile: string;
  /** A client with that token (what Prometheus' discovery reads with). */
  kc: KubeConfig;
}

/**
 * Creates Prometheus' ServiceAccount in `namespace` with what a Prometheus needs: discovery
 * (get/list/watch of Services, EndpointSlices and Pods, as the guide's ClusterRole has) and
 * the chart's ClusterRole `scribe-metrics-reader` for Scribe's /metrics; writes a TokenRequest
 * token where a pod's token file would be, and a kubeconfig with it for discovery.
 */
export async function createPrometheusIdentity(
  kc: KubeConfig,
  dir: string,
  namespace = 'monitoring',
  name = 'prometheus',
): Promise<PrometheusIdentity> {
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  await kubeRequest(kc, {
    method: 'POST',
    path: '/api/v1/namespaces',
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
  });
  await kubeRequest(kc, {
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts`,
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } },
  });
  const discovery = `${name}-${namespace}-discovery`;
  await kubeRequest(kc, {
    method: 'POST',
    path: `${rbac}/clusterroles`,
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: discovery },
      rules: [
        { apiGroups: [''], resources: ['services', 'endpoints', 'pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      ],
    },
  });
  for (const role of [discovery, 'scribe-metrics-reader']) {
    await kubeRequest(kc, {
      method: 'POST',
      path: `${rbac}/clusterrolebindings`,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `${name}-${namespace}-${role}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    });
  }
  const answer = await kubeRequest<{ status: { token: string } }>(kc, {
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster?.caData) throw new Error('the admin kubeconfig has no certificate-authority-data');
  await mkdir(dir, { recursive: true });
  const tokenFile = join(dir, 'token');
  const kubeconfigFile = join(dir, 'kubeconfig');
  const user = serviceAccountUser(namespace, name);
  await writeFile(tokenFile, answer.status.token, { mode: 0o600 });
  await writeFile(
    kubeconfigFile,
    tokenKubeconfigYaml({ server: cluster.server, caData: cluster.caData, token: answer.status.token, user }),
    { mode: 0o600 },
  );
  // RBAC is enforced from the authorizer's caches: wait until both grants are in effect.
  const allowed = async (spec: object) =>
    (
      await kubeRequest<{ status?: { allowed?: boolean } }>(kc, {
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`], ...spec },
        },
      })
    ).status?.allowed === true;
  await waitFor(`${user} allowed to discover endpoints and get /metrics`, async () => {
    const discover = await allowed({
      resourceAttributes: { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'watch' },
    });
    return discover && (await allowed({ nonResourceAttributes: { path: '/metrics', verb: 'get' } }));
  });
  return { namespace, name, tokenFile, kubeconfigFile, kc: loadKubeConfig({ kubeconfig: kubeconfigFile }) };
}

/**
 * Writes the CA files a ServiceMonitor's tlsConfig names (from the Secret or ConfigMap in its
 * namespace, as the Prometheus Operator mounts them) into `dir`; returns the lookup.
 */
export async function writeTlsFiles(
  kc: KubeConfig,
  monitor: ServiceMonitor,
  dir: string,
): Promise<ScrapeFiles['caFile']> {
  const written = new Map<string, string>();
  const keyOf = (ref: { kind: string; name: string; key: string }) => `${ref.kind}/${ref.name}/${ref.key}`;
  for (const endpoint of monitor.spec.endpoints) {
    const ca = endpoint.tlsConfig?.ca;
    const ref = ca?.secret
      ? { kind: 'secret' as const, ...ca.secret }
      : ca?.configMap
        ? { kind: 'configMap' as const, ...ca.configMap }
        : undefined;
    if (!ref) continue;
    const plural = ref.kind === 'secret' ? 'secrets' : 'configmaps';
    const object = await kubeRequest<{ data?: Record<string, string> }>(kc, {
      method: 'GET',
      path: `/api/v1/namespaces/${monitor.metadata.namespace}/${plural}/${ref.name}`,
    });
    const value = object.data?.[ref.key];
    if (value === undefined) throw new Error(`${ref.kind} ${ref.name} has no key ${ref.key}`);
    const file = join(dir, `${ref.kind}-${ref.name}-${ref.key}`);
    await writeFile(file, ref.kind === 'secret' ? Buffer.from(value, 'base64') : value);
    written.set(keyOf(ref), file);
  }
  return (ref) => {
    const file = written.get(keyOf(ref));
    if (!file) throw new Error(`no CA file written for ${keyOf(ref)}`);
    return file;
  };
}

/** Options of startPrometheus. */
export interface PrometheusOptions {
  dir: string;
  scrapeConfigs: Record<string, unknown>[];
  /** Rule files' contents (e.g. ruleFileFor(rule)). */
  rules: string[];
  /** global scrape_interval (endpoints' own intervals win) and evaluation_interval. */
  scrapeInterval?: string;
  evaluationInterval?: string;
}

/** Starts Prometheus with its own data directory on a free loopback port; resolves once it is ready. */
export async function startPrometheus(options: PrometheusOptions): Promise<Prometheus> {
  const dir = options.dir;
  await mkdir(join(dir, 'data'), { recursive: true });
  const ruleFiles: string[] = [];
  for (const [index, rules] of options.rules.entries()) {
    const file = join(dir, `rules-${index}.yaml`);
    await writeFile(file, rules);
    ruleFiles.push(file);
  }
  const configFile = join(dir, 'prometheus.yaml');
  await writeFile(
    configFile,
    stringify({
      global: {
        scrape_interval: options.scrapeInterval ?? '1s',
        evaluation_interval: options.evaluationInterval ?? '1s',
      },
      rule_files: ruleFiles,
      scrape_configs: options.scrapeConfigs,
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const process = startProcess(
    'prometheus',
    PROMETHEUS_BINARY,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=info',
    ],
    join(dir, 'prometheus.log'),
  );
  const ready = async () => (await fetch(`${url}/-/ready`)).ok;
  await waitFor(`Prometheus ready (log: ${join(dir, 'prometheus.log')})`, ready, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });

  async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const answer = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await answer.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  }
  return {
    url,
    dir,
    configFile,
    process,
    async query(expr) {
      const data = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>('query', {
        query: expr,
      });
      return data.result.map((r) => ({ metric: r.metric, values: [r.value] }));
    },
    async queryRange(expr, start, end, step) {
      const data = await api<{ result: Series[] }>('query_range', {
        query: expr,
        start: String(start),
        end: String(end),
        step: String(step),
      });
      return data.result;
    },
    async alerts() {
      return (await api<{ alerts: ActiveAlert[] }>('alerts')).alerts;
    },
    async targets() {
      const data = await api<{
        activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }>;
      }>('targets');
      return data.activeTargets;
    },
    stop: () => process.stop(),
  };
}

/** One firing of an alert as seen from /api/v1/alerts: when it was first seen firing, and when it was gone after. */
export interface AlertEpisode {
  labels: Record<string, string>;
  firingAt: number;
  resolvedAt?: number;
}

/** Which alert to wait for: its name, labels it must carry, and the earliest time its firing may be seen. */
export interface AlertMatch {
  alertname: string;
  labels?: Record<string, string>;
  /** Only a firing first seen at or after this time (epoch ms), e.g. after the cause was made. */
  after?: number;
}

/**
 * Polls Prometheus' /api/v1/alerts and keeps each alert's episodes (by its full label set): when
 * it was first seen firing, and when it was first gone (or no longer firing) after that.
 */
export class AlertWatcher {
  private readonly episodes: AlertEpisode[] = [];
  private readonly open = new Map<string, AlertEpisode>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly prometheus: Prometheus,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.polling = this.polling.then(() => this.poll());
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  /** Every episode seen so far, in the order they began. */
  all(): AlertEpisode[] {
    return [...this.episodes];
  }

  /** The first episode that matches. */
  find(match: AlertMatch): AlertEpisode | undefined {
    return this.episodes.find(
      (e) =>
        e.labels.alertname === match.alertname &&
        e.firingAt >= (match.after ?? 0) &&
        Object.entries(match.labels ?? {}).every(([key, value]) => e.labels[key] === value),
    );
  }

  /** Waits until a matching alert is seen firing; resolves with its episode. */
  async firing(match: AlertMatch, timeoutMs = 120_000): Promise<AlertEpisode> {
    await waitFor(`${describe(match)} firing in Prometheus`, () => this.find(match) !== undefined, {
      timeoutMs,
      intervalMs: 100,
    });
    return this.find(match) as AlertEpisode;
  }

  /** Waits until the first matching episode has ended: the alert is gone from /api/v1/alerts. */
  async resolved(match: AlertMatch, timeoutMs = 120_000): Promise<AlertEpisode> {
    await waitFor(`${describe(match)} resolved in Prometheus`, () => this.find(match)?.resolvedAt !== undefined, {
      timeoutMs,
      intervalMs: 100,
    });
    return this.find(match) as AlertEpisode;
  }

  private async poll(): Promise<void> {
    // A failed poll (Prometheus busy) is skipped: the next one sees the same alerts.
    const alerts = await this.prometheus.alerts().catch(() => undefined);
    if (!alerts) return;
    const now = Date.now();
    const firing = new Set<string>();
    for (const alert of alerts) {
      if (alert.state !== 'firing') continue;
      const key = JSON.stringify(Object.entries(alert.labels).sort());
      firing.add(key);
      if (!this.open.has(key)) {
        const episode = { labels: alert.labels, firingAt: now };
        this.open.set(key, episode);
        this.episodes.push(episode);
      }
    }
    for (const [key, episode] of this.open) {
      if (firing.has(key)) continue;
      episode.resolvedAt = now;
      this.open.delete(key);
    }
  }
}

const describe = (match: AlertMatch) => `${match.alertname} ${JSON.stringify(match.labels ?? {})}`;
