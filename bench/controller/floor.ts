/**
 * The floor under the controller benchmark's burst trigger-to-Job latency on this machine: the same
 * burst through the same API server, handled by the least a controller can do.
 *
 * The burst's objects are copies of Scribe's CRs (spec and status as they are now) served under a
 * bench-only API group by copies of Scribe's CRDs, so the API server validates and stores each
 * trigger patch exactly as it does the trigger round's: the schema, its CEL rules, a status of the
 * same size. (The first floor patched ConfigMaps; a CR patch costs the API server several times
 * as much, and on two cores the API server is what a burst waits for.) The benchmark patches
 * spec.trigger.manual on each copy (32 requests in flight, as the trigger round does); a minimal
 * controller in this process watches them and, for each change it sees, does one of:
 *
 * - `suspended`: POSTs one suspended Job (no pod is made for it): lower than what any real
 *   controller reaches, so a burst figure under it is out of reach on this machine;
 * - `running`: POSTs one ordinary Job, as Scribe's: the Job controller makes a pod for it and the
 *   scheduler tries to place it within the same burst;
 * - `status-first`: PATCHes the copy's status first (a state, a start time and one more journal
 *   entry, as Scribe's write-ahead status at a trigger does), then POSTs the ordinary Job: the
 *   least any controller that records its decision before acting on it can do.
 *
 * 16 changes are handled at a time (the operator's reconcile concurrency). No machine, no Event.
 * The latency is the trigger round's: patch sent → the Job's ADDED watch event arriving here.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { ResourceInformer } from '../../src/kube/informer.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { apiVersionOf, collectionPath, objectPath, RESOURCES, type ResourceKind } from '../../src/kube/resources.js';
import { JOURNAL_MAX_ENTRIES } from '../../src/api/common.js';
import { applyCrds, type Crd } from '../../src/local/crds.js';
import { waitFor } from '../../src/local/processes.js';
import { limiter, mapLimit, REPO_ROOT, sleep } from '../scaffold/common.js';

const LABEL = 'scribe-bench-floor';
/** The API group the floor's copies of Scribe's CRDs serve; nothing of Scribe's watches it. */
const FLOOR_GROUP = 'floor.bench.scribe.backube';
const FLOOR_KINDS = {
  ReplicationSource: { ...RESOURCES.ReplicationSource, group: FLOOR_GROUP },
  ReplicationDestination: { ...RESOURCES.ReplicationDestination, group: FLOOR_GROUP },
} satisfies Record<string, ResourceKind>;
type CrKind = keyof typeof FLOOR_KINDS;

/** One of Scribe's CRs, as the benchmark's informers hold it. */
export interface FloorSourceCr extends KubernetesObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { journal?: unknown[] };
}

/** What a floor round measured. */
export interface FloorResult {
  count: number;
  /** Per object: patch sent → the Job's ADDED event here, ms. */
  latenciesMs: number[];
  /** Time to send every patch, ms. */
  sendMs: number;
}

/** What the minimal controller does per change (see the file comment). */
export type FloorVariant = 'suspended' | 'running' | 'status-first';

/** Installs the copies of Scribe's CRDs under FLOOR_GROUP (same schema, same CEL rules). */
export async function installFloorCrds(kc: KubeConfig): Promise<void> {
  const dir = join(REPO_ROOT, 'crds');
  const copies: Crd[] = [];
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.yaml'))) {
    for (const document of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const crd = document.toJS() as (Crd & { spec: { group: string; names: { plural: string } } }) | null;
      if (!crd?.spec?.group) continue;
      copies.push({
        ...crd,
        metadata: { name: `${crd.spec.names.plural}.${FLOOR_GROUP}` },
        spec: { ...crd.spec, group: FLOOR_GROUP },
      } as Crd);
    }
  }
  await applyCrds(kc, copies);
}

/**
 * Copies `crs` under FLOOR_GROUP, runs the minimal controller's burst over them, then deletes what
 * it made and waits until it is gone: the garbage collector's deletion of a thousand Jobs' pods
 * would otherwise still load the API server during whatever is measured next.
 */
export async function measureFloor(
  kc: KubeConfig,
  crs: readonly FloorSourceCr[],
  variant: FloorVariant,
): Promise<FloorResult> {
  const copies = crs.map((cr, i) => ({
    kind: cr.kind as CrKind,
    namespace: cr.metadata?.namespace ?? '',
    name: `floor-${variant}-${i}`,
    source: cr,
  }));
  const namespaces = new Set(copies.map((copy) => copy.namespace));
  try {
    await mapLimit(copies, 32, async ({ kind, namespace, name, source }) => {
      const resource = FLOOR_KINDS[kind];
      await kubeRequest(kc, {
        method: 'POST',
        path: collectionPath(resource, namespace),
        body: {
          apiVersion: apiVersionOf(resource),
          kind,
          metadata: { name, labels: { [LABEL]: 'true' } },
          spec: { ...source.spec, trigger: { manual: 'floor-initial' } },
        },
      });
      if (source.status)
        await kubeRequest(kc, {
          method: 'PATCH',
          path: objectPath(resource, namespace, name, 'status'),
          patchType: 'merge',
          body: { status: source.status },
        });
    });
    return await burst(kc, copies, variant);
  } finally {
    for (const namespace of namespaces)
      for (const resource of [RESOURCES.Job, ...Object.values(FLOOR_KINDS)])
        await kubeRequest(kc, {
          method: 'DELETE',
          path: collectionPath(resource, namespace),
          query: { labelSelector: LABEL, propagationPolicy: 'Background' },
        });
    await waitUntilGone(kc, [...namespaces], LABEL);
  }
}

