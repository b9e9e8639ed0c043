/**
 * The kinds Scribe reads and writes, as REST descriptors. One table, so paths are built
 * in one place for informers, the effects adapter and the tools.
 */

/** How to address one kind through the REST API. */
export interface ResourceKind {
  group: string; // '' for the core group
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const kind = (group: string, version: string, kindName: string, plural: string, namespaced = true): ResourceKind => ({
  group,
  version,
  kind: kindName,
  plural,
  namespaced,
});

export const RESOURCES = {
  ReplicationSource: kind('scribe.backube', 'v1alpha1', 'ReplicationSource', 'replicationsources'),
  ReplicationDestination: kind('scribe.backube', 'v1alpha1', 'ReplicationDestination', 'replicationdestinations'),
  Job: kind('batch', 'v1', 'Job', 'jobs'),
  Pod: kind('', 'v1', 'Pod', 'pods'),
  PersistentVolumeClaim: kind('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims'),
  PersistentVolume: kind('', 'v1', 'PersistentVolume', 'persistentvolumes', false),
  Service: kind('', 'v1', 'Service', 'services'),
  Secret: kind('', 'v1', 'Secret', 'secrets'),
  ConfigMap: kind('', 'v1', 'ConfigMap', 'configmaps'),
  Event: kind('events.k8s.io', 'v1', 'Event', 'events'),
  /** core/v1 Events, as controllers' event recorders write them (the Job controller's FailedCreate). */
  CoreEvent: kind('', 'v1', 'Event', 'events'),
  Lease: kind('coordination.k8s.io', 'v1', 'Lease', 'leases'),
  Namespace: kind('', 'v1', 'Namespace', 'namespaces', false),
  Node: kind('', 'v1', 'Node', 'nodes', false),
  VolumeSnapshot: kind('snapshot.storage.k8s.io', 'v1', 'VolumeSnapshot', 'volumesnapshots'),
  VolumeSnapshotContent: kind(
    'snapshot.storage.k8s.io',
    'v1',
    'VolumeSnapshotContent',
    'volumesnapshotcontents',
    false,
  ),
  VolumeSnapshotClass: kind('snapshot.storage.k8s.io', 'v1', 'VolumeSnapshotClass', 'volumesnapshotclasses', false),
  StorageClass: kind('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false),
  CustomResourceDefinition: kind(
    'apiextensions.k8s.io',
    'v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
  ),
} as const satisfies Record<string, ResourceKind>;

export type KindName = keyof typeof RESOURCES;

/** apiVersion as objects carry it: "v1" or "group/version". */
export function apiVersionOf(resource: ResourceKind): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

/** The collection path; across all namespaces when `namespace` is absent. */
export function collectionPath(resource: ResourceKind, namespace?: string): string {
  const prefix = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
  const scope = resource.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${prefix}${scope}/${resource.plural}`;
}

/** The path of one object, optionally of one of its subresources ("status"). */
export function objectPath(resource: ResourceKind, namespace: string | undefined, name: string, subresource?: string) {
  const base = `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${base}/${subresource}` : base;
}
