/**
 * Issue 28: the chart's alerts fire for real. A local system of this file's own (it stops the
 * operator) with the Prometheus Operator's CRDs, so `helm install` creates the ServiceMonitor
 * and the PrometheusRule; `helm upgrade` then sets short test values for the thresholds (as a
 * user would change them) and enables the Grafana dashboard. A real Prometheus is configured
 * from the objects the API server holds (test/support/prometheus.ts): its scrape job from the
 * ServiceMonitor (discovery, port, path, scheme, TLS, the bearer token of a ServiceAccount bound
 * to scribe-metrics-reader), its rule file from the PrometheusRule.
 *
 * From Prometheus' own /api/v1/alerts, every alert of the PrometheusRule is seen firing and then
 * resolving on real events, the replication scenarios side by side in their namespaces:
 * - ScribeSyncFailing: a source whose key the destination refuses, until the right key is set;
 * - ScribeRecoveryPointObjectiveMissed, ScribeVolumeOutOfSync, ScribeMissedIntervals: a source
 *   scheduled every minute, paused after its first sync past its RPO and its deadline, then resumed;
 * - ScribeSyncStalled: a source whose mover pod no node can take, until the node gets the label;
 * - ScribeOperatorDown: the operator scaled to 0, then back.
 * Then every query of the chart's dashboard returns series for these replications, and their
 * range over the run is drawn as docs/images/dashboard.svg when SCRIBE_DOCS_IMAGES=1.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { generateSshKeyPair } from '../../src/movers/rsync/keys.js';
import { OPERATOR_CONTAINER, OPERATOR_LABEL } from '../../src/local/chart-operator.js';
import { installCrds, prometheusCrdFiles } from '../../src/local/crds.js';
import { CHART_DIR, helm } from '../../src/local/helm.js';
import {
  create,
  createPvc,
  get,
  listeningAddress,
  patch,
  pvcDirectory,
  waitForObject,
} from '../../src/local/objects.js';
import { CHART_RELEASE } from '../../src/local/operator-identity.js';
import { waitFor } from '../../src/local/processes.js';
import { repoRoot } from '../../src/local/tools.js';
import { dashboardSvg, type PicturePanel } from '../support/dashboard-picture.js';
import { localSystemOfThisFile } from '../support/local-system.js';
import {
  AlertWatcher,
  createPrometheusIdentity,
  EndpointSliceDiscovery,
  monitoredNamespaces,
  ruleFileFor,
  scrapeConfigsFor,
  startPrometheus,
  writeTlsFiles,
  type Prometheus,
  type PrometheusRule,
  type ServiceMonitor,
} from '../support/prometheus.js';

const API = 'scribe.backube/v1alpha1';
const NS = CHART_RELEASE.namespace;
const MONITORING = '/apis/monitoring.coreos.com/v1';
/** Short thresholds, so that each alert fires and clears within the test. */
const TEST_VALUES: Record<string, string> = {
  'metrics.serviceMonitor.interval': '1s',
  'alerts.recoveryPointObjectiveSeconds': '20',
  'alerts.failureThreshold': '2',
  // Two failures 10 s of backoff apart, plus each attempt's run, fall well within a minute.
  'alerts.failureWindow': '1m',
  'alerts.outOfSyncFor': '5s',
  'alerts.operatorDownFor': '5s',
  'alerts.missedIntervalsWindow': '30s',
  'alerts.stalledFor': '5s',
  stallAfterSeconds: '15',
  'grafanaDashboard.enabled': 'true',
};
/** The node label the stalled scenario's mover pod requires. */
const STALL_LABEL = 'scribe-test/stall';

type Secret = KubernetesObject & { data?: Record<string, string> };
type ConfigMap = KubernetesObject & { data?: Record<string, string> };
interface Dashboard {
  templating: { list: Array<{ name: string; query?: unknown }> };
  panels: Array<{
    title: string;
    fieldConfig?: { defaults?: { unit?: string } };
    targets: Array<{ expr: string; legendFormat?: string }>;
  }>;
}

let prometheus: Prometheus;
let discovery: EndpointSliceDiscovery;
let watcher: AlertWatcher;
let monitor: ServiceMonitor;
let rule: PrometheusRule;
/** When the replication scenarios began (Unix seconds): the dashboard picture's start. */
let started = Math.floor(Date.now() / 1000);
/** The replications of this test: namespace/name of each CR. */
const replications: string[] = [];

// The operator starts once the Prometheus Operator's CRDs are in (beforeAll below).
const system = localSystemOfThisFile({ operatorMode: 'chart', operator: false });

