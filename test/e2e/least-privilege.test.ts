/**
 * Least privilege, proven (issue 21): the chart's RBAC grants exactly what the operator calls.
 * A local system of its own runs the API server with an audit log of the operator's
 * ServiceAccount only (Metadata level), the operator installed with the chart; every mover
 * (rsync, restic, rclone) runs a source and a destination through two syncs, then both are
 * deleted; /metrics is scraped once (TokenReview, SubjectAccessReview). Every request of the
 * operator's user in the log is then compared with the rendered chart's rules: a granted
 * (verb, group, resource) never used fails, a used one not granted fails, and so does any 403.
 *
 * Its own system, not the shared e2e one: the proof must see a whole, known workload from the
 * operator's first request, and fail as a test (a global teardown's failure is not one), whatever
 * other files ran or were filtered out. It shares nothing with the shared runtime: its own
 * directory, ports, service range (chosen free) and S3 server.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationSource } from '../../src/api/index.js';
import { kubeRequest } from '../../src/kube/rest.js';
import { objectPath, RESOURCES, type KindName } from '../../src/kube/resources.js';
import {
  create,
  createPvc,
  get,
  listeningAddress,
  patch,
  pvcDirectory,
  waitForObject,
} from '../../src/local/objects.js';
import { CHART_RELEASE, serviceAccountUser } from '../../src/local/operator-identity.js';
import { waitFor } from '../../src/local/processes.js';
import { operatorPorts } from '../../src/local/runtime.js';
import { startS3Server, type S3Server } from '../../src/local/s3.js';
import { renderChart, scrape } from '../integration/metrics/support.js';
import { createRcloneSecret, createResticSecret, newBucket } from '../support/object-store.js';
import { createNamespaces, localSystemOfThisFile } from '../support/local-system.js';

const API = 'scribe.backube/v1alpha1';
const OPERATOR = serviceAccountUser(CHART_RELEASE.namespace, CHART_RELEASE.name);

/**
 * Grants no request of the operator's exercises, each with its reason. Anything else granted
 * and unused fails the test.
 */
const ACCOUNTED: Record<string, string> = {
  // OwnerReferencesPermissionEnforcement (not enabled on this API server) checks it when an
  // object with blockOwnerDeletion is created; it is an authorization check, not a request.
  'update scribe.backube/replicationsources/finalizers': 'blockOwnerDeletion (admission)',
  'update scribe.backube/replicationdestinations/finalizers': 'blockOwnerDeletion (admission)',
  // A create answered 409 reads that one object: only when the name is held (a restart in the
  // middle of a cycle, or a foreign object: test/integration/operator/foreign-objects.test.ts).
  'get batch/jobs': 'after a 409 only',
  'get /persistentvolumeclaims': 'after a 409 only',
  'get /services': 'after a 409 only',
  'get /secrets': 'after a 409 only',
  // The /debug pages read one CR; they are off by default.
  'get scribe.backube/replicationsources': '/debug pages',
  'get scribe.backube/replicationdestinations': '/debug pages',
  // A repeated Event (same reason and message) raises the series count of the first.
  'patch events.k8s.io/events': 'a repeated Event',
  // A VolumeSnapshot labelled scribe.backube/do-not-delete is released (decision 20), and the
  // label is checked on the object before a delete.
  'patch snapshot.storage.k8s.io/volumesnapshots': 'do-not-delete release',
  'get snapshot.storage.k8s.io/volumesnapshots': 'do-not-delete check before a delete',
  // The stall rule's tail of a running mover's log, polled once a minute (MOVER_OUTPUT_POLL_MS):
  // the movers here finish sooner (test/faults/faults.test.ts stalls one under the chart's RBAC).
  'get /pods/log': 'a mover running longer than a minute',
  // The volume populator reads and re-points a prime PVC's PV only when a PVC names a
  // ReplicationDestination in its dataSourceRef (test/e2e/volume-populator.test.ts).
  'get /persistentvolumes': 'volume populator',
  'patch /persistentvolumes': 'volume populator',
};

/**
 * Requests made with the operator's token that are not the operator's: the local runtime asks
 * the API server (SelfSubjectAccessReview, src/local/operator-identity.ts) whether the chart's
 * RBAC is in effect yet; every authenticated user may (system:basic-user), the chart grants none.
 */
const NOT_THE_OPERATOR = new Set(['create authorization.k8s.io/selfsubjectaccessreviews']);

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { apiGroup?: string; resource?: string; subresource?: string; namespace?: string; name?: string };
  requestURI: string;
  responseStatus?: { code?: number };
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

