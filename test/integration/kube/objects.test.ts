/**
 * The one create/read/delete helper (src/kube/objects.ts) against the real API server: what a
 * 404 and a 409 mean to it, and that preconditions keep a same-named successor.
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { createIfAbsent, createOrRead, deleteIfPresent, readObject } from '../../../src/kube/objects.js';
import { isStatus } from '../../../src/kube/rest.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

const kc = testKubeConfig();
type ConfigMap = KubernetesObject & { data?: Record<string, string> };
const configMap = (value: string): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'one' },
  data: { value },
});

describe('src/kube/objects.ts', () => {
  it('creates if absent and leaves what exists; reads what exists', async () => {
    const ns = await testNamespace(kc, 'objects');
    expect(await readObject(kc, 'ConfigMap', ns, 'one')).toBeUndefined();
    expect((await createIfAbsent(kc, 'ConfigMap', ns, configMap('first')))?.data).toEqual({ value: 'first' });
    expect(await createIfAbsent(kc, 'ConfigMap', ns, configMap('second'))).toBeUndefined();
    const read = await createOrRead(kc, 'ConfigMap', ns, configMap('third'));
    expect(read.created).toBe(false);
    expect(read.object.data).toEqual({ value: 'first' });
    expect((await readObject<ConfigMap>(kc, 'ConfigMap', ns, 'one'))?.data).toEqual({ value: 'first' });
    // Other errors are the caller's: a namespace that does not exist.
    const missing = await createIfAbsent(kc, 'ConfigMap', `${ns}-none`, configMap('x')).catch((error) => error);
    expect(isStatus(missing, 404)).toBe(true);
  });

  it('deletes if present; a precondition spares a same-named successor', async () => {
    const ns = await testNamespace(kc, 'objects');
    const first = await createOrRead(kc, 'ConfigMap', ns, configMap('first'));
    expect(first.created).toBe(true);
    expect(await deleteIfPresent(kc, 'ConfigMap', ns, 'one', { propagationPolicy: 'Background' })).toBe('deleted');
    expect(await deleteIfPresent(kc, 'ConfigMap', ns, 'one')).toBe('gone');
    await createIfAbsent(kc, 'ConfigMap', ns, configMap('successor'));
    const predecessor = { uid: first.object.metadata?.uid };
    expect(await deleteIfPresent(kc, 'ConfigMap', ns, 'one', { preconditions: predecessor })).toBe('changed');
    expect((await readObject<ConfigMap>(kc, 'ConfigMap', ns, 'one'))?.data).toEqual({ value: 'successor' });
  });
});
