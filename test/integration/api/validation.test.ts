import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/kube/rest.js';
import { createIn } from '../../support/apply.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

const source = (spec: Record<string, unknown>) => ({
  apiVersion: 'scribe.backube/v1alpha1',
  kind: 'ReplicationSource',
  metadata: { name: 'invalid' },
  spec,
});
const destination = (spec: Record<string, unknown>) => ({
  apiVersion: 'scribe.backube/v1alpha1',
  kind: 'ReplicationDestination',
  metadata: { name: 'invalid' },
  spec,
});
const rsyncSource = { sourcePVC: 'data', rsync: { copyMethod: 'Clone', address: 'dest.example', sshKeys: 'keys' } };

// Each case: the object, and text the API server's message must contain (the field's path).
const INVALID: Array<[string, object, RegExp]> = [
  [
    'six-field cron (decision 5)',
    source({ ...rsyncSource, trigger: { schedule: '*/30 * * * * *' } }),
    /spec\.trigger\.schedule.*5-field/,
  ],
  ['cron with text', source({ ...rsyncSource, trigger: { schedule: 'every day' } }), /spec\.trigger\.schedule/],
  [
    'unknown copyMethod',
    source({ ...rsyncSource, rsync: { ...rsyncSource.rsync, copyMethod: 'Copy' } }),
    /spec\.rsync\.copyMethod.*Unsupported value/,
  ],
  [
    'empty copyMethod (VolSync issue 1454)',
    source({ ...rsyncSource, rsync: { address: 'a', copyMethod: '' } }),
    /spec\.rsync\.copyMethod/,
  ],
  ['missing copyMethod', source({ sourcePVC: 'data', rsync: { address: 'a' } }), /spec\.rsync\.copyMethod.*Required/],
  [
    'destination copyMethod Clone (decision 6)',
    destination({ rsync: { copyMethod: 'Clone', capacity: '1Gi' } }),
    /spec\.rsync\.copyMethod.*Unsupported value: "Clone"/,
  ],
  [
    'two movers',
    source({
      ...rsyncSource,
      rclone: { copyMethod: 'None', rcloneConfigSection: 's', rcloneDestPath: 'p', rcloneConfig: 'c' },
    }),
    /exactly one of spec\.rsync, spec\.rclone, spec\.restic or spec\.external/,
  ],
  [
    'no mover (decision 6)',
    source({ sourcePVC: 'data', trigger: { manual: 'first' } }),
    /exactly one of spec\.rsync, spec\.rclone, spec\.restic or spec\.external/,
  ],
  ['no sourcePVC', source({ rsync: { copyMethod: 'Clone', address: 'a' } }), /spec\.sourcePVC is required/],
  ['port out of range', source({ ...rsyncSource, rsync: { ...rsyncSource.rsync, port: 70000 } }), /spec\.rsync\.port/],
  ['port zero', destination({ rsync: { copyMethod: 'None', capacity: '1Gi', port: 0 } }), /spec\.rsync\.port/],
  [
    'negative retain',
    source({ sourcePVC: 'data', restic: { copyMethod: 'Clone', repository: 'repo', retain: { daily: -1 } } }),
    /spec\.restic\.retain\.daily/,
  ],
  ['malformed capacity', destination({ rsync: { copyMethod: 'None', capacity: 'ten gigs' } }), /spec\.rsync\.capacity/],
  [
    'unknown access mode',
    destination({ rsync: { copyMethod: 'None', capacity: '1Gi', accessModes: ['ReadWriteSometimes'] } }),
    /spec\.rsync\.accessModes\[0\]/,
  ],
  [
    'unknown serviceType',
    destination({ rsync: { copyMethod: 'None', capacity: '1Gi', serviceType: 'NodePort' } }),
    /spec\.rsync\.serviceType/,
  ],
  [
    'destination without capacity or destinationPVC',
    destination({ rsync: { copyMethod: 'Snapshot' } }),
    /spec\.rsync\.capacity is required when spec\.rsync\.destinationPVC is not set/,
  ],
  [
    'manual token too long',
    source({ ...rsyncSource, trigger: { manual: 'x'.repeat(10_000) } }),
    /spec\.trigger\.manual/,
  ],
  ['invalid sourcePVC name', source({ ...rsyncSource, sourcePVC: 'Data_Volume' }), /spec\.sourcePVC/],
  [
    'relative rsync path',
    source({ ...rsyncSource, rsync: { ...rsyncSource.rsync, path: 'data' } }),
    /spec\.rsync\.path/,
  ],
  [
    'rsync source without an address (decision 16: a source only sends)',
    source({ sourcePVC: 'data', rsync: { copyMethod: 'Clone', sshKeys: 'keys' } }),
    /spec\.rsync\.address is required: a ReplicationSource only sends/,
  ],
  [
    'rsync destination with an address (decision 16: a destination only receives)',
    destination({ rsync: { copyMethod: 'None', capacity: '1Gi', address: 'src.example', sshKeys: 'keys' } }),
    /spec\.rsync\.address is not allowed: a ReplicationDestination only receives/,
  ],
  [
    'pruneIntervalDays zero',
    source({ sourcePVC: 'data', restic: { copyMethod: 'Clone', repository: 'repo', pruneIntervalDays: 0 } }),
    /spec\.restic\.pruneIntervalDays/,
  ],
  [
    'malformed retain.within',
    source({ sourcePVC: 'data', restic: { copyMethod: 'Clone', repository: 'repo', retain: { within: 'two weeks' } } }),
    /spec\.restic\.retain\.within/,
  ],
  [
    'moverResources with a malformed quantity',
    destination({
      rclone: {
        copyMethod: 'None',
        destinationPVC: 'd',
        rcloneConfigSection: 's',
        rcloneDestPath: 'p',
        rcloneConfig: 'c',
        moverResources: { requests: { memory: 'lots' } },
      },
    }),
    /spec\.rclone\.moverResources\.requests\.memory/,
  ],
  [
    'moverPodLabels value that is no label value',
    source({
      sourcePVC: 'data',
      restic: { copyMethod: 'Clone', repository: 'repo', moverPodLabels: { team: 'storage team' } },
    }),
    /spec\.restic\.moverPodLabels\.team/,
  ],
  [
    'moverServiceAccount that is no name',
    source({ sourcePVC: 'data', restic: { copyMethod: 'Clone', repository: 'repo', moverServiceAccount: 'Mover SA' } }),
    /spec\.restic\.moverServiceAccount/,
  ],
  [
    'moverAffinity with an unknown operator',
    destination({
      restic: {
        copyMethod: 'None',
        destinationPVC: 'd',
        repository: 'r',
        moverAffinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Near' }] }],
            },
          },
        },
      },
    }),
    /spec\.restic\.moverAffinity\.nodeAffinity\.requiredDuringSchedulingIgnoredDuringExecution\.nodeSelectorTerms\[0\]\.matchExpressions\[0\]\.operator/,
  ],
  [
    'restoreAsOf not a time',
    destination({ restic: { copyMethod: 'None', destinationPVC: 'd', repository: 'r', restoreAsOf: 'yesterday' } }),
    /spec\.restic\.restoreAsOf/,
  ],
];

describe('the CRD schema rejects invalid specs with a message naming the field', () => {
  it.each(INVALID)('%s', async (_, object, message) => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'invalid');
    const error = await createIn(kc, namespace, object).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(422);
    expect((error as ApiError).message).toMatch(message);
  });

  it('accepts @-descriptors and surrounding spaces (decision 5)', async () => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'valid');
    for (const [i, schedule] of ['@hourly', ' 0 3 * * 1-5 ', '@daily'].entries()) {
      const object = source({ ...rsyncSource, trigger: { schedule } });
      const created = await createIn(kc, namespace, { ...object, metadata: { name: `ok-${i}` } });
      expect(created.metadata?.uid).toBeTruthy();
    }
  });
});