const system = localSystemOfThisFile({ operatorMode: 'chart', audit: { users: [OPERATOR] } });
let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.stop();
});

/** A namespace of its own for one mover's workload, where movers may be privileged. */
async function namespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await createNamespaces(system.runtime.kc, [name], { privileged: true });
  return name;
}

async function volume(ns: string): Promise<void> {
  await createPvc(system.runtime.kc, ns, 'data');
  await writeFile(join(await pvcDirectory(system.runtime.kc, ns, 'data'), 'file'), 'payload\n');
}

const read =
  <T>(kind: 'ReplicationSource' | 'ReplicationDestination', ns: string, name: string) =>
  () =>
    get<T & KubernetesObject>(system.runtime.kc, kind, ns, name);

/** Syncs `manual` on a CR and waits until it completed. */
async function synced(kind: 'ReplicationSource' | 'ReplicationDestination', ns: string, name: string, manual: string) {
  await waitForObject(
    `${kind} ${ns}/${name} synced ${manual}`,
    read<ReplicationSource>(kind, ns, name),
    (cr) => cr.status?.lastManualSync === manual,
    240_000,
  );
}

async function remove(kind: KindName, ns: string, name: string) {
  await kubeRequest(system.runtime.kc, { method: 'DELETE', path: objectPath(RESOURCES[kind], ns, name) });
  await waitFor(
    `${kind} ${ns}/${name} gone`,
    async () => (await get(system.runtime.kc, kind, ns, name)) === undefined,
    {
      timeoutMs: 60_000,
    },
  );
}

async function rsyncLifecycle() {
  const ns = await namespace('lp-rsync');
  await volume(ns);
  await create(system.runtime.kc, 'ReplicationDestination', ns, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: 'dest' },
    spec: { trigger: { manual: 'one' }, rsync: { copyMethod: 'Snapshot', capacity: '1Gi' } },
  });
  const { address, keys } = await listeningAddress(system.runtime.kc, ns, 'dest');
  await create(system.runtime.kc, 'ReplicationSource', ns, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: 'src' },
    spec: { sourcePVC: 'data', trigger: { manual: 'one' }, rsync: { copyMethod: 'Snapshot', address, sshKeys: keys } },
  });
  await synced('ReplicationSource', ns, 'src', 'one');
  await synced('ReplicationDestination', ns, 'dest', 'one');
  await patch(system.runtime.kc, 'ReplicationDestination', ns, 'dest', { spec: { trigger: { manual: 'two' } } });
  await patch(system.runtime.kc, 'ReplicationSource', ns, 'src', { spec: { trigger: { manual: 'two' } } });
  await synced('ReplicationSource', ns, 'src', 'two');
  await synced('ReplicationDestination', ns, 'dest', 'two');
  await remove('ReplicationSource', ns, 'src');
  await remove('ReplicationDestination', ns, 'dest');
}

async function resticLifecycle() {
  const ns = await namespace('lp-restic');
  await volume(ns);
  await createResticSecret(system.runtime.kc, ns, s3, await newBucket(s3, 'lp-restic'), 'least-privilege');
  await create(system.runtime.kc, 'ReplicationSource', ns, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: 'backup' },
    spec: {
      sourcePVC: 'data',
      trigger: { manual: 'one' },
      restic: { repository: 'restic-config', copyMethod: 'Clone', retain: { last: 2 } },
    },
  });
  await synced('ReplicationSource', ns, 'backup', 'one');
  await patch(system.runtime.kc, 'ReplicationSource', ns, 'backup', { spec: { trigger: { manual: 'two' } } });
  await synced('ReplicationSource', ns, 'backup', 'two');
  await create(system.runtime.kc, 'ReplicationDestination', ns, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: 'backup' },
    spec: {
      trigger: { manual: 'one' },
      restic: { repository: 'restic-config', copyMethod: 'Snapshot', capacity: '1Gi', accessModes: ['ReadWriteOnce'] },
    },
  });
  await synced('ReplicationDestination', ns, 'backup', 'one');
  await remove('ReplicationSource', ns, 'backup');
  await remove('ReplicationDestination', ns, 'backup');
}

