/**
 * The controller benchmark's workload: N/2 ReplicationSources (rsync, copyMethod None, each with
 * its own PVC) and N/2 ReplicationDestinations (rsync, copyMethod None, capacity 1Gi), all with
 * manual triggers, in up to 100 namespaces (one per 100 CRs: 10 for 1,000, 100 for 10,000), with a key Secret per namespace;
 * created, and triggered, with 32 requests in flight.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../src/kube/resources.js';
import { generateSshKeyPair, rsyncSecretContents } from '../../src/movers/rsync/keys.js';
import { mapLimit } from '../scaffold/common.js';

const API = 'scribe.backube/v1alpha1';
/** Requests in flight when creating or triggering every CR. */
const IN_FLIGHT = 32;
/** One namespace per 100 CRs, up to 100 (10,000 CRs, issue 24's scale). */
const MAX_NAMESPACES = 100;

/** One CR of the workload. */
export interface WorkloadCr {
  kind: 'ReplicationSource' | 'ReplicationDestination';
  namespace: string;
  name: string;
  body: object;
}

/** The CRs and where they live. */
export interface Workload {
  crs: WorkloadCr[];
  sources: number;
  destinations: number;
  namespaces: number;
}

/** The key the benchmark's watches file a CR under (its Jobs' owner reference gives the same). */
export const crKey = (cr: Pick<WorkloadCr, 'kind' | 'namespace' | 'name'>) => `${cr.kind}/${cr.namespace}/${cr.name}`;

/** The workload of `count` CRs (not created yet). */
export function planWorkload(count: number): Workload {
  const sources = Math.ceil(count / 2);
  const destinations = Math.floor(count / 2);
  const namespaces = Math.max(1, Math.min(MAX_NAMESPACES, Math.ceil(count / 100)));
  const nsOf = (i: number) => `bench-${i % namespaces}`;
  const crs: WorkloadCr[] = [];
  for (let i = 0; i < Math.max(sources, destinations); i++) {
    if (i < destinations)
      crs.push({
        kind: 'ReplicationDestination',
        namespace: nsOf(i),
        name: `dest-${i}`,
        body: {
          apiVersion: API,
          kind: 'ReplicationDestination',
          metadata: { name: `dest-${i}` },
          spec: {
            trigger: { manual: 'first' },
            rsync: { copyMethod: 'None', capacity: '1Gi', accessModes: ['ReadWriteOnce'] },
          },
        },
      });
    if (i < sources)
      crs.push({
        kind: 'ReplicationSource',
        namespace: nsOf(i),
        name: `src-${i}`,
        body: {
          apiVersion: API,
          kind: 'ReplicationSource',
          metadata: { name: `src-${i}` },
          spec: {
            sourcePVC: `data-${i}`,
            trigger: { manual: 'first' },
            rsync: {
              copyMethod: 'None',
              address: `scribe-rsync-dest-dest-${i}.${nsOf(i)}.svc.cluster.local`,
              sshKeys: 'bench-keys',
            },
          },
        },
      });
  }
  return { crs, sources, destinations, namespaces };
}

/** What the CRs need first: the namespaces, a key Secret in each, a PVC per source. */
export async function createPrerequisites(kc: KubeConfig, workload: Workload): Promise<void> {
  for (let n = 0; n < workload.namespaces; n++) {
    await kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.Namespace),
      body: { metadata: { name: `bench-${n}` } },
    });
    const keys = rsyncSecretContents(generateSshKeyPair('bench-source'), generateSshKeyPair('bench-destination'));
    await kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.Secret, `bench-${n}`),
      body: { metadata: { name: 'bench-keys' }, stringData: keys.source },
    });
  }
  const sources = workload.crs.filter((cr) => cr.kind === 'ReplicationSource');
  await mapLimit(sources, IN_FLIGHT, (cr) =>
    kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.PersistentVolumeClaim, cr.namespace),
      body: {
        metadata: { name: cr.name.replace(/^src-/, 'data-') },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    }),
  );
}

/** Creates every CR, calling `created` after each. */
export async function createAll(
  kc: KubeConfig,
  crs: readonly WorkloadCr[],
  created: () => void = () => {},
): Promise<void> {
  await mapLimit(crs, IN_FLIGHT, async (cr) => {
    await kubeRequest(kc, { method: 'POST', path: collectionPath(RESOURCES[cr.kind], cr.namespace), body: cr.body });
    created();
  });
}

/** Sets `spec.trigger.manual` to `token` on one CR. */
export function trigger(kc: KubeConfig, cr: WorkloadCr, token: string): Promise<unknown> {
  return kubeRequest(kc, {
    method: 'PATCH',
    path: objectPath(RESOURCES[cr.kind], cr.namespace, cr.name),
    patchType: 'merge',
    body: { spec: { trigger: { manual: token } } },
  });
}

/** Triggers every CR with `token`, calling `sending` just before each patch goes out. */
export async function triggerAll(
  kc: KubeConfig,
  crs: readonly WorkloadCr[],
  token: string,
  sending: (cr: WorkloadCr) => void = () => {},
): Promise<void> {
  await mapLimit(crs, IN_FLIGHT, (cr) => {
    sending(cr);
    return trigger(kc, cr, token);
  });
}
