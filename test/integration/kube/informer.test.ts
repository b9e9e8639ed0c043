import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplaySubject, filter, firstValueFrom, take, toArray } from 'rxjs';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../../src/local/control-plane.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { ResourceInformer, type InformerEvent } from '../../../src/kube/informer.js';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../../src/kube/resources.js';

// This suite restarts the API server, so it runs its own control plane instead of the shared one.
let controlPlane: ControlPlane;
let kc: KubeConfig;

beforeAll(async () => {
  controlPlane = await startControlPlane();
  kc = loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath });
});
afterAll(async () => {
  await controlPlane?.stop();
});

const configMap = (name: string, value: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { value },
});

type ConfigMapObject = KubernetesObject & { data?: Record<string, string> };
const describeEvent = (event: InformerEvent<ConfigMapObject>) =>
  'object' in event ? `${event.type} ${event.object.metadata?.name}=${event.object.data?.value ?? ''}` : event.type;

describe('ResourceInformer against a real API server', () => {
  it('keeps no managedFields in its cache, from the list or from the watch', async () => {
    const path = collectionPath(RESOURCES.ConfigMap, 'default');
    const withLabel = (name: string) => ({
      ...configMap(name, 'x'),
      metadata: { ...configMap(name, 'x').metadata, labels: { test: 'managed-fields' } },
    });
    const listed = await kubeRequest<ConfigMapObject>(kc, { method: 'POST', path, body: withLabel('listed') });
    // The API server records a field manager for every write: there is something to drop.
    expect(listed.metadata?.managedFields?.length).toBeGreaterThan(0);
    const informer = new ResourceInformer<ConfigMapObject>(kc, RESOURCES.ConfigMap, {
      namespace: 'default',
      labelSelector: 'test=managed-fields',
    });
    const seen = new ReplaySubject<InformerEvent<ConfigMapObject>>();
    informer.events$.subscribe(seen);
    await informer.start();
    await kubeRequest(kc, { method: 'POST', path, body: withLabel('watched') });
    await firstValueFrom(seen.pipe(filter((e) => 'object' in e && e.object.metadata?.name === 'watched')));
    for (const name of ['listed', 'watched']) {
      expect(informer.get(name, 'default'), name).toBeDefined();
      expect(informer.get(name, 'default')?.metadata?.managedFields, name).toBeUndefined();
    }
    await informer.stop();
  });

  it('sees create, update and delete in order, and keeps going across an API server restart', async () => {
    const informer = new ResourceInformer<ConfigMapObject>(kc, RESOURCES.ConfigMap, {
      namespace: 'default',
      labelSelector: 'test=informer',
      maxDelayMs: 1000,
    });
    const seen = new ReplaySubject<InformerEvent<ConfigMapObject>>();
    informer.events$.subscribe(seen);
    await informer.start();
    const path = collectionPath(RESOURCES.ConfigMap, 'default');
    const labelled = (name: string, value: string) => ({
      ...configMap(name, value),
      metadata: { ...configMap(name, value).metadata, labels: { test: 'informer' } },
    });

    await kubeRequest(kc, { method: 'POST', path, body: labelled('first', '1') });
    await kubeRequest(kc, {
      method: 'PATCH',
      path: objectPath(RESOURCES.ConfigMap, 'default', 'first'),
      body: { data: { value: '2' } },
    });
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.ConfigMap, 'default', 'first') });

    const objectEvents = seen.pipe(filter((event) => 'object' in event));
    const firstThree = await firstValueFrom(objectEvents.pipe(take(3), toArray()));
    expect(firstThree.map(describeEvent)).toEqual(['added first=1', 'updated first=2', 'deleted first=2']);

    await controlPlane.restartApiServer();
    // Changes made right after the restart reach the informer once its watch reconnects.
    await kubeRequest(kc, { method: 'POST', path, body: labelled('second', 'a') });
    await kubeRequest(kc, {
      method: 'PATCH',
      path: objectPath(RESOURCES.ConfigMap, 'default', 'second'),
      body: { data: { value: 'b' } },
    });
    const afterRestart = await firstValueFrom(
      objectEvents.pipe(
        filter(
          (event) => 'object' in event && event.object.metadata?.name === 'second' && event.object.data?.value === 'b',
        ),
      ),
    );
    expect(describeEvent(afterRestart)).toMatch(/^(added|updated) second=b$/);
    expect(informer.get('second', 'default')?.data?.value).toBe('b');
    expect(informer.get('first', 'default')).toBeUndefined();
    await informer.stop();
  });
});
