/**
 * `npm run demo`: the seed's rsync walkthrough on one machine. It starts the local system
 * (control plane, node agent, the operator installed with `helm install` of helm/scribe, or with
 * SCRIBE_OPERATOR=process the in-process operator for quick development), makes a source volume with sample data, applies
 * examples/rsync/ as the seed does (destination first, its address and key Secret copied to the
 * source side), waits for the first sync and shows what happened. --keep stays up for kubectl.
 * `--clusters 2` follows the seed's cross-cluster plugin walkthrough between two local clusters
 * instead (demo-clusters.ts).
 */
import { Command, Option } from 'commander';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../src/api/index.js';
import { OPERATOR_MODE_ENV, operatorModeOf, operatorPorts, startLocalRuntime } from '../src/local/runtime.js';
import { PRIVILEGED_MOVERS_ANNOTATION } from '../machines/privilege.js';
import {
  copySecret,
  create,
  createPvc,
  get,
  listeningAddress,
  pvcDirectory,
  waitForObject,
} from '../src/local/objects.js';
import { repoRoot, toolDir } from '../src/local/tools.js';

const options = new Command('demo')
  .description('Replicate a volume with rsync on a local control plane, as the seed documentation does.')
  .option('--keep', 'keep everything running for exploring with kubectl, until Ctrl-C')
  .option('--dir <dir>', 'keep data and logs in this directory')
  .addOption(
    new Option('--clusters <n>', 'clusters side by side: 2 follows the cross-cluster plugin walkthrough')
      .choices(['1', '2'])
      .default('1'),
  )
  .parse()
  .opts<{ keep?: boolean; dir?: string; clusters: '1' | '2' }>();

const say = (line: string) => console.log(`\x1b[1m==>\x1b[0m ${line}`);
const started = Date.now();
if (options.clusters === '2') {
  // Two clusters: the seed's cross-cluster plugin walkthrough (scripts/demo-clusters.ts).
  const { clustersDemo } = await import('./demo-clusters.js');
  process.exit(
    await clustersDemo({ keep: Boolean(options.keep), started, ...(options.dir ? { dir: options.dir } : {}) }),
  );
}
const mode = operatorModeOf();
say(
  mode === 'chart'
    ? 'starting the local system; the operator is installed as users install it: ' +
        'helm install scribe helm/scribe -n scribe-system (images loaded into the node)'
    : `starting the local system with the in-process operator (${OPERATOR_MODE_ENV}=process)`,
);
const runtime = await startLocalRuntime({ dir: options.dir, log: (line) => console.log(`    ${line}`) });
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('stopping');
  await runtime.stop();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  const { kc } = runtime;
  const kubectl = join(await toolDir('kubernetes'), 'kubectl');
  const kubectlRun = (...args: string[]) =>
    execFileSync(kubectl, ['--kubeconfig', runtime.kubeconfigPath, ...args], { encoding: 'utf8' });
  const example = async (file: string) =>
    parse(await readFile(join(repoRoot(), 'examples', 'rsync', file), 'utf8')) as KubernetesObject & {
      spec: { rsync: { address?: string } };
    };

  say('kubectl create ns source; a PVC mysql-pv-claim with sample data');
  say(`mover mode: privileged (kubectl annotate namespace source dest ${PRIVILEGED_MOVERS_ANNOTATION}=true):`);
  say("  the copy keeps the application's owners, modes, ACLs and xattrs (docs/permissions.md)");
  for (const name of ['source', 'dest']) {
    await create(kc, 'Namespace', undefined, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, annotations: { [PRIVILEGED_MOVERS_ANNOTATION]: 'true' } },
    });
  }
  await createPvc(kc, 'source', 'mysql-pv-claim');
  const sourceDir = await pvcDirectory(kc, 'source', 'mysql-pv-claim');
  await mkdir(join(sourceDir, 'mysql'), { recursive: true });
  for (let i = 0; i < 100; i++) await writeFile(join(sourceDir, 'mysql', `table-${i}.ibd`), `row ${i}\n`.repeat(1000));

  say('kubectl create -n dest -f examples/rsync/scribe_v1alpha1_replicationdestination.yaml');
  await create(kc, 'ReplicationDestination', 'dest', await example('scribe_v1alpha1_replicationdestination.yaml'));
  const readDest = () => get<ReplicationDestination>(kc, 'ReplicationDestination', 'dest', 'database-destination');
  const { address, keys: sshKeys } = await listeningAddress(kc, 'dest', 'database-destination');
  say(`destination listens at ${address}; its key Secret for the source is ${sshKeys}`);

  say(`copy Secret ${sshKeys} from dest to source`);
  await copySecret(kc, sshKeys, 'dest', 'source');

  say(`kubectl create -n source -f examples/rsync/scribe_v1alpha1_replicationsource.yaml (address: ${address})`);
  const source = await example('scribe_v1alpha1_replicationsource.yaml');
  source.spec.rsync.address = address;
  await create(kc, 'ReplicationSource', 'source', source);
  const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', 'source', 'database-source');
  const synced = await waitForObject('the first sync', readSource, (rs) => Boolean(rs.status?.lastSyncTime));
  const firstSyncSeconds = ((Date.now() - started) / 1000).toFixed(0);
  const image = await waitForObject('the latest image', readDest, (rd) => Boolean(rd.status?.latestImage));

  say('kubectl get replicationsources,replicationdestinations -A');
  console.log(kubectlRun('get', 'replicationsources,replicationdestinations', '-A'));
  say('kubectl describe replicationsource -n source database-source (status)');
  console.log(kubectlRun('get', 'replicationsource', '-n', 'source', 'database-source', '-o', 'jsonpath={.status}'));
  console.log(`\nlast sync took ${synced.status?.lastSyncDuration}; next sync at ${synced.status?.nextSyncTime}`);
  const latest = image.status?.latestImage;
  say(`the destination's latestImage: ${latest?.kind} ${latest?.name}`);
  // The seed's restore: a PVC whose dataSource is the latestImage, as large as the destination.
  const restore = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'mysql-pv-claim-restored', namespace: 'dest' },
    spec: {
      accessModes: image.spec.rsync?.accessModes ?? ['ReadWriteOnce'],
      dataSource: {
        apiGroup: latest?.apiGroup ?? (latest?.kind === 'VolumeSnapshot' ? 'snapshot.storage.k8s.io' : undefined),
        kind: latest?.kind,
        name: latest?.name,
      },
      resources: { requests: { storage: image.spec.rsync?.capacity ?? '2Gi' } },
    },
  };
  const operatorAccess = await describeOperatorAccess(runtime.operatorMode, await runtime.operatorHost());
  const plugin = join(repoRoot(), 'dist', 'kubectl-scribe');
  const build = existsSync(plugin)
    ? ''
    : `(cd ${repoRoot()} && npm run build:plugin)   # once: dist/kubectl-scribe, for \`kubectl scribe\`\n`;
  console.log(`
To look at it${options.keep ? '' : ' (run `npm run demo -- --keep` to keep the system up for this)'}, in another shell:

export KUBECONFIG=${runtime.kubeconfigPath} PATH=${dirname(kubectl)}:${dirname(plugin)}:$PATH
${build}# the destination's state chart, recent transitions and the objects of its cycle:
kubectl scribe inspect replicationdestination/database-destination -n dest
# restore the latest image into a new PVC, as the seed's walkthrough does:
kubectl apply -f - <<'EOF'
${stringify(restore).trimEnd()}
EOF
kubectl get pvc -n dest mysql-pv-claim-restored
${operatorAccess}
Operator log (JSON lines): ${runtime.operatorLog}`);
  say(`first sync completed ${firstSyncSeconds} s after the demo started`);

  if (!options.keep) await stop(0);
  else {
    say(`running; in another shell: export KUBECONFIG=${runtime.kubeconfigPath}; alias kubectl=${kubectl}`);
    say('press Ctrl-C to stop');
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  console.error(`operator log: ${runtime.operatorLog}`);
  await stop(1);
}

