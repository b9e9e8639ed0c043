/** Reading Scribe CRs for sync, status and inspect. */
import type { ScribeCr } from '../../machines/api.js';
import type { ScribeKind } from '../inspect/kinds.js';
import { PluginError } from './errors.js';
import { list, read, type Cluster } from './kube.js';

/** Reads one CR or fails with a message saying where it looked. */
export async function readCr(c: Cluster, kind: ScribeKind, namespace: string, name: string): Promise<ScribeCr> {
  const cr = await read<ScribeCr>(c, kind, namespace, name);
  if (!cr) throw new PluginError(`${kind} ${namespace}/${name} not found (context ${c.context})`);
  return cr;
}

/** Both kinds in a namespace, or in every namespace when `namespace` is undefined. */
export async function listCrs(c: Cluster, namespace: string | undefined): Promise<ScribeCr[]> {
  const [sources, destinations] = await Promise.all([
    list<ScribeCr>(c, 'ReplicationSource', namespace),
    list<ScribeCr>(c, 'ReplicationDestination', namespace),
  ]);
  return [...sources, ...destinations];
}