/** How long Jobs and pods may take to go once deleted. */
const CLEAN_UP_TIMEOUT_MS = 300_000;

/**
 * Waits until no Job or pod that `labelSelector` selects is left in `namespaces` (the pods go by the
 * garbage collector, after their Job): a burst is measured on an API server that is not still
 * deleting the last one's objects.
 */
export async function waitUntilGone(
  kc: KubeConfig,
  namespaces: readonly string[],
  labelSelector: string,
): Promise<void> {
  for (const namespace of namespaces)
    for (const resource of [RESOURCES.Job, RESOURCES.Pod]) {
      const none = async () => {
        const left = await kubeRequest<{ items: unknown[] }>(kc, {
          method: 'GET',
          path: collectionPath(resource, namespace),
          query: { labelSelector, limit: '1' },
        });
        return left.items.length === 0;
      };
      await waitFor(`no ${resource.plural} (${labelSelector}) left in ${namespace}`, none, {
        timeoutMs: CLEAN_UP_TIMEOUT_MS,
        intervalMs: 200,
      });
    }
}

async function burst(
  kc: KubeConfig,
  copies: ReadonlyArray<{ kind: CrKind; namespace: string; name: string }>,
  variant: FloorVariant,
): Promise<FloorResult> {
  const sentAt = new Map<string, number>();
  const jobAt = new Map<string, number>();
  const jobInformer = new ResourceInformer<KubernetesObject>(kc, RESOURCES.Job, { labelSelector: LABEL });
  jobInformer.events$.subscribe((event) => {
    if ('object' in event && event.type === 'added') {
      const key = `${event.object.metadata?.namespace}/${event.object.metadata?.name}`;
      if (!jobAt.has(key)) jobAt.set(key, performance.now());
    }
  });
  // The minimal controller: for each copy whose trigger changed, its variant's requests, 16 at a time.
  const handle = limiter(16);
  const handled = new Set<string>();
  const informers = Object.values(FLOOR_KINDS).map((resource) => {
    const informer = new ResourceInformer<FloorSourceCr>(kc, resource, { labelSelector: LABEL });
    informer.events$.subscribe((event) => {
      if (!('object' in event) || event.type === 'deleted') return;
      const cr = event.object;
      if ((cr.spec?.trigger as { manual?: string } | undefined)?.manual !== 'floor-go') return;
      const key = `${cr.metadata?.namespace}/${cr.metadata?.name}`;
      if (handled.has(key)) return;
      handled.add(key);
      handle(() => react(kc, resource, cr, variant));
    });
    return informer;
  });
  try {
    await Promise.all([jobInformer.start(), ...informers.map((informer) => informer.start())]);
    const start = performance.now();
    await mapLimit(copies, 32, ({ kind, namespace, name }) => {
      sentAt.set(`${namespace}/${name}`, performance.now());
      return kubeRequest(kc, {
        method: 'PATCH',
        path: objectPath(FLOOR_KINDS[kind], namespace, name),
        patchType: 'merge',
        body: { spec: { trigger: { manual: 'floor-go' } } },
      });
    });
    const sendMs = performance.now() - start;
    const deadline = performance.now() + 300_000;
    while (jobAt.size < copies.length) {
      if (performance.now() > deadline)
        throw new Error(`floor round: ${jobAt.size} of ${copies.length} Jobs seen after 300 s`);
      await sleep(20);
    }
    const latenciesMs = [...sentAt].map(([key, at]) => (jobAt.get(key) as number) - at);
    return { count: copies.length, latenciesMs, sendMs };
  } finally {
    await Promise.all([jobInformer.stop(), ...informers.map((informer) => informer.stop())]);
  }
}

/** The minimal controller's answer to one change. */
async function react(kc: KubeConfig, resource: ResourceKind, cr: FloorSourceCr, variant: FloorVariant) {
  const namespace = cr.metadata?.namespace ?? '';
  const name = cr.metadata?.name ?? '';
  if (variant === 'status-first') {
    const now = new Date().toISOString();
    const journal = [...(cr.status?.journal ?? []), { time: now, event: 'observe', from: 'idle', to: 'moving' }];
    await kubeRequest(kc, {
      method: 'PATCH',
      path: objectPath(resource, namespace, name, 'status'),
      patchType: 'merge',
      body: {
        metadata: { resourceVersion: cr.metadata?.resourceVersion },
        status: { state: 'moving', lastSyncStartTime: now, journal: journal.slice(-JOURNAL_MAX_ENTRIES) },
      },
    });
  }
  await kubeRequest(kc, {
    method: 'POST',
    path: collectionPath(RESOURCES.Job, namespace),
    body: floorJob(name, variant),
  });
}

/** A Job as small as the API server accepts; suspended ones get no pod. */
function floorJob(name: string, variant: FloorVariant): object {
  return {
    metadata: { name, labels: { [LABEL]: 'true' } },
    spec: {
      suspend: variant === 'suspended',
      backoffLimit: 0,
      template: {
        metadata: { labels: { [LABEL]: 'true' } },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'floor', image: 'scribe-bench-floor', command: ['true'] }],
        },
      },
    },
  };
}

/** The floors, lowest first (see the file comment). */
export const FLOOR_VARIANTS: readonly FloorVariant[] = ['suspended', 'running', 'status-first'];
export const FLOOR_LABELS: Record<FloorVariant, string> = {
  suspended: 'POSTs one suspended Job per change (no pod)',
  running: "POSTs one ordinary Job per change (a pod each, as for Scribe's)",
  'status-first': 'PATCHes the status, then POSTs one ordinary Job per change',
};