beforeAll(async () => {
  const kc = system.runtime.kc;
  // The Prometheus Operator's CRDs first: helm install then renders the ServiceMonitor and the PrometheusRule.
  await installCrds(kc, await prometheusCrdFiles());
  await system.runtime.startOperator();
  await helm([
    'upgrade',
    CHART_RELEASE.name,
    CHART_DIR,
    '-n',
    NS,
    '--reuse-values',
    '--kubeconfig',
    system.runtime.kubeconfigPath,
    ...Object.entries(TEST_VALUES).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
  ]);
  // The stall period is the operator's flag: the Deployment rolls out a pod that has it.
  await waitFor(
    'the operator pod with --stall-after=15 Ready alone',
    async () => {
      const pods = (
        await kubeRequest<{ items: V1Pod[] }>(kc, {
          method: 'GET',
          path: `/api/v1/namespaces/${NS}/pods`,
          query: { labelSelector: OPERATOR_LABEL },
        })
      ).items;
      const args = pods[0]?.spec?.containers.find((c) => c.name === OPERATOR_CONTAINER)?.args ?? [];
      const ready = pods[0]?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return pods.length === 1 && Boolean(ready) && args.includes('--stall-after=15');
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  monitor = await kubeRequest<ServiceMonitor>(kc, {
    method: 'GET',
    path: `${MONITORING}/namespaces/${NS}/servicemonitors/scribe-monitor`,
  });
  rule = await kubeRequest<PrometheusRule>(kc, {
    method: 'GET',
    path: `${MONITORING}/namespaces/${NS}/prometheusrules/scribe-alerts`,
  });
  const dir = join(system.runtime.dir, 'prometheus');
  const identity = await createPrometheusIdentity(kc, join(dir, 'identity'));
  const caFile = await writeTlsFiles(kc, monitor, dir);
  const namespaces = monitoredNamespaces(monitor);
  if (!namespaces) throw new Error('the ServiceMonitor selects every namespace: not expected of the chart');
  discovery = new EndpointSliceDiscovery(identity.kc, namespaces, join(dir, 'targets.json'));
  await discovery.start();
  prometheus = await startPrometheus({
    dir,
    scrapeConfigs: scrapeConfigsFor(monitor, { tokenFile: identity.tokenFile, targetsFile: discovery.file, caFile }),
    rules: [ruleFileFor(rule)],
  });
  // Watched from the first successful scrape on: before it, the operator is absent by definition.
  await waitFor('the first scrape of the operator', async () => (await prometheus.query('up == 1')).length === 1, {
    timeoutMs: 30_000,
    intervalMs: 250,
  });
  // ... and once ScribeOperatorDown, pending or firing since Prometheus started, has cleared.
  await waitFor(
    'no ScribeOperatorDown from before the first scrape',
    async () => !(await prometheus.alerts()).some((a) => a.labels.alertname === 'ScribeOperatorDown'),
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  watcher = new AlertWatcher(prometheus);
  watcher.start();
});

afterAll(async () => {
  await watcher?.stop();
  await prometheus?.stop();
  await discovery?.stop();
});

/** A namespace with a PVC holding a file, and an rsync destination listening there. */
async function rsyncDestination(ns: string, name: string) {
  const kc = system.runtime.kc;
  await create(kc, 'Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await createPvc(kc, ns, 'data');
  await writeFile(join(await pvcDirectory(kc, ns, 'data'), 'file'), `${ns}\n`);
  await create(kc, 'ReplicationDestination', ns, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name },
    spec: { rsync: { copyMethod: 'None', capacity: '1Gi', accessModes: ['ReadWriteOnce'] } },
  });
  replications.push(`${ns}/${name}`);
  return listeningAddress(kc, ns, name);
}

/** Creates an rsync ReplicationSource of the namespace's PVC. */
async function rsyncSource(ns: string, name: string, spec: object, rsync: object) {
  await create(system.runtime.kc, 'ReplicationSource', ns, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name },
    spec: { sourcePVC: 'data', ...spec, rsync: { copyMethod: 'None', ...rsync } },
  });
  replications.push(`${ns}/${name}`);
}

const readSource = (ns: string, name: string) => () =>
  get<ReplicationSource>(system.runtime.kc, 'ReplicationSource', ns, name);
const sourceLabels = (ns: string, name: string) => ({
  obj_namespace: ns,
  obj_name: name,
  role: 'source',
  method: 'rsync',
});

