/** Helpers for end-to-end tests against the e2e project's local system. */
import { randomBytes } from 'node:crypto';
import { inject, onTestFinished, type TestContext } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/config.js';
import { create } from '../../src/local/objects.js';
import { deleteNamespace } from './cluster.js';

export { create, createPvc, get, patch, pvcDirectory, waitForObject } from '../../src/local/objects.js';

/** The KubeConfig of the e2e system. */
export function e2eKubeConfig(): KubeConfig {
  return loadKubeConfig({ kubeconfig: inject('e2eKubeconfig') });
}

/** What a test's namespace carries besides its name. */
export interface NamespaceOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The test that owns it, for tests that run concurrently (the global hook cannot tell them apart). */
  test?: TestContext;
}

/** The annotation that lets a namespace's movers run privileged (docs/permissions.md). */
export const PRIVILEGED_MOVERS = { 'scribe.backube/privileged-movers': 'true' };

/** A namespace for this test, deleted afterwards. */
export async function e2eNamespace(kc: KubeConfig, prefix: string, options: NamespaceOptions = {}): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const { labels, annotations } = options;
  const metadata = { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) };
  await create(kc, 'Namespace', undefined, { apiVersion: 'v1', kind: 'Namespace', metadata });
  (options.test?.onTestFinished ?? onTestFinished)(() => deleteNamespace(kc, name));
  return name;
}