async function rcloneLifecycle() {
  const ns = await namespace('lp-rclone');
  await volume(ns);
  const bucket = await newBucket(s3, 'lp-rclone');
  await createRcloneSecret(system.runtime.kc, ns, s3, 's3');
  const rclone = { rcloneConfigSection: 's3', rcloneDestPath: `${bucket}/data`, rcloneConfig: 'rclone-secret' };
  await create(system.runtime.kc, 'ReplicationSource', ns, {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: 'src' },
    spec: { sourcePVC: 'data', trigger: { manual: 'one' }, rclone: { ...rclone, copyMethod: 'Snapshot' } },
  });
  await synced('ReplicationSource', ns, 'src', 'one');
  await create(system.runtime.kc, 'ReplicationDestination', ns, {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: 'dest' },
    spec: {
      trigger: { manual: 'one' },
      rclone: { ...rclone, copyMethod: 'Snapshot', capacity: '1Gi', accessModes: ['ReadWriteOnce'] },
    },
  });
  await synced('ReplicationDestination', ns, 'dest', 'one');
  await patch(system.runtime.kc, 'ReplicationDestination', ns, 'dest', { spec: { trigger: { manual: 'two' } } });
  await synced('ReplicationDestination', ns, 'dest', 'two');
  await remove('ReplicationSource', ns, 'src');
  await remove('ReplicationDestination', ns, 'dest');
}

/** "verb group/resource[/subresource]" of every (verb, resource) the chart grants the operator. */
async function granted(): Promise<Set<string>> {
  const rbac = ['templates/rbac.yaml', 'templates/populator-rbac.yaml'];
  const objects = (await renderChart(rbac.flatMap((template) => ['--show-only', template]))) as Array<
    KubernetesObject & { rules?: Rule[] }
  >;
  const grants = new Set<string>();
  for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
    if (role.metadata?.name === 'scribe-metrics-reader') continue; // Prometheus', not the operator's
    for (const rule of role.rules ?? []) {
      for (const group of rule.apiGroups ?? [])
        for (const resource of rule.resources ?? [])
          for (const verb of rule.verbs) grants.add(`${verb} ${group}/${resource}`);
    }
  }
  return grants;
}

describe('the chart grants the operator exactly what it calls (issue 21)', () => {
  it('every mover’s lifecycle, leader election and a metrics scrape, read from the audit log', async () => {
    await rsyncLifecycle();
    await resticLifecycle();
    await rcloneLifecycle();

    // Metrics authentication: a scrape with the admin's token makes the operator review it.
    let ports: Awaited<ReturnType<typeof operatorPorts>> = {};
    await waitFor('the operator serving metrics', async () => {
      ports = await operatorPorts(system.runtime.operatorLog);
      return ports.metrics !== undefined;
    });
    const url = `https://${await system.runtime.operatorHost()}:${ports.metrics}/metrics`;
    expect((await scrape(url, system.runtime.controlPlane.adminToken)).status).toBe(200);

    const log = system.runtime.controlPlane.auditLog ?? '';
    const events = (await readFile(log, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditEvent)
      // A watch is logged when its response starts (ResponseStarted) and again when it ends.
      .filter((event) => event.user.username === OPERATOR && event.stage !== 'RequestReceived');
    expect(events.length).toBeGreaterThan(0);
    const forbidden = events.filter((event) => event.responseStatus?.code === 403);
    expect(forbidden.map((event) => `${event.verb} ${event.requestURI}`)).toEqual([]);

    const used = new Set<string>();
    for (const event of events) {
      const ref = event.objectRef;
      if (!ref?.resource) continue; // non-resource URLs (discovery): none expected, none granted
      const resource = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource;
      const call = `${event.verb} ${ref.apiGroup ?? ''}/${resource}`;
      if (!NOT_THE_OPERATOR.has(call)) used.add(call);
    }
    const grants = await granted();
    const notGranted = [...used].filter((call) => !grants.has(call)).sort();
    const unused = [...grants].filter((grant) => !used.has(grant) && !(grant in ACCOUNTED)).sort();
    expect({ notGranted, unused }).toEqual({ notGranted: [], unused: [] });
    // Leader election, watches and metrics authentication were exercised, not just granted.
    for (const call of [
      'create coordination.k8s.io/leases',
      'update coordination.k8s.io/leases',
      'list /pods',
      'watch /pods',
      'watch /namespaces',
      'create authentication.k8s.io/tokenreviews',
      'create authorization.k8s.io/subjectaccessreviews',
    ]) {
      expect(used, call).toContain(call);
    }
    expect(used).not.toContain('watch /secrets');
    expect(used).not.toContain('list /secrets');
  });
});
