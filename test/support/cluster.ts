/** Helpers for tests that talk to the shared real API server. */
import { randomBytes } from 'node:crypto';
import { inject, onTestFinished } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/config.js';
import { deleteIfPresent } from '../../src/kube/objects.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../src/kube/resources.js';

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
  onTestFinished(() => deleteNamespace(kc, name));
  return name;
}

/**
 * Deletes a test's namespace if it is there. Best effort: a test that stopped its API server
 * leaves the namespace to go with the cluster, and its own failure is the one to report.
 */
export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  await deleteIfPresent(kc, 'Namespace', undefined, name).catch(() => undefined);
}
