/**
 * `npm run demo -- --clusters 2`: the seed's cross-cluster plugin walkthrough between two local
 * clusters side by side (src/local/clusters.ts), scribe-a holding the source and scribe-b the
 * destination, each with its own control plane, node agent and Scribe from the Helm chart. It
 * writes the walkthrough's config.yaml (source and destination contexts, the destination behind
 * a LoadBalancer), runs `kubectl scribe start-replication`, waits for the first sync, runs
 * `set-replication` and `continue-replication`, and prints how to look at each side. Without
 * --keep it ends with `remove-replication`.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { ReplicationDestination, ReplicationSource } from '../src/api/index.js';
import { PRIVILEGED_MOVERS_ANNOTATION } from '../machines/privilege.js';
import { startLocalClusters, type LocalClusters } from '../src/local/clusters.js';
import { create, createPvc, get, pvcDirectory, waitForObject } from '../src/local/objects.js';
import { toolDir } from '../src/local/tools.js';
import { bundlePlugin } from '../src/plugin/bundle.js';

/** Options of the two-cluster demo. */
export interface ClustersDemoOptions {
  keep: boolean;
  dir?: string;
  /** When the demo started (for the time to the first completed sync). */
  started: number;
}

/** One side of the seed's cross-cluster walkthrough: its kubeconfig context, cluster name and namespace. */
export interface CrossClusterSide {
  context: string;
  clusterName: string;
  namespace: string;
}

/**
 * The seed's cross-cluster config.yaml for `kubectl scribe`: both sides behind a LoadBalancer,
 * Snapshot copies, the source PVC mysql-pv-claim (also the e2e tests' walkthroughs).
 */
export function crossClusterConfig(source: CrossClusterSide, dest: CrossClusterSide): string {
  const lines = [
    `dest-kube-context: ${dest.context}`,
    `dest-kube-clustername: ${dest.clusterName}`,
    'dest-service-type: LoadBalancer',
    'dest-access-mode: ReadWriteOnce',
    'dest-copy-method: Snapshot',
    `dest-namespace: ${dest.namespace}`,
    `source-kube-context: ${source.context}`,
    `source-kube-clustername: ${source.clusterName}`,
    `source-namespace: ${source.namespace}`,
    'source-service-type: LoadBalancer',
    'source-copy-method: Snapshot',
    'source-pvc: mysql-pv-claim',
  ];
  return `${lines.join('\n')}\n`;
}

const say = (line: string) => console.log(`\x1b[1m==>\x1b[0m ${line}`);

/** Runs the walkthrough; resolves with the exit code once everything is stopped. */
export async function clustersDemo(options: ClustersDemoOptions): Promise<number> {
  say('starting two local clusters side by side, scribe-a (source) and scribe-b (destination),');
  say('  each with its own etcd, kube-apiserver, controller-manager, scheduler, node agent and');
  say('  Scribe installed by its Helm chart (helm install scribe helm/scribe -n scribe-system)');
  const set = await startLocalClusters(2, {
    ...(options.dir ? { dir: options.dir } : {}),
    log: (cluster, line) => console.log(`    [${cluster}] ${line}`),
  });
  let stopped: Promise<number> | undefined;
  const stop = (code: number) =>
    (stopped ??= (async () => {
      say('stopping both clusters');
      await set.stop();
      return code;
    })());
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    await walkthrough(set, options);
    if (!options.keep) return await stop(0);
    say('running; press Ctrl-C to stop both clusters');
    return await new Promise<number>((resolve) => process.once('SIGINT', () => void stop(0).then(resolve)));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    for (const c of set.clusters) console.error(`${c.name}: operator log ${c.runtime.operatorLog}`);
    return stop(1);
  }
}

