import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { KubeObject } from '../../../machines/mover.js';
import { isDnsLabel } from '../../../machines/naming.js';
import { ownedBy } from '../../../src/effects/objects.js';
import { MOVER_POD_LABEL } from '../../../src/movers/job.js';
import { explainRsyncFailure, GENERATE_ANNOTATION, rsyncMover } from '../../../src/movers/rsync/mover.js';

/** Kubernetes object names: DNS-1123 subdomains up to 253 characters. */
const crName = fc
  .array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.join('-').slice(0, 253).replace(/-+$/, ''))
  .filter((name) => name.length > 0);

const rsyncCr = fc.record({
  kind: fc.constantFrom('ReplicationSource', 'ReplicationDestination') as fc.Arbitrary<ScribeCr['kind']>,
  name: crName,
  address: fc.option(fc.constantFrom('10.0.0.1', 'dest.example.com'), { nil: undefined }),
  sshKeys: fc.option(crName, { nil: undefined }),
  port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  serviceType: fc.option(fc.constantFrom('ClusterIP', 'LoadBalancer') as fc.Arbitrary<'ClusterIP' | 'LoadBalancer'>, {
    nil: undefined,
  }),
});

type RsyncCrInput = typeof rsyncCr extends fc.Arbitrary<infer T> ? T : never;

function toCr(input: RsyncCrInput): ScribeCr {
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: input.kind,
    metadata: { name: input.name, namespace: 'ns', uid: 'uid-1' },
    spec: {
      sourcePVC: 'data',
      rsync: {
        copyMethod: input.kind === 'ReplicationSource' ? 'Clone' : 'Snapshot',
        capacity: '1Gi',
        ...(input.address ? { address: input.address } : {}),
        ...(input.sshKeys ? { sshKeys: input.sshKeys } : {}),
        ...(input.port ? { port: input.port } : {}),
        ...(input.serviceType ? { serviceType: input.serviceType } : {}),
      },
    },
  } as ScribeCr;
}

type Container = {
  command: string[];
  securityContext: {
    allowPrivilegeEscalation: boolean;
    readOnlyRootFilesystem: boolean;
    capabilities: { drop: string[]; add?: string[] };
  };
};
type JobSpec = { template: { metadata: { labels: Record<string, string> }; spec: { containers: Container[] } } };