/** ScribeSyncFailing: the destination refuses the source's key; the right key clears it. */
async function failingScenario() {
  const ns = 'alert-failing';
  const { address, keys } = await rsyncDestination(ns, 'failing-dest');
  const real = (await get<Secret>(system.runtime.kc, 'Secret', ns, keys)) as Secret;
  const stranger = generateSshKeyPair('not-the-destination-s-source-key');
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  await create(system.runtime.kc, 'Secret', ns, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'wrong-keys' },
    // The destination's host key is right; the source's own key is one the destination never saw.
    data: {
      source: b64(stranger.privateKey),
      'source.pub': b64(stranger.publicKey),
      'destination.pub': real.data?.['destination.pub'],
    },
  });
  await rsyncSource(ns, 'failing', { trigger: { manual: 'first' } }, { sshKeys: 'wrong-keys', address });
  const match = { alertname: 'ScribeSyncFailing', labels: sourceLabels(ns, 'failing') };
  const fired = await watcher.firing(match, 150_000);
  const failing = await readSource(ns, 'failing')();
  expect(failing?.status?.state).toBe('failed');
  expect(failing?.status?.conditions?.find((c) => c.type === 'Synchronizing')?.message).toMatch(
    /refused the source's key/,
  );
  const fixedAt = Date.now();
  await patch(system.runtime.kc, 'ReplicationSource', ns, 'failing', { spec: { rsync: { sshKeys: keys } } });
  await waitForObject(
    'the failing source synced with the right key',
    readSource(ns, 'failing'),
    (rs) => rs.status?.lastManualSync === 'first',
  );
  const resolved = await watcher.resolved(match, 120_000);
  expect(fired.firingAt).toBeLessThan(fixedAt);
  expect(resolved.resolvedAt).toBeGreaterThan(fixedAt);
}

/**
 * A source scheduled every minute, paused after its first sync: past its RPO it raises
 * ScribeRecoveryPointObjectiveMissed, past its deadline ScribeVolumeOutOfSync; resumed, its sync
 * completes after the deadline (ScribeMissedIntervals) and the first two clear, then the third.
 */
async function pausedScenario() {
  const ns = 'alert-paused';
  const { address, keys } = await rsyncDestination(ns, 'paused-dest');
  await rsyncSource(ns, 'paused', { trigger: { schedule: '* * * * *' } }, { sshKeys: keys, address });
  await waitForObject('the first scheduled sync', readSource(ns, 'paused'), (rs) => Boolean(rs.status?.lastSyncTime));
  await patch(system.runtime.kc, 'ReplicationSource', ns, 'paused', { spec: { paused: true } });
  const pausedAt = Date.now();
  const labels = sourceLabels(ns, 'paused');
  const rpo = { alertname: 'ScribeRecoveryPointObjectiveMissed', labels, after: pausedAt };
  const outOfSync = { alertname: 'ScribeVolumeOutOfSync', labels, after: pausedAt };
  const rpoFired = await watcher.firing(rpo, 60_000);
  // The deadline is the second cron time after the sync: up to two minutes away.
  const outOfSyncFired = await watcher.firing(outOfSync, 150_000);
  const paused = await readSource(ns, 'paused')();
  expect(paused?.status?.conditions?.find((c) => c.type === 'Synchronizing')?.reason).toBe('Paused');
  const lastSync = paused?.status?.lastSyncTime;
  const resumedAt = Date.now();
  await patch(system.runtime.kc, 'ReplicationSource', ns, 'paused', { spec: { paused: false } });
  await waitForObject('the resumed sync', readSource(ns, 'paused'), (rs) => rs.status?.lastSyncTime !== lastSync);
  const missed = { alertname: 'ScribeMissedIntervals', labels, after: pausedAt };
  const missedFired = await watcher.firing(missed, 60_000);
  const rpoResolved = await watcher.resolved(rpo, 60_000);
  const outOfSyncResolved = await watcher.resolved(outOfSync, 60_000);
  const missedResolved = await watcher.resolved(missed, 90_000);
  // Each cleared only once the source was resumed, and the missed interval came with that sync.
  expect(rpoResolved.resolvedAt).toBeGreaterThan(resumedAt);
  expect(outOfSyncResolved.resolvedAt).toBeGreaterThan(resumedAt);
  expect(missedFired.firingAt).toBeGreaterThan(resumedAt);
  expect(missedResolved.resolvedAt).toBeGreaterThan(missedFired.firingAt);
  expect(rpoFired.firingAt).toBeLessThan(resumedAt);
  expect(outOfSyncFired.firingAt).toBeLessThan(resumedAt);
}

