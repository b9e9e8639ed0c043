/** Helpers for tests that talk to the shared real API server. */
import { randomBytes } from 'node:crypto';
import { inject, onTestFinished } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/config.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../src/kube/resources.js';

/** The KubeConfig of the control plane the global setup started. */
export function testKubeConfig(): KubeConfig {
  return loadKubeConfig({ kubeconfig: inject('kubeconfig') });
}

/** Creates a namespace unique to this test, deleted when the test finishes. */
export async function testNamespace(kc: KubeConfig, prefix = 'test'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await kubeRequest(kc, {
    method: 'POST',
    path: collectionPath(RESOURCES.Namespace),
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  onTestFinished(async () => {
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.Namespace, undefined, name) }).catch(
      () => undefined,
    );
  });
  return name;
}
