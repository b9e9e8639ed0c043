/**
 * The local node agent: plays kubelet, CSI driver, external provisioner, snapshot controller
 * and service proxy on this one machine, so Jobs created against a local control plane run
 * their containers from their images with runc, on directory-backed volumes. See design.md, "The
 * local runtime"; how a container runs is described in runc.ts, its image in images.ts.
 */
import type { KubeConfig, KubernetesObject, V1Service } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Subscription } from 'rxjs';
import { ResourceInformer } from '../../kube/informer.js';
import { DEFAULT_ADDRESS_RANGES, type NodeAddressRanges } from './addresses.js';
import { ImageStore, loadScribeImages, type ScribeImages } from './images.js';
import { DEFAULT_NODE_NAME, NODE_KIND } from './kinds.js';
import { defaultAllowedHostPaths } from './host-paths.js';
import { startLogsServer, type LogsServer } from './logs-server.js';
import { NodeHeartbeat } from './node.js';
import type { ContainerRunRecord } from './pod-worker.js';
import { PodController } from './pods.js';
import { Provisioner } from './provisioner.js';
import { errorMessage } from './reconciler.js';
import { cleanupNodeContainers, findRunc } from './runc.js';
import { clusterClientCa, requestServingCertificate } from './serving-certificate.js';
import { ServiceProxy } from './services.js';
import { SnapshotController } from './snapshots.js';
import { prepareVolumeStorage, STORAGE_MODE_VARIABLE, storageModeOf, type VolumeStorageMode } from './storage.js';

/** The node's run log in its data directory: one JSON line (ContainerRunRecord) per container run. */
export const CONTAINER_RUN_LOG = 'container-runs.jsonl';

/** Options of the node agent. */
export interface NodeAgentOptions {
  kubeconfig: KubeConfig;
  /** Volumes, snapshots, pod directories and logs live here. */
  dataDir: string;
  /**
   * Where unpacked images live, by digest; shared by every node on the machine (unpacked root
   * filesystems are never written). Default: SCRIBE_CACHE (else ~/.cache/scribe)/node-images.
   */
  imageStoreDir?: string;
  nodeName?: string;
  /**
   * The host directories a pod's hostPath volume (or a claim's hostPath PV) may lie in; any
   * other is refused with CreateContainerConfigError. Default: only the directory the node's
   * provisioner makes PVs in (`<dataDir>/volumes`).
   */
  allowedHostPaths?: string[];
  /**
   * The node's pod and LoadBalancer address ranges (default DEFAULT_ADDRESS_RANGES); nodes of
   * clusters side by side each get their own (addresses.ts).
   */
  addressRanges?: NodeAddressRanges;
  /**
   * Keep this cluster's ClusterIPs to its own pods: a connection from another local node's pod is
   * closed (services.ts). For nodes of clusters side by side; off by default.
   */
  isolateClusterIPs?: boolean;
  /**
   * How volumes and snapshots are stored (storage.ts): `auto` shares blocks between a volume and
   * its clones and snapshots where the machine can (reflink), `copy` copies every byte. Default:
   * SCRIBE_LOCAL_STORAGE, else `auto`.
   */
  volumeStorage?: VolumeStorageMode;
  log?: (line: string) => void;
}

/** A running node agent. */
export interface NodeAgent {
  nodeName: string;
  /** The names under which Scribe's images were loaded into this node (as `kind load` does). */
  images: ScribeImages;
  /** The root filesystem of each loaded image, by its name in `images` (and loadImage's names). */
  imageRoots: Record<string, string>;
  /**
   * Loads the image `ref` of the OCI layout `layoutDir` under `name` (as `kind load` does after
   * start): an image of a test's own, e.g. one that adds a mover. Returns its root filesystem.
   */
  loadImage(layoutDir: string, ref: string, name: string): Promise<string>;
  /**
   * The log files of every run of a container of a pod on this node, oldest first (what
   * `kubectl logs` and `--previous` read; a run's file stays until the pod is gone).
   */
  containerLogFiles(namespace: string, pod: string, container: string): string[];
  /**
   * Sends `signal` to a container's process, as `kill` on a node would (`runc kill`);
   * `containerID` is the pod status's (runc://ID). The node reacts as to any other exit.
   */
  signalContainer(containerID: string, signal: 'KILL' | 'TERM'): Promise<void>;
  /** How volumes and snapshots are stored, as logged at start (storage.ts). */
  volumeStorage: { sharesBlocks: boolean; description: string };
  /** Kills every container process, closes every listener and stops watching. */
  stop(): Promise<void>;
}