/** ScribeSyncStalled: the mover pod waits for a node with a label; the label clears it. */
async function stalledScenario() {
  const ns = 'alert-stalled';
  const { address, keys } = await rsyncDestination(ns, 'stuck-dest');
  const affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: STALL_LABEL, operator: 'In', values: ['released'] }] }],
      },
    },
  };
  await rsyncSource(ns, 'stuck', { trigger: { manual: 'first' } }, { sshKeys: keys, address, moverAffinity: affinity });
  const match = { alertname: 'ScribeSyncStalled', labels: sourceLabels(ns, 'stuck') };
  const fired = await watcher.firing(match, 120_000);
  const stuck = await readSource(ns, 'stuck')();
  expect(stuck?.status?.conditions?.find((c) => c.type === 'Synchronizing')).toMatchObject({
    status: 'False',
    reason: 'Stalled',
  });
  const releasedAt = Date.now();
  const nodes = await kubeRequest<{ items: KubernetesObject[] }>(system.runtime.kc, {
    method: 'GET',
    path: '/api/v1/nodes',
  });
  for (const node of nodes.items) {
    await patch(system.runtime.kc, 'Node', '', node.metadata?.name ?? '', {
      metadata: { labels: { [STALL_LABEL]: 'released' } },
    });
  }
  await waitForObject(
    'the stalled source synced',
    readSource(ns, 'stuck'),
    (rs) => rs.status?.lastManualSync === 'first',
  );
  const resolved = await watcher.resolved(match, 60_000);
  expect(fired.firingAt).toBeLessThan(releasedAt);
  expect(resolved.resolvedAt).toBeGreaterThan(releasedAt);
}