async function walkthrough(set: LocalClusters, options: ClustersDemoOptions): Promise<void> {
  const a = set.cluster('scribe-a');
  const b = set.cluster('scribe-b');
  for (const c of set.clusters) {
    say(
      `${c.name}: API server ${c.runtime.controlPlane.server}, ClusterIPs ${c.runtime.controlPlane.serviceRange}, ` +
        `LoadBalancer addresses ${c.addressRanges.loadBalancers}.0.0/16`,
    );
  }
  const kubectl = join(await toolDir('kubernetes'), 'kubectl');
  const work = join(set.dir, 'walkthrough');
  await mkdir(work, { recursive: true });
  const plugin = await bundlePlugin(join(set.dir, 'bin', 'kubectl-scribe'));
  const env = { ...process.env, KUBECONFIG: set.kubeconfigPath, PATH: `${dirname(kubectl)}:${process.env.PATH}` };
  const scribe = async (...args: string[]) => {
    say(`kubectl scribe ${args.join(' ')}`);
    const { stdout } = await promisify(execFile)(plugin, args, { cwd: work, env, timeout: 600_000 });
    process.stdout.write(stdout.replace(/^(?=.)/gm, '    '));
  };

  say(`kubectl --context scribe-a create ns source; a PVC mysql-pv-claim with sample data`);
  say(`kubectl --context scribe-b create ns dest`);
  say(`(both annotated ${PRIVILEGED_MOVERS_ANNOTATION}=true: the copy keeps owners, docs/permissions.md)`);
  const annotations = { [PRIVILEGED_MOVERS_ANNOTATION]: 'true' };
  for (const [c, name] of [
    [a, 'source'],
    [b, 'dest'],
  ] as const) {
    await create(c.kc, 'Namespace', undefined, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, annotations },
    });
  }
  await createPvc(a.kc, 'source', 'mysql-pv-claim');
  const sourceDir = await pvcDirectory(a.kc, 'source', 'mysql-pv-claim');
  await mkdir(join(sourceDir, 'mysql'), { recursive: true });
  for (let i = 0; i < 100; i++) await writeFile(join(sourceDir, 'mysql', `table-${i}.ibd`), `row ${i}\n`.repeat(1000));

  // The seed's cross-cluster config.yaml, with the local clusters' contexts.
  const config = crossClusterConfig(
    { context: 'scribe-a', clusterName: 'scribe-a', namespace: 'source' },
    { context: 'scribe-b', clusterName: 'scribe-b', namespace: 'dest' },
  );
  await writeFile(join(work, 'config.yaml'), config);
  say(`${join(work, 'config.yaml')}:`);
  console.log(config.trimEnd().replace(/^/gm, '    '));

  await scribe('start-replication');
  const rd = await get<ReplicationDestination>(b.kc, 'ReplicationDestination', 'dest', 'dest-destination');
  say(`the destination in scribe-b listens at its LoadBalancer address ${rd?.status?.rsync?.address}`);
  const readSource = () => get<ReplicationSource>(a.kc, 'ReplicationSource', 'source', 'source-source');
  const first = await waitForObject('the first sync', readSource, (rs) => Boolean(rs.status?.lastSyncTime));
  const firstSyncSeconds = ((Date.now() - options.started) / 1000).toFixed(0);
  say(`first sync from scribe-a to scribe-b took ${first.status?.lastSyncDuration}`);

  await scribe('set-replication');
  await scribe('continue-replication');

  console.log(`
To look at each side${options.keep ? '' : ' (run `npm run demo -- --clusters 2 --keep` to keep both clusters up for this)'}, in another shell:

export KUBECONFIG=${set.kubeconfigPath} PATH=${dirname(kubectl)}:${dirname(plugin)}:$PATH
cd ${work}   # config.yaml is here
kubectl config get-contexts   # scribe-a and scribe-b
# the source side, in scribe-a:
kubectl --context scribe-a -n source get replicationsource,pvc,volumesnapshots
kubectl scribe status -A --context scribe-a
# the destination side, in scribe-b: its Service of type LoadBalancer (EXTERNAL-IP), snapshots, restored PVCs:
kubectl --context scribe-b -n dest get replicationdestination,svc,volumesnapshots,pvc
kubectl scribe inspect rd/dest-destination -n dest --context scribe-b
# the next final copy, then the end of the walkthrough:
kubectl scribe set-replication
kubectl scribe remove-replication
Operator logs: ${a.runtime.operatorLog} and ${b.runtime.operatorLog}`);
  say(`first sync completed ${firstSyncSeconds} s after the demo started`);
  if (!options.keep) await scribe('remove-replication');
}
