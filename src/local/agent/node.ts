/**
 * The Node object and its heartbeats, as a kubelet keeps them: registration with capacity,
 * addresses, labels and a Ready condition; the Lease in kube-node-lease renewed every 10 s;
 * the Ready heartbeat refreshed on the same tick; taints removed whenever they appear
 * (node.kubernetes.io/not-ready and friends would keep the real scheduler away).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import { statfs } from 'node:fs/promises';
import { isStatus, kubeRequest } from '../../kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../kube/resources.js';
import { NODE_KIND } from './kinds.js';
import { errorMessage } from './reconciler.js';

/** Options of the node heartbeat. */
export interface NodeOptions {
  kc: KubeConfig;
  nodeName: string;
  dataDir: string;
  /** HTTPS port of the logs server (daemonEndpoints.kubeletEndpoint). */
  kubeletPort: number;
  runtimeVersion: string;
  log: (line: string) => void;
}

const HEARTBEAT_MS = 10_000;
const LEASE_SECONDS = 40;
const LEASE_NAMESPACE = 'kube-node-lease';

const microTime = (date = new Date()) => date.toISOString().replace('Z', '000Z');
const seconds = (date = new Date()) => date.toISOString().replace(/\.\d+Z$/, 'Z');

/** Registers the node and keeps it Ready until stop(). */
export class NodeHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly readySince = seconds();
  private beating: Promise<void> | undefined;

  constructor(private readonly options: NodeOptions) {}

  /** Creates or updates the Node, its status and Lease, then beats every 10 s. */
  async start(): Promise<void> {
    await this.register();
    await this.beat();
    this.timer = setInterval(() => {
      if (!this.beating) this.beating = this.beat().finally(() => (this.beating = undefined));
    }, HEARTBEAT_MS);
  }

  /** Stops beating and reports the node NotReady (best effort), as a kubelet shutting down would. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.patchStatus(false).catch(() => undefined);
  }

  private get path() {
    return objectPath(NODE_KIND, undefined, this.options.nodeName);
  }

  private async register(): Promise<void> {
    const { nodeName } = this.options;
    const labels = {
      'kubernetes.io/hostname': nodeName,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': goArch(),
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': goArch(),
    };
    try {
      await kubeRequest(this.options.kc, {
        method: 'POST',
        path: collectionPath(NODE_KIND),
        body: {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: nodeName, labels },
          spec: {},
          status: await this.status(true),
        },
      });
      this.options.log(`node ${nodeName}: registered`);
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
      await kubeRequest(this.options.kc, {
        method: 'PATCH',
        path: this.path,
        body: { metadata: { labels }, spec: { taints: null, unschedulable: null } },
      });
    }
  }

  /** Lease, Ready heartbeat and taints in one tick; failures are logged and retried next tick. */
  private async beat(): Promise<void> {
    try {
      await this.renewLease();
      const node = await this.patchStatus(true);
      if (node?.spec?.taints?.length) await this.removeTaints();
    } catch (error) {
      this.options.log(`node ${this.options.nodeName}: heartbeat failed: ${errorMessage(error)}`);
    }
  }

  /** Removes every taint now; called on each beat and whenever the Node changes. */
  async removeTaints(): Promise<void> {
    await kubeRequest(this.options.kc, { method: 'PATCH', path: this.path, body: { spec: { taints: null } } });
  }

  private async renewLease(): Promise<void> {
    const { kc, nodeName } = this.options;
    const spec = { holderIdentity: nodeName, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime() };
    try {
      await kubeRequest(kc, {
        method: 'PATCH',
        path: objectPath(RESOURCES.Lease, LEASE_NAMESPACE, nodeName),
        body: { spec },
      });
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
      const node = await kubeRequest<{ metadata?: { uid?: string } }>(kc, { method: 'GET', path: this.path });
      await kubeRequest(kc, {
        method: 'POST',
        path: collectionPath(RESOURCES.Lease, LEASE_NAMESPACE),
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: nodeName,
            namespace: LEASE_NAMESPACE,
            // As the kubelet does: the Lease goes when the Node goes.
            ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata?.uid }],
          },
          spec,
        },
      });
    }
  }

  private async patchStatus(ready: boolean): Promise<{ spec?: { taints?: unknown[] } }> {
    return kubeRequest(this.options.kc, {
      method: 'PATCH',
      path: `${this.path}/status`,
      patchType: 'strategic',
      body: { status: await this.status(ready) },
    });
  }

  private async status(ready: boolean) {
    const now = seconds();
    const condition = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: this.readySince,
    });
    const fs = await statfs(this.options.dataDir).catch(() => undefined);
    const capacity = {
      cpu: String(cpus().length),
      memory: `${Math.floor(totalmem() / 1024)}Ki`,
      pods: '110',
      'ephemeral-storage': fs ? `${Math.floor((fs.blocks * fs.bsize) / 1024)}Ki` : '10Gi',
    };
    return {
      capacity,
      allocatable: capacity,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'not measured by the local node agent'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'not measured by the local node agent'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'not measured by the local node agent'),
        ready
          ? condition('Ready', 'True', 'KubeletReady', 'scribe local node agent is posting ready status')
          : {
              ...condition('Ready', 'False', 'NodeAgentStopped', 'scribe local node agent stopped'),
              lastTransitionTime: now,
            },
      ],
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: hostname() },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: this.options.kubeletPort } },
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: release(),
        osImage: 'scribe local node agent',
        containerRuntimeVersion: this.options.runtimeVersion,
        kubeletVersion: 'v0.0.0-scribe-local',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: goArch(),
      },
    };
  }
}

/** Node's architecture name as Go (and so Kubernetes labels) spell it. */
function goArch(): string {
  const names: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return names[arch()] ?? arch();
}
