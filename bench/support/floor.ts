/**
 * The floor under the controller benchmark's burst trigger-to-Job latency on this machine: the same
 * burst through the same API server, handled by the least a controller can do.
 *
 * `count` ConfigMaps stand for the CRs. The benchmark patches each one (32 requests in flight, as
 * the trigger round patches the CRs); a minimal controller in this process watches them and, for
 * each change it sees, POSTs one Job (16 at a time, the operator's reconcile concurrency) and
 * nothing else: no status write, no Event, no machine. The latency is the same as the trigger
 * round's: patch sent → the Job's ADDED watch event arriving here.
 *
 * Two floors: with `jobs: 'suspended'` the Job controller makes no pods for the Jobs, so this is
 * lower than what any real controller can reach, and a burst figure under it is out of reach on
 * this machine. With `jobs: 'running'` the Jobs are ordinary ones, as Scribe's: the Job controller
 * makes a pod for each and the scheduler tries to place it, within the same burst; this is the
 * floor for any controller that starts real work per trigger.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { ResourceInformer } from '../../src/kube/informer.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../src/kube/resources.js';
import { limiter, mapLimit, sleep } from './common.js';

const LABEL = 'scribe-bench-floor';

/** What the floor round measured. */
export interface FloorResult {
  count: number;
  /** Per object: patch sent → the Job's ADDED event here, ms. */
  latenciesMs: number[];
  /** Time to send every patch, ms. */
  sendMs: number;
}

/** Whether the floor's Jobs are suspended (no pods) or ordinary (a pod each, as Scribe's). */
export type FloorJobs = 'suspended' | 'running';

/** Runs the minimal controller's burst over `count` ConfigMaps spread over `namespaces`, then deletes what it made. */
export async function measureFloor(
  kc: KubeConfig,
  namespaces: string[],
  count: number,
  jobs: FloorJobs,
): Promise<FloorResult> {
  const names = Array.from({ length: count }, (_, i) => ({
    namespace: namespaces[i % namespaces.length] ?? '',
    name: `floor-${jobs}-${i}`,
  }));
  await mapLimit(names, 32, ({ namespace, name }) =>
    kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.ConfigMap, namespace),
      body: { metadata: { name, labels: { [LABEL]: 'true' } }, data: { trigger: 'initial' } },
    }),
  );
  const sentAt = new Map<string, number>();
  const jobAt = new Map<string, number>();
  const jobInformer = new ResourceInformer<KubernetesObject>(kc, RESOURCES.Job, { labelSelector: LABEL });
  jobInformer.events$.subscribe((event) => {
    if ('object' in event && event.type === 'added') {
      const key = `${event.object.metadata?.namespace}/${event.object.metadata?.name}`;
      if (!jobAt.has(key)) jobAt.set(key, performance.now());
    }
  });
  // The minimal controller: one Job per changed ConfigMap, 16 POSTs at a time.
  const createJob = limiter(16);
  const configMaps = new ResourceInformer<KubernetesObject & { data?: Record<string, string> }>(
    kc,
    RESOURCES.ConfigMap,
    { labelSelector: LABEL },
  );
  const handled = new Set<string>();
  configMaps.events$.subscribe((event) => {
    if (!('object' in event) || event.object.data?.trigger !== 'go') return;
    const key = `${event.object.metadata?.namespace}/${event.object.metadata?.name}`;
    if (handled.has(key)) return;
    handled.add(key);
    const [namespace, name] = key.split('/') as [string, string];
    createJob(() =>
      kubeRequest(kc, { method: 'POST', path: collectionPath(RESOURCES.Job, namespace), body: floorJob(name, jobs) }),
    );
  });
  try {
    await Promise.all([jobInformer.start(), configMaps.start()]);
    const start = performance.now();
    await mapLimit(names, 32, ({ namespace, name }) => {
      sentAt.set(`${namespace}/${name}`, performance.now());
      return kubeRequest(kc, {
        method: 'PATCH',
        path: objectPath(RESOURCES.ConfigMap, namespace, name),
        patchType: 'merge',
        body: { data: { trigger: 'go' } },
      });
    });
    const sendMs = performance.now() - start;
    const deadline = performance.now() + 300_000;
    while (jobAt.size < count) {
      if (performance.now() > deadline) throw new Error(`floor round: ${jobAt.size} of ${count} Jobs seen after 300 s`);
      await sleep(20);
    }
    const latenciesMs = [...sentAt].map(([key, at]) => (jobAt.get(key) as number) - at);
    return { count, latenciesMs, sendMs };
  } finally {
    await Promise.all([jobInformer.stop(), configMaps.stop()]);
    for (const namespace of new Set(namespaces))
      for (const resource of [RESOURCES.Job, RESOURCES.ConfigMap])
        await kubeRequest(kc, {
          method: 'DELETE',
          path: collectionPath(resource, namespace),
          query: { labelSelector: LABEL, propagationPolicy: 'Background' },
        });
  }
}

/** A Job as small as the API server accepts; suspended, no pod is made for it. */
function floorJob(name: string, jobs: FloorJobs): object {
  return {
    metadata: { name, labels: { [LABEL]: 'true' } },
    spec: {
      suspend: jobs === 'suspended',
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'floor', image: 'scribe-bench-floor', command: ['true'] }],
        },
      },
    },
  };
}
