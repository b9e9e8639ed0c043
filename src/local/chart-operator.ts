/**
 * The operator of the local runtime installed as users install it: `helm install` of helm/scribe
 * (release `scribe` in `scribe-system`) with the images the node loaded, so the operator runs as
 * a pod of the `scribe` image under the chart's ServiceAccount, RBAC, probes and securityContext,
 * behind its metrics Service, and the node restarts it (with back-off) when it dies.
 *
 * Controlling it as a cluster's user would: start = scale the Deployment to 1 and wait until its
 * pod is Ready; stop = scale to 0 and wait until the pod is gone; kill = SIGKILL the container's
 * process on the node (the pod stays, its container is restarted). The operator's log is the
 * container's log as the node stores it, copied as it grows into one file (every run, in order),
 * so it reads like the host process's log.
 */
import { appendFile, open } from 'node:fs/promises';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { kubeRequest } from '../kube/rest.js';
import { objectPath, RESOURCES } from '../kube/resources.js';
import type { NodeAgent } from './agent/index.js';
import { CHART_DIR, helm } from './helm.js';
import { CHART_RELEASE } from './operator-identity.js';
import { waitFor } from './processes.js';

/** The label the chart puts on the operator's Deployment, pods and metrics Service. */
export const OPERATOR_LABEL = 'control-plane=scribe-controller';
/** The operator's container in the chart's pod. */
export const OPERATOR_CONTAINER = 'manager';

/** How long the operator's pod may take to become Ready (image unpack, caches, readiness probe). */
const READY_TIMEOUT_MS = 180_000;
/** How often the container's log is copied into the runtime's operator log. */
const LOG_COPY_INTERVAL_MS = 200;

/** `--set` values that point the chart at a loaded image reference REPOSITORY:TAG. */
export function imageValues(prefix: string, reference: string): string[] {
  const colon = reference.lastIndexOf(':');
  if (colon <= reference.lastIndexOf('/')) throw new Error(`image ${reference} has no tag`);
  return [`${prefix}.repository=${reference.slice(0, colon)}`, `${prefix}.tag=${reference.slice(colon + 1)}`];
}

/** The `helm install` arguments of the local runtime's release. */
export function installArgs(kubeconfigPath: string, images: { scribe: string; mover: string }): string[] {
  return [
    'install',
    CHART_RELEASE.name,
    CHART_DIR,
    '--namespace',
    CHART_RELEASE.namespace,
    '--create-namespace',
    '--kubeconfig',
    kubeconfigPath,
    ...[
      ...imageValues('image', images.scribe),
      ...imageValues('moverImage', images.mover),
      // The node has the images preloaded (as `kind load` leaves them) and no registry.
      'image.pullPolicy=IfNotPresent',
      // The node's pods share its network namespace: each listens on its own loopback address.
      'listenOnPodIP=true',
      // The e2e tests and the demo open the /debug pages (off by default).
      'debugPages.enabled=true',
    ].flatMap((value) => ['--set', value]),
  ];
}

