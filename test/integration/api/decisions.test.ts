/**
 * The design's rulings on the seed (design.md, "Decisions where the seed is ambiguous, broken or
 * silent") that concern what the API server accepts, checked against the real one. The other
 * decisions are tested where they live; their test names cite the number too.
 */
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import { snapshotObject } from '../../../src/effects/adapter.js';
import { ApiError, kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../../src/kube/resources.js';
import { resticMover } from '../../../src/movers/restic/mover.js';
import { keepFlags } from '../../../src/movers/restic/retain.js';
import { createIn } from '../../support/apply.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

type Env = Array<{ name: string; value?: string }>;

describe('decisions on the seed, against the real API server', () => {
  it('decision 9: VolumeSnapshots are snapshot.storage.k8s.io/v1; without a class the cluster default applies', async () => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'decision-9');
    const base = { type: 'ensureSnapshot', labels: {}, temporary: false, sourcePvc: 'data' } as const;
    const withoutClass = snapshotObject({ ...base, name: 'default-class' });
    const withClass = snapshotObject({ ...base, name: 'named-class', volumeSnapshotClassName: 'fast' });
    expect(withoutClass.apiVersion).toBe('snapshot.storage.k8s.io/v1');
    // Absent, not empty: an empty string would name a class instead of asking for the default.
    expect((withoutClass as { spec: object }).spec).not.toHaveProperty('volumeSnapshotClassName');
    for (const object of [withoutClass, withClass]) {
      const created = await kubeRequest<{ spec: { volumeSnapshotClassName?: string } }>(kc, {
        method: 'POST',
        path: collectionPath(RESOURCES.VolumeSnapshot, namespace),
        query: { dryRun: 'All', fieldValidation: 'Strict' },
        body: { ...object, metadata: { ...object.metadata, namespace } },
      });
      expect(created.spec.volumeSnapshotClassName).toBe(object === withClass ? 'fast' : undefined);
    }
  });

  it('decision 13: restic retain.last is accepted and becomes --keep-last', async () => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'decision-13');
    const created = (await createIn(kc, namespace, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'keep-last' },
      spec: {
        sourcePVC: 'data',
        restic: { copyMethod: 'Clone', repository: 'restic-config', retain: { last: 3, daily: 7 } },
      },
    } as ScribeCr)) as ScribeCr;
    expect((created.spec as { restic: { retain: object } }).restic.retain).toEqual({ last: 3, daily: 7 });
    const plan = resticMover.build(
      created,
      { cycleId: '1-20260101000000', attempt: 0, volume: 'scribe-src-keep-last' },
      {},
    );
    const job = plan.objects.find((o) => o.kind === 'Job') as unknown as {
      spec: { template: { spec: { containers: Array<{ env: Env }> } } };
    };
    const env = job.spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'SCRIBE_RETAIN_LAST')?.value).toBe('3');
    expect(keepFlags({ last: 3, daily: 7 })).toEqual(['--keep-last', '3', '--keep-daily', '7']);
  });

  it("decision 15: the seed proposal's webhook trigger is not planned; the API server refuses the field", async () => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'decision-15');
    const object = {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'webhook', namespace },
      spec: {
        sourcePVC: 'data',
        trigger: { webhook: { url: 'https://example.com/hook' } },
        rsync: { copyMethod: 'Clone', address: 'dest.example', sshKeys: 'keys' },
      },
    };
    // kubectl validates strictly by default, so a user applying it sees this refusal.
    const error = await kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.ReplicationSource, namespace),
      query: { fieldValidation: 'Strict' },
      body: object,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toMatch(/unknown field "spec\.trigger\.webhook"/);
  });
});