/** Starts the node agent and resolves once the node is registered and every part is running. */
export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  const kc = options.kubeconfig;
  const nodeName = options.nodeName ?? DEFAULT_NODE_NAME;
  const log = options.log ?? (() => {});
  const ranges = options.addressRanges ?? DEFAULT_ADDRESS_RANGES;
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const runc = findRunc();
  const { stdout } = await promisify(execFile)(runc, ['--version']);
  const runtimeVersion = `runc://${/runc version (\S+)/.exec(stdout)?.[1] ?? 'unknown'}`;
  // A previous agent on this data directory that was killed left its containers running.
  const runcRoot = join(dataDir, 'runc');
  const leftovers = await cleanupNodeContainers(runc, runcRoot);
  if (leftovers.length) log(`removed ${leftovers.length} container(s) a previous agent left running`);
  const store = new ImageStore(options.imageStoreDir ?? defaultImageStoreDir());
  const images = await loadScribeImages(store);
  log(`loaded images ${images.scribe} and ${images.mover}`);

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      await stop().catch((error: unknown) => log(`stopping: ${errorMessage(error)}`));
    }
  };
  try {
    // Every container run, one JSON line each: what it ran on (the e2e suite checks the image's).
    const runLog = createWriteStream(join(dataDir, CONTAINER_RUN_LOG), { flags: 'a' });
    stops.push(() => new Promise<void>((done) => runLog.end(done)));
    const recordRun = (run: ContainerRunRecord) => runLog.write(`${JSON.stringify(run)}\n`);
    // Before anything uses a volume; released last, after pods, snapshots and the provisioner.
    const volumeStorage = await prepareVolumeStorage({
      dataDir,
      mode: options.volumeStorage ?? storageModeOf(process.env[STORAGE_MODE_VARIABLE]),
      log,
    });
    stops.push(() => volumeStorage.release());
    // The Service cache is the service proxy's; pods read it for their Service variables.
    const pods: PodController = new PodController({
      kc,
      nodeName,
      hostIP: '127.0.0.1',
      runc,
      runcRoot,
      allowedHostPaths: options.allowedHostPaths ?? defaultAllowedHostPaths(dataDir),
      podAddressPrefix: ranges.pods,
      images: store,
      recordRun,
      // Called once pods start, after the proxy below exists.
      services: (): V1Service[] | undefined => (proxy.services.hasSynced() ? proxy.services.list() : undefined),
      dataDir,
      log,
    });
    const apiServer = new URL(kc.getCurrentCluster()?.server ?? 'https://127.0.0.1:443');
    const proxy: ServiceProxy = new ServiceProxy({
      kc,
      pods: () => pods.pods(),
      podEvents: pods.informer,
      apiServer: `${apiServer.hostname}:${apiServer.port || 443}`,
      loadBalancerPrefix: ranges.loadBalancers,
      ...(options.isolateClusterIPs ? { isolateFrom: runcRoot } : {}),
      log,
    });
    // The kubelet endpoint's TLS: a serving certificate from the cluster's signer, and only
    // callers with a certificate of the cluster's client CA (the API server).
    const [serving, clientCa] = await Promise.all([
      requestServingCertificate({ kc, nodeName, ips: ['127.0.0.1'], log }),
      clusterClientCa(kc),
    ]);
    const logs: LogsServer = await startLogsServer({
      tls: { ...serving, clientCa },
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

    await proxy.start();
    stops.push(() => proxy.stop());

    await pods.start();
    stops.push(() => pods.stop());

    log(`node agent ${nodeName} ready (kubelet port ${logs.port}, data ${dataDir})`);
    let stopped: Promise<void> | undefined;
    const imageRoots = Object.fromEntries(
      [images.scribe, images.mover].map((name) => [name, store.find(name)?.rootfs ?? '']),
    );
    return {
      nodeName,
      images,
      imageRoots,
      async loadImage(layoutDir, ref, name) {
        const stored = await store.load(layoutDir, ref, [name]);
        imageRoots[name] = stored.rootfs;
        log(`loaded image ${name}`);
        return stored.rootfs;
      },
      containerLogFiles: (namespace, pod, container) => pods.logFiles(namespace, pod, container),
      volumeStorage: { sharesBlocks: volumeStorage.sharesBlocks, description: volumeStorage.description },
      async signalContainer(containerID, signal) {
        const id = containerID.replace(/^runc:\/\//, '');
        await promisify(execFile)(runc, ['--root', runcRoot, 'kill', id, signal]);
      },
      stop: () => (stopped ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The machine's shared store of unpacked images, beside scripts/image.sh's cache. */
function defaultImageStoreDir(): string {
  const cache = process.env.SCRIBE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'scribe');
  return join(cache, 'node-images');
}
