/** The objects the seed's plugin commands create, built from a plan (pure: no cluster calls). */
import type { ReplicationDestination, ReplicationSource } from '../api/index.js';
import { quantityBytes } from '../../machines/validate.js';
import type { Plan } from './plan.js';
import { parseProviderParams } from './validate.js';

/** The label the plugin puts on what it creates, so remove-replication deletes only its own. */
export const CREATED_BY_LABEL = 'app.kubernetes.io/created-by';
export const CREATED_BY = 'kubectl-scribe';

/** A PVC as the plugin creates it. */
export interface PvcManifest {
  apiVersion: 'v1';
  kind: 'PersistentVolumeClaim';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    accessModes: string[];
    resources: { requests: { storage: string } };
    storageClassName?: string;
    dataSource?: { apiGroup: string; kind: string; name: string };
  };
}

/** Drops undefined fields, so specs carry only what was decided. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The larger of two quantities (the seed's 2Gi default must not shrink a larger source). */
export function largerQuantity(a: string, b: string | undefined): string {
  if (!b) return a;
  return (quantityBytes(b) ?? 0) > (quantityBytes(a) ?? 0) ? b : a;
}

/** The schedule of a side's trigger; undefined means continuous (trailing spaces trimmed). */
function trigger(schedule: string | undefined) {
  const trimmed = schedule?.trim();
  return trimmed ? { schedule: trimmed } : undefined;
}

/** The ReplicationDestination of start-replication. */
export function destinationManifest(plan: Plan, capacity: string | undefined, destPvc: string | undefined) {
  const g = plan.get;
  const provider = g('dest-provider');
  const spec: ReplicationDestination['spec'] = defined({ trigger: trigger(g('dest-cron-spec')) });
  if (provider) {
    spec.external = defined({ provider, parameters: parseProviderParams(g('dest-provider-params')) });
  } else {
    spec.rsync = defined({
      copyMethod: g('dest-copy-method') as 'None' | 'Snapshot',
      capacity: destPvc ? undefined : capacity,
      accessModes: [g('dest-access-mode') ?? 'ReadWriteOnce'] as ['ReadWriteOnce'],
      storageClassName: g('dest-storage-class-name'),
      volumeSnapshotClassName: g('dest-volume-snapshot-class-name'),
      destinationPVC: destPvc,
      serviceType: g('dest-service-type') as 'ClusterIP' | 'LoadBalancer',
      port: Number(g('dest-port')),
      sshUser: g('dest-ssh-user'),
      path: g('dest-path'),
    });
  }
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationDestination',
    metadata: { name: plan.dest.name, namespace: plan.dest.namespace, labels: { [CREATED_BY_LABEL]: CREATED_BY } },
    spec,
  } satisfies ReplicationDestination;
}

/** Where the source connects: the destination's published address and port, and the key Secret. */
export interface Connection {
  address?: string | undefined;
  port?: number | undefined;
  sshKeys?: string | undefined;
}

/** The ReplicationSource of start-replication. */
export function sourceManifest(plan: Plan, sourcePvc: string, sourcePvcCapacity: string | undefined, to: Connection) {
  const g = plan.get;
  const provider = g('source-provider');
  const spec: ReplicationSource['spec'] = defined({ sourcePVC: sourcePvc, trigger: trigger(g('source-cron-spec')) });
  if (provider) {
    spec.external = defined({ provider, parameters: parseProviderParams(g('source-provider-params')) });
  } else {
    const accessMode = g('source-access-mode');
    const address = g('dest-address') ?? to.address;
    spec.rsync = defined({
      copyMethod: g('source-copy-method') as 'None' | 'Clone' | 'Snapshot',
      capacity: largerQuantity(g('source-capacity') ?? '2Gi', sourcePvcCapacity),
      accessModes: accessMode ? ([accessMode] as ['ReadWriteOnce']) : undefined,
      storageClassName: g('source-storage-class-name'),
      volumeSnapshotClassName: g('source-volume-snapshot-class-name'),
      // A source that connects out exposes no Service; the operator refuses serviceType with an address.
      serviceType: address ? undefined : (g('source-service-type') as 'ClusterIP' | 'LoadBalancer'),
      sshUser: g('source-ssh-user'),
      path: g('dest-path'),
      address,
      port: plan.values['source-port'] ? Number(plan.values['source-port']) : (to.port ?? Number(g('dest-port'))),
      sshKeys: to.sshKeys,
    });
  }
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationSource',
    metadata: { name: plan.source.name, namespace: plan.source.namespace, labels: { [CREATED_BY_LABEL]: CREATED_BY } },
    spec,
  } satisfies ReplicationSource;
}

/** A PVC in the destination namespace, empty or restored from a snapshot. */
export function pvcManifest(plan: Plan, name: string, capacity: string, snapshot?: string): PvcManifest {
  const storageClassName = plan.get('dest-storage-class-name');
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, labels: { [CREATED_BY_LABEL]: CREATED_BY } },
    spec: defined({
      accessModes: [plan.get('dest-access-mode') ?? 'ReadWriteOnce'],
      resources: { requests: { storage: capacity } },
      storageClassName,
      dataSource: snapshot
        ? { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: snapshot }
        : undefined,
    }),
  };
}
