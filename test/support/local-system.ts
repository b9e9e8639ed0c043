/**
 * A local system of a test file's own, for the files that kill or reconfigure the operator or
 * must see a whole workload from its first request, so cannot share the e2e runtime: started
 * before the file's tests with the namespaces they work in, stopped after them (after the
 * file's own afterAll hooks, which run first). And the rsync pair those files build on: a source
 * volume of sample files and a listening destination whose key Secret the source's namespace holds.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { PRIVILEGED_MOVERS_ANNOTATION } from '../../machines/privilege.js';
import { copySecret, create, createPvc, listeningAddress, pvcDirectory } from '../../src/local/objects.js';
import { startLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from '../../src/local/runtime.js';

/** The file's system; `runtime` is set once its beforeAll has run. */
export interface OwnLocalSystem {
  runtime: LocalRuntime;
}

/**
 * Registers a local system started with `options` for this file's tests, with the namespaces
 * `namespaces` made (annotated for privileged movers when `privileged`: the rsync movers run
 * privileged, and owners must arrive as they are, docs/permissions.md).
 */
export function localSystemOfThisFile(
  options: LocalRuntimeOptions,
  namespaces: { names: readonly string[]; privileged?: boolean } = { names: [] },
): OwnLocalSystem {
  const system = { runtime: undefined as unknown as LocalRuntime };
  beforeAll(async () => {
    system.runtime = await startLocalRuntime(options);
    await createNamespaces(system.runtime.kc, namespaces.names, namespaces);
  });
  afterAll(async () => {
    await system.runtime?.stop();
  });
  return system;
}

/** Creates namespaces `names`, annotated for privileged movers when `privileged`. */
export async function createNamespaces(
  kc: KubeConfig,
  names: readonly string[],
  { privileged = false }: { privileged?: boolean } = {},
): Promise<void> {
  for (const name of names) {
    await create(kc, 'Namespace', undefined, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, ...(privileged ? { annotations: { [PRIVILEGED_MOVERS_ANNOTATION]: 'true' } } : {}) },
    });
  }
}

/**
 * A PVC `name` in `namespace` holding `files` files of sample data under d/ (`content` of each
 * by its number; by default about 20 KiB naming the PVC and the number); returns its directory.
 */
export async function sampleVolume(
  kc: KubeConfig,
  namespace: string,
  name: string,
  { files = 300, content = (i: number) => `${name} ${i}\n`.repeat(3000) } = {},
): Promise<string> {
  await createPvc(kc, namespace, name);
  const dir = await pvcDirectory(kc, namespace, name);
  await mkdir(join(dir, 'd'), { recursive: true });
  for (let i = 0; i < files; i++) await writeFile(join(dir, 'd', `f${i}`), content(i));
  return dir;
}

/**
 * An rsync ReplicationDestination `id` in `from` with spec.rsync `rsync`, once it listens, and
 * its key Secret copied to `to` (the source's namespace).
 */
export async function listeningRsyncDestination(
  kc: KubeConfig,
  id: string,
  rsync: object,
  { from = 'dst', to = 'src' }: { from?: string; to?: string } = {},
) {
  await create(kc, 'ReplicationDestination', from, {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationDestination',
    metadata: { name: id },
    spec: { rsync },
  });
  const listening = await listeningAddress(kc, from, id);
  const secret = await copySecret(kc, listening.keys, from, to);
  return { ...listening, secret };
}
