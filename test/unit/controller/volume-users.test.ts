/**
 * Decision 12, the observation side: the index of pods by the PVCs they mount, fed by Pod
 * informer events, and the pods as the placement decision sees them.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { observePod } from '../../../src/controller/observe.js';
import { VolumeUsersIndex } from '../../../src/controller/volume-users.js';

function pod(
  name: string,
  claims: string[],
  extra: { namespace?: string; uid?: string; node?: string; tolerations?: object[] } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: extra.namespace ?? 'ns', uid: extra.uid ?? `uid-${name}` },
    spec: {
      nodeName: extra.node,
      ...(extra.tolerations ? { tolerations: extra.tolerations } : {}),
      volumes: [
        ...claims.map((claimName, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName } })),
        { name: 'tmp', emptyDir: {} },
      ],
    },
    status: { phase: 'Running' },
  } as KubernetesObject;
}

const names = (pods: KubernetesObject[]) => pods.map((p) => p.metadata?.name);

describe('decision 12: the pods using each volume', () => {
  it('decision 12: pods are found by namespace and claim, in name order, and forgotten when deleted', () => {
    const index = new VolumeUsersIndex();
    index.apply({ type: 'added', object: pod('web-b', ['data']) });
    index.apply({ type: 'added', object: pod('web-a', ['data', 'logs']) });
    index.apply({ type: 'added', object: pod('other-ns', ['data'], { namespace: 'elsewhere' }) });
    index.apply({ type: 'synced' });
    expect(names(index.users('ns', 'data'))).toEqual(['web-a', 'web-b']);
    expect(names(index.users('ns', 'logs'))).toEqual(['web-a']);
    expect(names(index.users('elsewhere', 'data'))).toEqual(['other-ns']);

    // An update that drops a volume moves the pod out of that claim's entry.
    index.apply({ type: 'updated', object: pod('web-a', ['logs']) });
    expect(names(index.users('ns', 'data'))).toEqual(['web-b']);
    index.apply({ type: 'deleted', object: pod('web-b', ['data']) });
    expect(index.users('ns', 'data')).toEqual([]);
    index.apply({ type: 'deleted', object: pod('web-a', ['logs']) });
    expect(index.users('ns', 'logs')).toEqual([]);
  });

  it('decision 12: a pod is observed with its node, phase, claims, tolerations and whether Scribe made it', () => {
    const dedicated = { key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' };
    const user = pod('app', ['data'], { node: 'node-x', tolerations: [dedicated] });
    expect(observePod(user)).toEqual({
      name: 'app',
      nodeName: 'node-x',
      phase: 'Running',
      deleting: false,
      claims: ['data'],
      createdByScribe: false,
      tolerations: [dedicated],
    });
    expect(observePod(pod('plain', ['data'])).tolerations).toEqual([]);
    const mover = {
      ...user,
      metadata: {
        ...user.metadata,
        labels: { 'app.kubernetes.io/created-by': 'scribe' },
        deletionTimestamp: new Date(),
      },
    };
    expect(observePod(mover)).toMatchObject({ createdByScribe: true, deleting: true });
  });
});