describe('a live Prometheus configured from the chart', () => {
  it("scrapes the operator through the ServiceMonitor's endpoint with its token and TLS settings", async () => {
    let targets: Awaited<ReturnType<Prometheus['targets']>> = [];
    await waitFor(
      'the operator target up',
      async () => {
        targets = await prometheus.targets();
        return targets.length === 1 && targets[0]?.health === 'up';
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const pod = (
      await kubeRequest<{ items: V1Pod[] }>(system.runtime.kc, {
        method: 'GET',
        path: `/api/v1/namespaces/${NS}/pods`,
        query: { labelSelector: OPERATOR_LABEL },
      })
    ).items[0];
    expect(targets[0]?.scrapeUrl).toBe(`https://${pod?.status?.podIP}:8443/metrics`);
    expect(targets[0]?.labels).toMatchObject({
      job: 'scribe-metrics',
      namespace: NS,
      service: 'scribe-metrics',
      endpoint: 'https',
      pod: pod?.metadata?.name,
    });
    // The rules Prometheus evaluates are the PrometheusRule's, with the test's thresholds.
    const groups = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; query: string }> }> };
    };
    const loaded = groups.data.groups.flatMap((g) => g.rules.map((r) => r.name)).sort();
    const alerts = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
    expect(loaded).toEqual(alerts);
    expect(alerts).toEqual([
      'ScribeMissedIntervals',
      'ScribeOperatorDown',
      'ScribeRecoveryPointObjectiveMissed',
      'ScribeSyncFailing',
      'ScribeSyncStalled',
      'ScribeVolumeOutOfSync',
    ]);
  });

  it('sees every alert of the PrometheusRule fire and resolve on real events', async () => {
    // The scenarios side by side; each waits for its own alerts (see the functions above).
    started = Math.floor(Date.now() / 1000);
    await Promise.all([failingScenario(), pausedScenario(), stalledScenario()]);
  });

  it("runs every query of the chart's Grafana dashboard and gets series of the test's replications", async () => {
    // Each destination has completed a sync too (its durations are in the summary).
    for (const [ns, name] of replications.map((r) => r.split('/') as [string, string])) {
      if (!name.endsWith('-dest')) continue;
      await waitForObject(
        `${ns}/${name} synced`,
        () =>
          get<KubernetesObject & { status?: { lastSyncTime?: string } }>(
            system.runtime.kc,
            'ReplicationDestination',
            ns,
            name,
          ),
        (rd) => Boolean(rd.status?.lastSyncTime),
        60_000,
      );
    }
    const configMap = await kubeRequest<ConfigMap>(system.runtime.kc, {
      method: 'GET',
      path: `/api/v1/namespaces/${NS}/configmaps/scribe-dashboard`,
    });
    expect(configMap.metadata?.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(configMap.data?.['scribe.json'] ?? '{}') as Dashboard;
    const rpo = dashboard.templating.list.find((v) => v.name === 'rpo');
    // The RPO line follows the alert's threshold.
    expect(rpo?.query).toBe(TEST_VALUES['alerts.recoveryPointObjectiveSeconds']);
    const namespaces = [...new Set(replications.map((r) => r.split('/')[0]))];
    // What Grafana substitutes: a multi-value variable as a regex alternation.
    const substitute = (expr: string) =>
      expr
        .replaceAll('$namespace', namespaces.join('|'))
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$rpo', String(rpo?.query));
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(6);
    const end = Math.ceil(Date.now() / 1000);
    const step = Math.max(1, Math.round((end - started) / 240));
    const pictures: PicturePanel[] = [];
    for (const panel of dashboard.panels) {
      const picture: PicturePanel = {
        title: panel.title,
        series: [],
        ...(panel.fieldConfig?.defaults?.unit ? { unit: panel.fieldConfig.defaults.unit } : {}),
      };
      for (const target of panel.targets) {
        const expr = substitute(target.expr);
        expect(expr, `${panel.title}: every variable substituted`).not.toMatch(/\$\w/);
        let series = await prometheus.query(expr);
        if (target.legendFormat === 'RPO') {
          expect(series.map((s) => Number(s.values[0]?.[1]))).toEqual([20]);
        } else {
          // Every replication has completed a sync by now; its latest samples are a scrape (1 s) away.
          const missing = () => {
            const seen = new Set(series.map((s) => `${s.metric.obj_namespace}/${s.metric.obj_name}`));
            return replications.filter((r) => !seen.has(r));
          };
          // A timeout here is reported by the expect below, naming what is missing.
          await waitFor(
            `${panel.title}: series of every replication`,
            async () => {
              if (missing().length === 0) return true;
              series = await prometheus.query(expr);
              return missing().length === 0;
            },
            { timeoutMs: 15_000, intervalMs: 500 },
          ).catch(() => undefined);
          expect(missing(), `${panel.title}: replications without series from ${expr}`).toEqual([]);
        }
        for (const series of await prometheus.queryRange(expr, started, end, step)) {
          const name = (target.legendFormat ?? '').replace(
            /\{\{\s*(\w+)\s*\}\}/g,
            (_, label: string) => series.metric[label] ?? '',
          );
          picture.series.push({
            name,
            points: series.values.map(([t, v]) => [t, Number(v)]),
            ...(target.legendFormat === 'RPO' ? { dashed: true } : {}),
          });
        }
      }
      expect(picture.series.length, panel.title).toBeGreaterThan(0);
      pictures.push(picture);
    }
    const svg = dashboardSvg(
      "Scribe replication (the chart's dashboard, from this test's live Prometheus)",
      pictures,
      started,
      end,
    );
    await writeFile(join(system.runtime.dir, 'dashboard.svg'), svg);
    if (process.env.SCRIBE_DOCS_IMAGES === '1') {
      await mkdir(join(repoRoot(), 'docs', 'images'), { recursive: true });
      await writeFile(join(repoRoot(), 'docs', 'images', 'dashboard.svg'), svg);
    }
  });

  it('sees ScribeOperatorDown fire while the operator is stopped and resolve once it runs again', async () => {
    const stoppedAt = Date.now();
    await system.runtime.stopOperator();
    const down = { alertname: 'ScribeOperatorDown', labels: { namespace: NS }, after: stoppedAt };
    const fired = await watcher.firing(down, 60_000);
    const startedAt = Date.now();
    await system.runtime.startOperator();
    const resolved = await watcher.resolved(down, 90_000);
    expect(resolved.resolvedAt).toBeGreaterThan(startedAt);
    expect(fired.firingAt).toBeLessThan(startedAt);

    // What the run saw, for the record: seconds from the file's start to each firing and resolution.
    const since = (ms?: number) => (ms === undefined ? '-' : `${Math.round(ms / 1000 - started)}s`);
    for (const e of watcher.all()) {
      const who = e.labels.obj_name
        ? `${e.labels.obj_namespace}/${e.labels.obj_name} (${e.labels.role})`
        : e.labels.namespace;
      console.log(
        `[live-alerts] ${e.labels.alertname} ${who}: firing at ${since(e.firingAt)}, resolved at ${since(e.resolvedAt)}`,
      );
    }
    // Every alert of the PrometheusRule has now been seen firing and resolving.
    for (const name of rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert))) {
      const episode = watcher.all().find((e) => e.labels.alertname === name && e.resolvedAt !== undefined);
      expect(episode, `${name} fired and resolved`).toBeDefined();
    }
  });
});
