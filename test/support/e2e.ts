/** Helpers for end-to-end tests against the e2e project's local system. */
import { randomBytes } from 'node:crypto';
import { inject, onTestFinished } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/config.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { objectPath, RESOURCES } from '../../src/kube/resources.js';
import { create } from '../../src/local/objects.js';

export { create, createPvc, get, patch, pvcDirectory, waitForObject } from '../../src/local/objects.js';

/** The KubeConfig of the e2e system. */
export function e2eKubeConfig(): KubeConfig {
  return loadKubeConfig({ kubeconfig: inject('e2eKubeconfig') });
}

/** A namespace for this test, deleted afterwards. */
export async function e2eNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await create(kc, 'Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  onTestFinished(async () => {
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(RESOURCES.Namespace, undefined, name) }).catch(
      () => undefined,
    );
  });
  return name;
}