describe('the rsync builder', () => {
  it('names every object with a valid DNS label of at most 63 characters, deterministically', () => {
    fc.assert(
      fc.property(rsyncCr, fc.integer({ min: 0, max: 9 }), (input, attempt) => {
        const cr = toCr(input);
        const cycle = { cycleId: '1-20260101000000', attempt, volume: 'vol' };
        const first = rsyncMover.build(cr, cycle, {});
        const second = rsyncMover.build(cr, cycle, {});
        expect(second).toEqual(first);
        for (const object of first.objects) {
          // A user-named key Secret is not ours to name; everything Scribe names must fit.
          if (object.kind !== 'Secret' || !input.sshKeys) expect(isDnsLabel(object.metadata.name)).toBe(true);
        }
      }),
    );
  });

  it('labels, confines and owns what it builds', () => {
    fc.assert(
      fc.property(rsyncCr, (input) => {
        const cr = toCr(input);
        const plan = rsyncMover.build(cr, { cycleId: '2-20260101000000', attempt: 1, volume: 'vol' }, {});
        const job = plan.objects.find((o) => o.kind === 'Job') as KubeObject & { spec: JobSpec };
        expect(job.metadata.labels).toMatchObject({
          'app.kubernetes.io/created-by': 'scribe',
          'scribe.backube/cycle': '2-20260101000000',
          'scribe.backube/attempt': '1',
        });
        const pod = job.spec.template;
        expect(pod.metadata.labels['app.kubernetes.io/created-by']).toBe('scribe');
        const [container] = pod.spec.containers;
        expect(container?.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container?.securityContext.capabilities.add ?? []).not.toContain('SYS_ADMIN');
        // Decision 16: the kind decides the direction, whatever the spec says about an address.
        const sends = input.kind === 'ReplicationSource';
        expect(container?.command.slice(1)).toEqual(['mover', sends ? 'rsync-source' : 'rsync-destination']);
        // Only the Job is temporary: the Service and generated keys outlive a cycle.
        expect(plan.temporary).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name }]);
        const service = plan.objects.find((o) => o.kind === 'Service') as
          (KubeObject & { spec: { selector: Record<string, string>; ports: Array<{ port: number }> } }) | undefined;
        if (sends) expect(service).toBeUndefined();
        else {
          expect(service?.spec.selector[MOVER_POD_LABEL]).toBe(pod.metadata.labels[MOVER_POD_LABEL]);
          expect(service?.spec.ports[0]?.port).toBe(input.port ?? 22);
        }
        const generated = plan.objects.filter((o) => o.metadata.annotations?.[GENERATE_ANNOTATION]);
        // A destination without sshKeys generates both halves; a source must be given its Secret.
        const listeningWithoutKeys = input.kind === 'ReplicationDestination' && !input.sshKeys;
        expect(generated.length).toBe(listeningWithoutKeys ? 2 : 0);
        for (const object of plan.objects) {
          const owned = ownedBy(
            { apiVersion: cr.apiVersion, kind: cr.kind, metadata: { name: input.name, namespace: 'ns', uid: 'uid-1' } },
            object as never,
          ) as KubeObject & { metadata: { ownerReferences: Array<{ uid: string; controller: boolean }> } };
          expect(owned.metadata.ownerReferences).toEqual([expect.objectContaining({ uid: 'uid-1', controller: true })]);
          expect(owned.metadata.labels?.['app.kubernetes.io/created-by']).toBe('scribe');
        }
      }),
    );
  });

  it('fills generated key Secrets with one matching key set', async () => {
    const cr = toCr({
      kind: 'ReplicationDestination',
      name: 'rd',
      address: undefined,
      sshKeys: undefined,
      port: undefined,
      serviceType: undefined,
    });
    const plan = rsyncMover.build(cr, { cycleId: '1-x', attempt: 0, volume: 'v' }, {});
    const filled = (await rsyncMover.materialize?.(plan.objects)) ?? [];
    const secrets = filled.filter((o) => o.kind === 'Secret') as Array<
      KubeObject & { stringData: Record<string, string> }
    >;
    const own = secrets.find((s) => s.metadata.name === 'scribe-rsync-dest-dest-rd');
    const forSource = secrets.find((s) => s.metadata.name === 'scribe-rsync-dest-src-rd');
    expect(Object.keys(own?.stringData ?? {}).sort()).toEqual(['destination', 'destination.pub', 'source.pub']);
    expect(Object.keys(forSource?.stringData ?? {}).sort()).toEqual(['destination.pub', 'source', 'source.pub']);
    expect(own?.stringData['source.pub']).toBe(forSource?.stringData['source.pub']);
    expect(own?.stringData['destination.pub']).toBe(forSource?.stringData['destination.pub']);
  });
});

describe('the rsync reader', () => {
  const destination = toCr({
    kind: 'ReplicationDestination',
    name: 'rd',
    address: undefined,
    sshKeys: undefined,
    port: undefined,
    serviceType: undefined,
  });
  const secret = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name } });

  it('names the generated Secret in status only once it exists (its Job exists), so the seed walkthrough can copy it at once', () => {
    // Secrets are not watched (issue 21): the Job is made only after its key Secrets.
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'scribe-rsync-dest-rd' } };
    expect(rsyncMover.read(destination, []).published?.sshKeys).toBeUndefined();
    expect(rsyncMover.read(destination, [secret('scribe-rsync-dest-src-rd')]).published?.sshKeys).toBeUndefined();
    expect(rsyncMover.read(destination, [job]).published?.sshKeys).toBe('scribe-rsync-dest-src-rd');
  });

  it("names a user's Secret as given", () => {
    const own = toCr({
      ...{ kind: 'ReplicationDestination', name: 'rd' },
      address: undefined,
      sshKeys: 'mine',
      port: undefined,
      serviceType: undefined,
    });
    expect(rsyncMover.read(own, []).published?.sshKeys).toBe('mine');
  });
});

