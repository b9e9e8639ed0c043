/** Creating arbitrary YAML documents in a test namespace, as `kubectl create -n NS -f` would. */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { kubeRequest } from '../../src/kube/rest.js';

/** The plural REST name of a kind (enough for the kinds examples and docs use). */
const PLURALS: Record<string, string> = {
  Deployment: 'deployments',
  Service: 'services',
  Secret: 'secrets',
  PersistentVolumeClaim: 'persistentvolumeclaims',
  ReplicationSource: 'replicationsources',
  ReplicationDestination: 'replicationdestinations',
  VolumeSnapshotClass: 'volumesnapshotclasses',
  ConfigMap: 'configmaps',
};

/** Every document of a YAML file, as objects. */
export async function readDocuments(file: string): Promise<KubernetesObject[]> {
  return parseAllDocuments(await readFile(file, 'utf8'))
    .map((document) => document.toJS() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => Boolean(object?.kind));
}

/** Creates `object` in `namespace` (its own namespace is replaced), returning the API's answer. */
export async function createIn(kc: KubeConfig, namespace: string, object: KubernetesObject): Promise<KubernetesObject> {
  const plural = PLURALS[object.kind ?? ''];
  if (!plural) throw new Error(`test helper knows no plural for kind ${object.kind}`);
  const [group, version] = object.apiVersion?.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const body = { ...object, metadata: { ...object.metadata, namespace } };
  return kubeRequest<KubernetesObject>(kc, {
    method: 'POST',
    path: `${prefix}/namespaces/${namespace}/${plural}`,
    body,
  });
}
