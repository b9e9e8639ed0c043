/**
 * The kubelet part of the agent: watches pods, and for those bound to this node starts one
 * PodWorker each, hands it every update (deletion included), and tidies up once the pod is
 * gone. Pod IPs come from the node's pod range, 127.1.0.0/16 by default (see addresses.ts).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { ResourceInformer } from '../../kube/informer.js';
import { isStatus, kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';
import { AddressPool, DEFAULT_ADDRESS_RANGES } from './addresses.js';
import { confirmPodDeletion, PodWorker, type PodWorkerContext } from './pod-worker.js';
import { errorMessage, Reconciler } from './reconciler.js';
import { unmountSubPaths } from './subpath.js';

/** Options of the pod controller. */
export interface PodControllerOptions extends PodWorkerContext {
  dataDir: string;
  /** The first two octets of the pod IPs (default "127.1"). */
  podAddressPrefix?: string;
}

const terminal = (pod: V1Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** Runs the pods bound to this node as sandboxed local processes. */
export class PodController {
  /** The pods bound to this node (a spec.nodeName field selector). */
  readonly informer: ResourceInformer<V1Pod>;
  private readonly workers = new Map<string, PodWorker>();
  private readonly confirmed = new Set<string>();
  private readonly pool: AddressPool;
  private readonly reconciler: Reconciler;
  private subscription: Subscription | undefined;

  constructor(private readonly options: PodControllerOptions) {
    this.pool = new AddressPool(options.podAddressPrefix ?? DEFAULT_ADDRESS_RANGES.pods);
    // Only this node's pods: the API server filters, as it does for a kubelet.
    this.informer = new ResourceInformer<V1Pod>(options.kc, RESOURCES.Pod, {
      fieldSelector: `spec.nodeName=${options.nodeName}`,
    });
    this.reconciler = new Reconciler('pods', () => this.pass(), 5000, options.log);
  }

  private get podsDir() {
    return join(this.options.dataDir, 'pods');
  }

  /** Starts watching and acting. */
  async start(): Promise<void> {
    await mkdir(this.podsDir, { recursive: true });
    this.subscription = this.informer.events$.subscribe(() => this.reconciler.trigger());
    await this.informer.start();
    this.reconciler.start();
  }

  /** The node's pods as cached now. */
  pods(): V1Pod[] {
    return this.informer.list().filter((pod) => pod.spec?.nodeName === this.options.nodeName);
  }

  /** The log file of a container of a pod on this node. */
  logFile(namespace: string, name: string, container: string, previous: boolean): string | undefined {
    const pod = this.informer.get(name, namespace);
    const worker = pod?.metadata?.uid ? this.workers.get(pod.metadata.uid) : undefined;
    return worker?.logFile(container, previous);
  }

  /** The log files of every run of a container of a pod on this node, oldest first. */
  logFiles(namespace: string, name: string, container: string): string[] {
    const pod = this.informer.get(name, namespace);
    const worker = pod?.metadata?.uid ? this.workers.get(pod.metadata.uid) : undefined;
    return worker?.logFiles(container) ?? [];
  }

  /** Kills every container process (no status is written: the node simply goes away). */
  async stop(): Promise<void> {
    await this.reconciler.stop();
    this.subscription?.unsubscribe();
    await this.informer.stop();
    await Promise.all([...this.workers.values()].map((worker) => worker.kill()));
    this.workers.clear();
  }

  private async pass(): Promise<void> {
    const pods = this.pods();
    const live = new Set<string>();
    // Addresses already in status (from before an agent restart) stay with their pods.
    for (const pod of pods) {
      if (pod.metadata?.uid && pod.status?.podIP && !terminal(pod))
        this.pool.reserve(pod.metadata.uid, pod.status.podIP);
    }
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (!uid) continue;
      live.add(uid);
      const worker = this.workers.get(uid);
      if (worker) {
        worker.update(pod);
      } else if (pod.metadata?.deletionTimestamp) {
        // Nothing runs for it here (never started, or finished before): confirm at once.
        if (!this.confirmed.has(uid)) {
          this.confirmed.add(uid);
          await confirmPodDeletion(this.options.kc, pod).catch((error: unknown) =>
            this.options.log(`pod ${pod.metadata?.name}: ${errorMessage(error)}`),
          );
        }
      } else if (!terminal(pod)) {
        await this.startPod(pod, uid);
      }
    }
    for (const [uid, worker] of this.workers) {
      if (live.has(uid)) continue;
      this.workers.delete(uid);
      void worker.kill().then(() => this.forget(uid));
    }
    if (this.informer.hasSynced()) await this.removeStaleDirectories(live);
  }

  private async startPod(pod: V1Pod, uid: string): Promise<void> {
    const startedBefore = [...(pod.status?.containerStatuses ?? [])].some(
      (s) => s.state?.running || s.state?.terminated,
    );
    if (startedBefore && (pod.spec?.restartPolicy ?? 'Always') === 'Never') {
      // Its processes died with a previous agent and may not run again: fail it as a kubelet does.
      await this.failLostPod(pod);
      return;
    }
    const podIP = this.pool.allocate(uid, pod.status?.podIP);
    const worker = new PodWorker(this.options, pod, podIP, join(this.podsDir, uid));
    this.workers.set(uid, worker);
    worker.start();
    this.options.log(`pod ${pod.metadata?.namespace}/${pod.metadata?.name}: starting on ${podIP}`);
  }

  private async failLostPod(pod: V1Pod): Promise<void> {
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const lost = (name: string) => ({
      name,
      ready: false,
      restartCount: 0,
      image: '',
      imageID: '',
      state: {
        terminated: {
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          message: 'The container could not be located when the node agent restarted',
          startedAt: at,
          finishedAt: at,
        },
      },
    });
    try {
      await kubeRequest(this.options.kc, {
        method: 'PATCH',
        path: objectPath(RESOURCES.Pod, pod.metadata?.namespace, pod.metadata?.name ?? '', 'status'),
        patchType: 'strategic',
        body: { status: { phase: 'Failed', containerStatuses: (pod.spec?.containers ?? []).map((c) => lost(c.name)) } },
      });
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }

  private forget(uid: string): void {
    this.pool.release(uid);
    this.confirmed.delete(uid);
    void removePodDirectory(join(this.podsDir, uid)).catch((error: unknown) =>
      this.options.log(`pod ${uid}: removing its directory: ${errorMessage(error)}`),
    );
  }

  /** Directories of pods that no longer exist (e.g. deleted while the agent was down). */
  private async removeStaleDirectories(live: Set<string>): Promise<void> {
    for (const entry of await readdir(this.podsDir).catch(() => [] as string[])) {
      if (!live.has(entry) && !this.workers.has(entry)) await removePodDirectory(join(this.podsDir, entry));
    }
    for (const uid of this.confirmed) if (!live.has(uid)) this.confirmed.delete(uid);
  }
}

/**
 * Removes a pod's directory, its subPath bind mounts (subpath.ts) unmounted first: removing
 * through one would remove the volume's files. Left in place when an unmount fails.
 */
async function removePodDirectory(dir: string): Promise<void> {
  await unmountSubPaths(join(dir, 'volume-subpaths'));
  await rm(dir, { recursive: true, force: true });
}
