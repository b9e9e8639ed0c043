/**
 * REST descriptors the node agent needs beyond src/kube/resources.ts (Node, ServiceAccount),
 * and the names it plays under: one place for the driver, provisioner and class names.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { RESOURCES, type ResourceKind } from '../../kube/resources.js';

/** Nodes are cluster-scoped; only the agent reads and writes them. */
export const NODE_KIND: ResourceKind = RESOURCES.Node;

/** EndpointSlices (discovery.k8s.io/v1): where a Service without a selector has its endpoints. */
export const ENDPOINT_SLICE_KIND: ResourceKind = {
  group: 'discovery.k8s.io',
  version: 'v1',
  kind: 'EndpointSlice',
  plural: 'endpointslices',
  namespaced: true,
};

/** The fields of an EndpointSlice the service proxy reads. */
export interface EndpointSlice extends KubernetesObject {
  addressType?: string;
  endpoints?: Array<{ addresses?: string[]; conditions?: { ready?: boolean } }>;
  ports?: Array<{ name?: string; port?: number; protocol?: string }>;
}

/** The provisioner name of the local StorageClass and the CSI driver name of the snapshot class. */
export const LOCAL_DRIVER = 'scribe.backube/local';

/** Name of the default StorageClass and VolumeSnapshotClass the agent creates. */
export const LOCAL_CLASS = 'scribe-local';

/** Default node name. */
export const DEFAULT_NODE_NAME = 'scribe-local';

/** Annotation the external provisioner convention puts on the PVs it creates. */
export const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';

/**
 * A second StorageClass whose volumes hold no more than their requested capacity (tmpfs
 * mounts, so it needs root): for tests of a volume that fills up.
 */
export const SIZED_CLASS = 'scribe-local-sized';

/** The StorageClass parameter that makes the provisioner enforce capacity. */
export const ENFORCE_CAPACITY_PARAMETER = 'scribe.backube/enforce-capacity';
