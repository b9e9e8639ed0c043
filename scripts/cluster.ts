/**
 * `npm run cluster`: a real local control plane (etcd, kube-apiserver, controller-manager,
 * scheduler) with Scribe's and the VolumeSnapshot CRDs installed, until Ctrl-C.
 */
import { Command } from 'commander';
import { join } from 'node:path';
import { startControlPlane } from '../src/local/control-plane.js';
import { installCrds } from '../src/local/crds.js';
import { loadKubeConfig } from '../src/kube/config.js';
import { toolDir } from '../src/local/tools.js';

const options = new Command('cluster')
  .description('Run a local Kubernetes control plane with the Scribe CRDs installed.')
  .option('--dir <dir>', 'keep data, logs and the kubeconfig in this directory')
  .parse()
  .opts<{ dir?: string }>();

const controlPlane = await startControlPlane({
  dir: options.dir,
  controllers: true,
  log: (line) => console.log(line),
});
await installCrds(loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath }));
const kubectl = join(await toolDir('kubernetes'), 'kubectl');
console.log(`
Control plane ready. In another shell:

  export KUBECONFIG=${controlPlane.kubeconfigPath}
  alias kubectl=${kubectl}
  kubectl get crds

Logs: ${Object.values(controlPlane.logs).join(' ')}
Press Ctrl-C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('stopping...');
  await controlPlane.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
