/**
 * The local node agent: plays kubelet, CSI driver, external provisioner, snapshot controller
 * and service proxy on this one machine, so Jobs created against a local control plane run as
 * local processes (bubblewrap sandboxes) on directory-backed volumes. See design.md, "The
 * local runtime"; what a container sees is described in sandbox.ts.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Subscription } from 'rxjs';
import { ResourceInformer } from '../../kube/informer.js';
import { moverBundles } from './bundles.js';
import { DEFAULT_NODE_NAME, NODE_KIND } from './kinds.js';
import { startLogsServer, type LogsServer } from './logs-server.js';
import { NodeHeartbeat } from './node.js';
import { PodController } from './pods.js';
import { Provisioner } from './provisioner.js';
import { errorMessage } from './reconciler.js';
import { findBwrap } from './sandbox.js';
import { ServiceProxy } from './services.js';
import { SnapshotController } from './snapshots.js';

/** Options of the node agent. */
export interface NodeAgentOptions {
  kubeconfig: KubeConfig;
  /** Volumes, snapshots, pod directories, logs and the serving certificate live here. */
  dataDir: string;
  /** The repository root, bound read-only at /scribe in every container. */
  repoRoot: string;
  nodeName?: string;
  log?: (line: string) => void;
}

/** A running node agent. */
export interface NodeAgent {
  nodeName: string;
  /** Kills every container process, closes every listener and stops watching. */
  stop(): Promise<void>;
}

/** Starts the node agent and resolves once the node is registered and every part is running. */
export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  const kc = options.kubeconfig;
  const nodeName = options.nodeName ?? DEFAULT_NODE_NAME;
  const log = options.log ?? (() => {});
  const dataDir = resolve(options.dataDir);
  const repoRoot = resolve(options.repoRoot);
  await mkdir(dataDir, { recursive: true });
  const bwrap = findBwrap();
  const { stdout } = await promisify(execFile)(bwrap, ['--version']);
  const runtimeVersion = `bwrap://${stdout.trim().replace(/^bubblewrap\s+/, '')}`;

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      await stop().catch((error: unknown) => log(`stopping: ${errorMessage(error)}`));
    }
  };
  try {
    // Containers get the mover bundles built from the checkout, as the image's have its dist/movers.
    const bundlesDir = await moverBundles(repoRoot);
    const pods = new PodController({ kc, nodeName, hostIP: '127.0.0.1', repoRoot, bundlesDir, bwrap, dataDir, log });
    const logs: LogsServer = await startLogsServer({
      certDir: join(dataDir, 'pki'),
      locate: (namespace, pod, container, previous) => pods.logFile(namespace, pod, container, previous),
    });
    stops.push(() => logs.close());

    const node = new NodeHeartbeat({ kc, nodeName, dataDir, kubeletPort: logs.port, runtimeVersion, log });
    await node.start();
    stops.push(() => node.stop());
    // Taints appear between heartbeats (the node lifecycle controller adds them): remove them at once.
    const nodes = new ResourceInformer<KubernetesObject & { spec?: { taints?: unknown[] } }>(kc, NODE_KIND);
    const taints: Subscription = nodes.events$.subscribe((event) => {
      if ('object' in event && event.type !== 'deleted' && event.object.metadata?.name === nodeName) {
        if (event.object.spec?.taints?.length) void node.removeTaints().catch((e: unknown) => log(errorMessage(e)));
      }
    });
    await nodes.start();
    stops.push(async () => {
      taints.unsubscribe();
      await nodes.stop();
    });

    const provisioner = new Provisioner({ kc, dataDir, log });
    await provisioner.start();
    stops.push(() => provisioner.stop());

    const snapshots = new SnapshotController({ kc, dataDir, log });
    await snapshots.start();
    stops.push(() => snapshots.stop());

    await pods.start();
    stops.push(() => pods.stop());

    const services = new ServiceProxy({ kc, pods: () => pods.pods(), podEvents: pods.informer, log });
    await services.start();
    stops.push(() => services.stop());

    log(`node agent ${nodeName} ready (kubelet port ${logs.port}, data ${dataDir})`);
    let stopped: Promise<void> | undefined;
    return { nodeName, stop: () => (stopped ??= stopAll()) };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
