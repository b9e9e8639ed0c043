/**
 * Several local clusters side by side on one machine, for replicating between clusters: each is
 * a whole local system (runtime.ts: its own etcd, kube-apiserver, controller-manager, scheduler,
 * node agent and Scribe installed by its Helm chart) with address ranges of its own, and one
 * kubeconfig holds a context per cluster (`scribe-a`, `scribe-b`, ...), as a user's kubeconfig
 * with two real clusters would.
 *
 * What separates them: each control plane hands out ClusterIPs from a loopback /16 of its own
 * (control-plane.ts), and each node gives its pods and its LoadBalancer Services addresses from
 * /16s of their own (addresses.ts, sideBySideRanges). A LoadBalancer address is how another
 * cluster's pods reach a Service, as through a cloud's load balancer; a ClusterIP refuses them
 * (services.ts, isolateClusterIPs), as a real cluster's is out of their reach. Used by
 * `npm run demo -- --clusters 2` and the two-cluster e2e tests.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { sideBySideRanges, type NodeAddressRanges } from './agent/addresses.js';
import { startLocalRuntime, type LocalRuntime, type OperatorMode } from './runtime.js';

/** One cluster of a set side by side. */
export interface LocalCluster {
  /** Its name, which is also its kubeconfig context and cluster: scribe-a, scribe-b, ... */
  name: string;
  runtime: LocalRuntime;
  /** The admin's KubeConfig of this cluster alone. */
  kc: KubeConfig;
  /** Its node's pod and LoadBalancer ranges (first two octets each). */
  addressRanges: NodeAddressRanges;
}

/** Clusters running side by side. */
export interface LocalClusters {
  dir: string;
  /** One kubeconfig with a context per cluster (named as the cluster); the first is current. */
  kubeconfigPath: string;
  clusters: LocalCluster[];
  /** The cluster of that name (a context of kubeconfigPath). */
  cluster(name: string): LocalCluster;
  stop(): Promise<void>;
}

/** Options of startLocalClusters. */
export interface LocalClustersOptions {
  /** Keep everything here (a directory per cluster); a temp dir, removed at stop, otherwise. */
  dir?: string;
  /** How each cluster runs its operator (default: SCRIBE_OPERATOR, else the chart). */
  operatorMode?: OperatorMode;
  /** Progress lines of every cluster, each with its cluster's name. */
  log?: (cluster: string, line: string) => void;
}

/** The name of the cluster at `index`: scribe-a, scribe-b, ... */
export function localClusterName(index: number): string {
  return `scribe-${String.fromCharCode('a'.charCodeAt(0) + index)}`;
}

/** The most clusters side by side (one letter each). */
export const MAX_LOCAL_CLUSTERS = 26;

type KubeconfigFile = {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
};

/**
 * Starts `count` clusters at once and writes their kubeconfig. Every cluster is up (its
 * operator Ready) when it resolves; if one cannot start, the others are stopped.
 */
export async function startLocalClusters(count: number, options: LocalClustersOptions = {}): Promise<LocalClusters> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_LOCAL_CLUSTERS) {
    throw new Error(`clusters: ${count} is not a number of clusters from 1 to ${MAX_LOCAL_CLUSTERS}`);
  }
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'scribe-clusters-')));
  const ranges = sideBySideRanges(count);
  const names = Array.from({ length: count }, (_, i) => localClusterName(i));
  const startOne = async (index: number): Promise<LocalCluster> => {
    const name = names[index] as string;
    const addressRanges = ranges[index] as NodeAddressRanges;
    const runtime = await startLocalRuntime({
      dir: join(dir, name),
      addressRanges,
      isolateClusterIPs: true,
      ...(options.operatorMode ? { operatorMode: options.operatorMode } : {}),
      log: (line) => options.log?.(name, line),
    });
    return { name, runtime, kc: runtime.kc, addressRanges };
  };

  const results = await Promise.allSettled(names.map((_, i) => startOne(i)));
  const clusters = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = () => Promise.all(clusters.map((c) => c.runtime.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  try {
    // Control planes started at once may pick the same ClusterIP range (each picks one nothing
    // listens on yet): start a later one again, now that the earlier one's range is in use.
    for (let i = 1; i < clusters.length; i++) {
      const range = () => clusters[i]?.runtime.controlPlane.serviceRange;
      while (clusters.slice(0, i).some((c) => c.runtime.controlPlane.serviceRange === range())) {
        options.log?.(names[i] as string, `service range ${range()} is another cluster's too: starting again`);
        await clusters[i]?.runtime.stop();
        await rm(join(dir, names[i] as string), { recursive: true, force: true });
        clusters[i] = await startOne(i);
      }
    }
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, await mergedKubeconfig(clusters), { mode: 0o600 });
    return {
      dir,
      kubeconfigPath,
      clusters,
      cluster(name) {
        const found = clusters.find((c) => c.name === name);
        if (!found) throw new Error(`no local cluster ${name} (there are ${names.join(', ')})`);
        return found;
      },
      async stop() {
        await stopAll();
        if (!options.dir && !process.env.SCRIBE_KEEP_CLUSTER_DIR) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** One kubeconfig with each cluster's API server and admin token under the cluster's name. */
async function mergedKubeconfig(clusters: LocalCluster[]): Promise<string> {
  const merged = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [] as object[],
    users: [] as object[],
    contexts: [] as object[],
    'current-context': clusters[0]?.name,
  };
  for (const { name, runtime } of clusters) {
    const own = parse(await readFile(runtime.kubeconfigPath, 'utf8')) as KubeconfigFile;
    const cluster = own.clusters[0]?.cluster;
    const user = own.users[0]?.user;
    if (!cluster || !user) throw new Error(`${runtime.kubeconfigPath} has no cluster or user`);
    merged.clusters.push({ name, cluster });
    merged.users.push({ name: `${name}-admin`, user });
    merged.contexts.push({ name, context: { cluster: name, user: `${name}-admin` } });
  }
  return stringify(merged);
}
