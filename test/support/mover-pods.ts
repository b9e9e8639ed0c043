/** The mover pods of a namespace as a watch saw them, for tests that check the pods' spec. */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { TestContext } from 'vitest';
import { ResourceInformer } from '../../src/kube/informer.js';
import { RESOURCES } from '../../src/kube/resources.js';
import { MOVER_POD_LABEL } from '../../src/movers/job.js';

/**
 * Every mover pod of `ns` as the watch first showed it, by name: a mover pod lives only while its
 * Job does, which the operator deletes once the sync is over, so the watch starts before the
 * sync. It stops when `test` ends.
 */
export async function watchMoverPods<T extends KubernetesObject>(
  kc: KubeConfig,
  ns: string,
  test: TestContext,
): Promise<Map<string, T>> {
  const informer = new ResourceInformer<T>(kc, RESOURCES.Pod, { namespace: ns, labelSelector: MOVER_POD_LABEL });
  const seen = new Map<string, T>();
  const subscription = informer.events$.subscribe((event) => {
    if ('object' in event && event.type !== 'deleted') seen.set(event.object.metadata?.name ?? '', event.object);
  });
  await informer.start();
  test.onTestFinished(async () => {
    subscription.unsubscribe();
    await informer.stop();
  });
  return seen;
}