const isReady = (pod: V1Pod) =>
  pod.status?.phase === 'Running' &&
  !pod.metadata?.deletionTimestamp &&
  Boolean(pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** The chart-installed operator of a local runtime. */
export class ChartOperator {
  private installed = false;
  private copier: NodeJS.Timeout | undefined;
  private copying: Promise<void> = Promise.resolve();
  private readonly offsets = new Map<string, number>();

  constructor(
    private readonly kc: KubeConfig,
    private readonly kubeconfigPath: string,
    private readonly agent: NodeAgent,
    private readonly logFile: string,
    private readonly log: (line: string) => void,
  ) {}

  /** The operator's pods now (any phase). */
  async pods(): Promise<V1Pod[]> {
    const list = await kubeRequest<{ items: V1Pod[] }>(this.kc, {
      method: 'GET',
      path: objectPath(RESOURCES.Pod, CHART_RELEASE.namespace, ''),
      query: { labelSelector: OPERATOR_LABEL },
    });
    return list.items;
  }

  /** The Ready operator pod, if there is one. */
  async readyPod(): Promise<V1Pod | undefined> {
    return (await this.pods()).find(isReady);
  }

  /** Installs the release the first time, scales it to one replica after, and waits until its pod is Ready. */
  async start(): Promise<void> {
    if (!this.installed) {
      this.log(
        `helm install ${CHART_RELEASE.name} helm/scribe -n ${CHART_RELEASE.namespace} (operator image ${this.agent.images.scribe})`,
      );
      await helm(installArgs(this.kubeconfigPath, this.agent.images));
      this.installed = true;
      this.copier = setInterval(() => void this.copyLogs(), LOG_COPY_INTERVAL_MS);
      this.copier.unref();
    } else {
      await this.scale(1);
    }
    await this.waitReady();
  }

  /** Waits until an operator pod is Ready; resolves with it. */
  async waitReady(): Promise<V1Pod> {
    let ready: V1Pod | undefined;
    await waitFor(
      `the operator's pod Ready (log: ${this.logFile})`,
      async () => Boolean((ready = await this.readyPod())),
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 250 },
    );
    return ready as V1Pod;
  }

  /** Scales the Deployment to 0 and waits until its pods are gone. */
  async stop(): Promise<void> {
    if (!this.installed) return;
    await this.scale(0);
    await waitFor('the operator pods gone', async () => (await this.pods()).length === 0, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  }

  /**
   * SIGKILL to the operator container's process on the node; resolves once the node has seen it
   * exit (the container's status no longer shows that run running). The node restarts it.
   */
  async kill(): Promise<void> {
    const pod = (await this.pods()).find((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running');
    const running = pod?.status?.containerStatuses?.find((s) => s.name === OPERATOR_CONTAINER && s.state?.running);
    if (!pod || !running?.containerID) return;
    this.log(`SIGKILL to the operator's container ${running.containerID}`);
    await this.agent.signalContainer(running.containerID, 'KILL');
    await waitFor(
      'the node to see the operator container exit',
      async () => {
        const now = (await this.pods()).find((p) => p.metadata?.uid === pod.metadata?.uid);
        const status = now?.status?.containerStatuses?.find((s) => s.name === OPERATOR_CONTAINER);
        return !status || status.containerID !== running.containerID || !status.state?.running;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    await this.copyLogs();
  }

  /** Stops copying the log (after a last copy). */
  async close(): Promise<void> {
    clearInterval(this.copier);
    await this.copyLogs().catch(() => undefined);
  }

  private async scale(replicas: number): Promise<void> {
    const deployments = await kubeRequest<{ items: Array<{ metadata: { name: string } }> }>(this.kc, {
      method: 'GET',
      path: `/apis/apps/v1/namespaces/${CHART_RELEASE.namespace}/deployments`,
      query: { labelSelector: OPERATOR_LABEL },
    });
    for (const deployment of deployments.items) {
      await kubeRequest(this.kc, {
        method: 'PATCH',
        path: `/apis/apps/v1/namespaces/${CHART_RELEASE.namespace}/deployments/${deployment.metadata.name}/scale`,
        patchType: 'merge',
        body: { spec: { replicas } },
      });
    }
  }

  /** Appends what each run of the operator container has written since the last copy. */
  private copyLogs(): Promise<void> {
    this.copying = this.copying.then(async () => {
      const pods = await this.pods().catch(() => [] as V1Pod[]);
      for (const pod of pods) {
        const name = pod.metadata?.name ?? '';
        for (const file of this.agent.containerLogFiles(CHART_RELEASE.namespace, name, OPERATOR_CONTAINER)) {
          const offset = this.offsets.get(file) ?? 0;
          const handle = await open(file, 'r').catch(() => undefined);
          if (!handle) continue;
          try {
            const { size } = await handle.stat();
            if (size <= offset) continue;
            const buffer = Buffer.alloc(size - offset);
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
            this.offsets.set(file, offset + bytesRead);
            await appendFile(this.logFile, buffer.subarray(0, bytesRead));
          } finally {
            await handle.close();
          }
        }
      }
    });
    return this.copying;
  }
}