/**
 * How to reach the operator's /metrics and /debug: through the chart's metrics Service (its
 * ClusterIP is a loopback address the node serves) or the pod's own address, with the token of a
 * ServiceAccount bound to the chart's scribe-metrics-reader and scribe-debug-reader ClusterRoles.
 */
async function describeOperatorAccess(mode: 'chart' | 'process', host: string): Promise<string> {
  const metricsPort = (await operatorPorts(runtime.operatorLog)).metrics;
  let base = `https://${host}:${metricsPort}`;
  let where = `the operator process (${base})`;
  if (mode === 'chart') {
    const service = await get<KubernetesObject & { spec?: { clusterIP?: string } }>(
      runtime.kc,
      'Service',
      'scribe-system',
      'scribe-metrics',
    );
    base = `https://${service?.spec?.clusterIP}:8443`;
    where = `the chart's metrics Service scribe-metrics (${base}; the pod itself: https://${host}:${metricsPort})`;
  }
  return `
# the operator's /metrics and /debug pages, at ${where}, need a token of an identity
# bound to the chart's ClusterRoles scribe-metrics-reader and scribe-debug-reader (/debug then
# shows the CRs it may get, here those of namespace source; self-signed certificate: curl -k):
kubectl create serviceaccount metrics-viewer -n default
kubectl create clusterrolebinding metrics-viewer --clusterrole=scribe-metrics-reader --serviceaccount=default:metrics-viewer
kubectl create clusterrolebinding debug-viewer --clusterrole=scribe-debug-reader --serviceaccount=default:metrics-viewer
kubectl create role scribe-viewer -n source --verb=get --resource=replicationsources.scribe.backube,replicationdestinations.scribe.backube
kubectl create rolebinding debug-viewer -n source --role=scribe-viewer --serviceaccount=default:metrics-viewer
TOKEN=$(kubectl create token metrics-viewer -n default)
curl -sk -H "Authorization: Bearer $TOKEN" ${base}/metrics | grep ^scribe_
curl -sk -H "Authorization: Bearer $TOKEN" ${base}/debug/ReplicationSource/source/database-source > debug.html
`;
}