describe('decision 10: the rsync root user and key names', () => {
  const cycle = { cycleId: '1-20260101000000', attempt: 0, volume: 'vol' };
  const source = (rsync: Record<string, unknown> = {}) =>
    ({
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'rs', namespace: 'ns', uid: 'uid-rs' },
      spec: { sourcePVC: 'data', rsync: { copyMethod: 'Clone', address: 'dest.example.com', ...rsync } },
    }) as unknown as ScribeCr;
  type PodSpec = {
    securityContext?: Record<string, unknown>;
    containers: Array<{ securityContext: Record<string, unknown>; env: Array<{ name: string; value?: string }> }>;
  };
  const podOf = (cr: ScribeCr) => {
    const job = rsyncMover.build(cr, cycle, {}).objects.find((o) => o.kind === 'Job') as KubeObject & {
      spec: { template: { spec: PodSpec } };
    };
    return job.spec.template.spec;
  };

  it('decision 10: sshUser defaults to root, as the seed says; a given sshUser is used as is', () => {
    const user = (cr: ScribeCr) => podOf(cr).containers[0]?.env.find((e) => e.name === 'SCRIBE_SSH_USER')?.value;
    expect(user(source())).toBe('root');
    expect(user(source({ sshUser: 'backup' }))).toBe('backup');
  });

  it('decision 10: a source without sshKeys mounts scribe-rsync-dest-src-<name>; its absence says what to copy', () => {
    const cr = source();
    const job = rsyncMover.build(cr, cycle, {}).objects.find((o) => o.kind === 'Job') as KubeObject & {
      spec: { template: { spec: { volumes: Array<{ name: string; secret?: { secretName: string } }> } } };
    };
    expect(job.spec.template.spec.volumes.find((v) => v.name === 'keys')?.secret?.secretName).toBe(
      'scribe-rsync-dest-src-rs',
    );
    // The kubelet keeps the pod from starting while the Secret is missing (CreateContainerConfigError).
    const withUid = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, uid: 'job-uid' } }) as KubeObject;
    const missing = (secret: string): KubeObject[] => [
      withUid(job),
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${job.metadata.name}-x`, ownerReferences: [{ uid: 'job-uid' }] },
        status: {
          phase: 'Pending',
          containerStatuses: [
            { state: { waiting: { reason: 'CreateContainerConfigError', message: `secret "${secret}" not found` } } },
          ],
        },
      } as KubeObject,
    ];
    const observed = rsyncMover.read(cr, missing('scribe-rsync-dest-src-rs'));
    expect(observed.phase).toBe('pending');
    expect(observed.problems).toEqual([
      {
        field: 'spec.rsync.sshKeys',
        message:
          'Secret "scribe-rsync-dest-src-rs" is missing or incomplete (secret "scribe-rsync-dest-src-rs" not found): ' +
          "copy it from the destination's namespace (the ReplicationDestination's status.rsync.sshKeys names it)",
      },
    ]);
    // A destination given a Secret that does not exist is told which keys it must hold.
    const own = toCr({
      kind: 'ReplicationDestination',
      name: 'rd',
      address: undefined,
      sshKeys: 'mine',
      port: undefined,
      serviceType: undefined,
    });
    const ownJob = rsyncMover.build(own, cycle, {}).objects.find((o) => o.kind === 'Job') as KubeObject;
    const ownObjects = missing('mine').map((o) => (o.kind === 'Job' ? withUid(ownJob) : o));
    expect(rsyncMover.read(own, ownObjects).problems).toEqual([
      {
        field: 'spec.rsync.sshKeys',
        message:
          'Secret "mine" is missing or incomplete (secret "mine" not found): create it with the keys destination, ' +
          'destination.pub and source.pub, or omit sshKeys to have them generated',
      },
    ]);
    // Another Secret's absence is not blamed on sshKeys.
    expect(rsyncMover.read(cr, missing('unrelated')).problems).toBeUndefined();
  });
});

describe('the rsync failure explanation (issue 20)', () => {
  const source = {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationSource',
    metadata: { name: 'rs', namespace: 'ns', uid: 'uid-rs' },
    spec: { sourcePVC: 'data', rsync: { copyMethod: 'Clone', address: 'dest.example.com' } },
  } as unknown as ScribeCr;
  const logs = 'rsync: [sender] send_files failed to open "/data/db/table.ibd": Permission denied (13)';

  it('a source that could not read files names them under moverSecurityContext, with both ways out', () => {
    const explained = explainRsyncFailure(source, logs, 23);
    expect(explained?.field).toBe('spec.rsync.moverSecurityContext');
    expect(explained?.message).toContain('/data/db/table.ibd');
    expect(explained?.message).toMatch(/moverSecurityContext.*scribe\.backube\/privileged-movers/);
  });

  it('is not read as a refused key', () => {
    expect(explainRsyncFailure(source, logs, 23)?.field).not.toBe('spec.rsync.sshKeys');
  });
});
