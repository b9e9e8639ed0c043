/**
 * `tsx scripts/agent.ts --kubeconfig FILE`: the local node agent against a running control
 * plane (e.g. `npm run cluster`), until Ctrl-C or SIGTERM.
 */
import { Command } from 'commander';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig } from '../src/kube/config.js';
import { startNodeAgent } from '../src/local/agent/index.js';

const options = new Command('agent')
  .description('Play the node (kubelet, CSI driver, snapshotter, service proxy) on this machine.')
  .option('--kubeconfig <file>', 'kubeconfig of the control plane (default: KUBECONFIG, ~/.kube/config)')
  .option('--data-dir <dir>', 'volumes, snapshots, pod directories and logs (default: a new temp dir)')
  .option('--node-name <name>', 'name of the Node to register', 'scribe-local')
  .parse()
  .opts<{ kubeconfig?: string; dataDir?: string; nodeName: string }>();

const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'scribe-agent-')));
const agent = await startNodeAgent({
  kubeconfig: loadKubeConfig({ kubeconfig: options.kubeconfig }),
  dataDir,
  nodeName: options.nodeName,
  log: (line) => console.log(`${new Date().toISOString()} ${line}`),
});
console.log(`node ${agent.nodeName} running; data in ${dataDir}. Press Ctrl-C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('stopping...');
  await agent.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
