/**
 * Kills a mover pod in the middle of its transfer, as a node loss would: for the fault tests
 * that prove an interrupted sync is retried without losing or reversing data.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'vitest';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../src/kube/resources.js';
import { waitFor } from '../../src/local/processes.js';
import { MOVER_POD_LABEL } from '../../src/movers/job.js';
import { processesIn, sandboxNamespaces } from './pod-processes.js';

type Pod = KubernetesObject & { status?: { phase?: string } };

/** The pod that was killed, as it was just before. */
export interface KilledMover {
  pod: string;
  labels: Record<string, string>;
  /** Its log as last read before the kill. */
  log: string;
  killedAt: number;
}

/**
 * Waits until the mover pod of Job `job` runs and `midway(log)` says it is in the middle of its
 * transfer, deletes the pod at once (gracePeriodSeconds 0: the local runtime's agent SIGKILLs it,
 * as a node loss would end it) and waits until its processes are gone. Fails if no pod was found
 * running mid-transfer, if the deletion fails, or if the pod had already finished.
 */
export async function killMoverMidway(
  kc: KubeConfig,
  ns: string,
  job: string,
  midway: (log: string) => Promise<boolean> | boolean,
): Promise<KilledMover> {
  let victim: { pod: string; uid: string; labels: Record<string, string>; log: string } | undefined;
  let lastLog = '';
  await waitFor(
    `the mover of ${ns}/${job} in the middle of its transfer`,
    async () => {
      const pods = await kubeRequest<{ items: Pod[] }>(kc, {
        method: 'GET',
        path: collectionPath(RESOURCES.Pod, ns),
        query: { labelSelector: `${MOVER_POD_LABEL}=${job}` },
      });
      const pod = pods.items.find((candidate) => candidate.status?.phase === 'Running');
      if (!pod?.metadata?.name) return false;
      const log = await kubeRequest<string>(kc, {
        method: 'GET',
        path: `${objectPath(RESOURCES.Pod, ns, pod.metadata.name)}/log`,
        text: true,
      });
      lastLog = log;
      if (!(await midway(log))) return false;
      victim = { pod: pod.metadata.name, uid: pod.metadata.uid ?? '', labels: pod.metadata.labels ?? {}, log };
      return true;
    },
    { timeoutMs: 240_000, intervalMs: 100 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\nlast log:\n${lastLog.slice(-3000)}`);
  });
  const { pod, uid, labels, log } = victim as NonNullable<typeof victim>;
  const namespaces = await sandboxNamespaces(uid);
  expect(namespaces.size, `the sandbox of pod ${pod}`).toBeGreaterThan(0);
  const killedAt = Date.now();
  await kubeRequest(kc, {
    method: 'DELETE',
    path: objectPath(RESOURCES.Pod, ns, pod),
    query: { gracePeriodSeconds: 0 },
  });
  // It had not finished: no result line yet.
  expect(log).not.toMatch(/: result: /);
  // Dead for sure (not merely deleted from the API) before the test speeds the link up again.
  await waitFor(`the processes of pod ${pod} gone`, async () => (await processesIn(namespaces)) === 0, {
    timeoutMs: 60_000,
    intervalMs: 50,
  });
  return { pod, labels, log, killedAt };
}
