/**
 * The service proxy: each TCP port of a Service with a loopback ClusterIP (the control plane
 * hands them out from a loopback /16 of its own, see control-plane.ts) is listened on at clusterIP:port, and LoadBalancer
 * Services also get an address from the node's LoadBalancer range (127.97.0.0/16 by default, a
 * /16 of their own among 127.200–127.250 for clusters side by side; see addresses.ts) in
 * status.loadBalancer.ingress[0].ip, listened on too, as a cloud's load balancer gives one that
 * clients outside the cluster (another local cluster's pods) connect to. Every local pod shares
 * the host's network namespace, so nothing in the network keeps a ClusterIP private to its
 * cluster the way it is on a real one; with `isolateFrom` set (clusters side by side) the proxy
 * looks up which container opened each connection to a ClusterIP (peers.ts) and closes it when
 * that is another node's pod. Processes of the host (tests, kubectl, curl) may still connect. A connection goes to a Running, Ready pod of the namespace matching the
 * selector (round robin), at podIP:targetPort (number or named container port). Listeners
 * exist only while the Service has a ready pod, so a client of a Service without one gets
 * "connection refused" at once and retries, as with an empty Service on a real cluster.
 * A Service without a selector gets its endpoints from its EndpointSlices (label
 * kubernetes.io/service-name, endpoints not marked unready, the port of the Service port's
 * name), as kube-proxy takes them: that is how the `kubernetes` Service of the default namespace
 * would reach the API server, whose endpoint the API server itself writes. Departure: the API
 * server refuses a loopback address as its own endpoint ("may not be in the loopback range"), so
 * here the `kubernetes` Service without endpoints goes to the API server the node is registered
 * with (`apiServer`), which is what its endpoint would say.
 */
import type { KubeConfig, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Observable, Subscription } from 'rxjs';
import { ResourceInformer } from '../../kube/informer.js';
import { isStatus, kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';
import { resolve } from 'node:path';
import { AddressPool, DEFAULT_ADDRESS_RANGES } from './addresses.js';
import { peerRuncRoot } from './peers.js';
import { ENDPOINT_SLICE_KIND, type EndpointSlice } from './kinds.js';
import { errorMessage, Reconciler } from './reconciler.js';

/** Options of the service proxy. */
export interface ServiceProxyOptions {
  kc: KubeConfig;
  /** The node's pods (the pod controller's cache). */
  pods: () => V1Pod[];
  /** Subscribe to pod changes. */
  podEvents: ResourceInformer<V1Pod>;
  /** host:port of the API server, the `kubernetes` Service's endpoint (see the module comment). */
  apiServer?: string;
  /** The first two octets of LoadBalancer addresses (default "127.97"). */
  loadBalancerPrefix?: string;
  /**
   * This node's runc state root: when set, a connection to a ClusterIP opened by a container of
   * any other runc state root (another local node's pod) is closed (see the module comment).
   */
  isolateFrom?: string;
  log: (line: string) => void;
}

interface Listener {
  /** A ClusterIP's listener (private to the cluster) or a LoadBalancer address's. */
  clusterIP: boolean;
  server: Server;
  sockets: Set<Socket>;
  namespace: string;
  service: string;
  port: V1ServicePort;
  next: number;
}

type Target = { namespace: string; service: string; port: V1ServicePort; clusterIP: boolean };

const isLoopback = (ip: string | undefined) => Boolean(ip?.startsWith('127.'));

const podReady = (pod: V1Pod) =>
  pod.status?.phase === 'Running' &&
  Boolean(pod.status.podIP) &&
  !pod.metadata?.deletionTimestamp &&
  Boolean(pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** Serves Services on their loopback addresses. */
export class ServiceProxy {
  readonly services: ResourceInformer<V1Service>;
  readonly slices: ResourceInformer<EndpointSlice>;
  private readonly listeners = new Map<string, Listener>();
  private readonly lbPool: AddressPool;
  private readonly reconciler: Reconciler;
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly options: ServiceProxyOptions) {
    this.lbPool = new AddressPool(options.loadBalancerPrefix ?? DEFAULT_ADDRESS_RANGES.loadBalancers);
    this.services = new ResourceInformer(options.kc, RESOURCES.Service);
    this.slices = new ResourceInformer<EndpointSlice>(options.kc, ENDPOINT_SLICE_KIND);
    this.reconciler = new Reconciler('services', () => this.pass(), 5000, options.log);
  }

  /** Starts watching Services (pods come from the pod controller) and listening. */
  async start(): Promise<void> {
    const streams = [
      this.services.events$,
      this.slices.events$,
      this.options.podEvents.events$,
    ] as Observable<unknown>[];
    for (const events$ of streams) this.subscriptions.push(events$.subscribe(() => this.reconciler.trigger()));
    await Promise.all([this.services.start(), this.slices.start()]);
    this.reconciler.start();
  }

  /** Closes every listener and every proxied connection. */
  async stop(): Promise<void> {
    await this.reconciler.stop();
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await Promise.all([this.services.stop(), this.slices.stop()]);
    await Promise.all([...this.listeners.keys()].map((key) => this.close(key)));
  }

  /** Ready endpoints of a Service port now: "ip:port" strings. */
  endpoints(namespace: string, serviceName: string, port: V1ServicePort): string[] {
    const service = this.services.get(serviceName, namespace);
    const selector = service?.spec?.selector;
    if (!selector || !Object.keys(selector).length) {
      const slices = this.slices
        .list(namespace)
        .filter((slice) => slice.metadata?.labels?.['kubernetes.io/service-name'] === serviceName);
      const found = sliceEndpoints(slices, port);
      if (!found.length && namespace === 'default' && serviceName === 'kubernetes' && this.options.apiServer)
        return [this.options.apiServer];
      return found;
    }
    const matches = (pod: V1Pod) =>
      Object.entries(selector).every(([key, value]) => pod.metadata?.labels?.[key] === value);
    const result: string[] = [];
    for (const pod of this.options.pods()) {
      if (pod.metadata?.namespace !== namespace || !matches(pod) || !podReady(pod)) continue;
      const target = targetPortOf(pod, port);
      if (target) result.push(`${pod.status?.podIP}:${target}`);
    }
    return result.sort();
  }

  private async pass(): Promise<void> {
    const wanted = new Map<string, Target>();
    for (const service of this.services.list()) {
      const namespace = service.metadata?.namespace ?? 'default';
      const name = service.metadata?.name ?? '';
      const clusterIP = service.spec?.clusterIP;
      if (!isLoopback(clusterIP)) continue;
      const addresses = [clusterIP as string];
      if (service.spec?.type === 'LoadBalancer') {
        const lbIP = await this.ensureLoadBalancerAddress(service);
        if (lbIP) addresses.push(lbIP);
      }
      for (const port of service.spec?.ports ?? []) {
        if ((port.protocol ?? 'TCP') !== 'TCP') continue;
        if (!this.endpoints(namespace, name, port).length) continue;
        for (const ip of addresses)
          wanted.set(`${ip}:${port.port}`, { namespace, service: name, port, clusterIP: ip === clusterIP });
      }
    }
    for (const key of this.listeners.keys()) if (!wanted.has(key)) await this.close(key);
    for (const [key, target] of wanted) {
      const existing = this.listeners.get(key);
      if (existing && existing.namespace === target.namespace && existing.service === target.service) {
        existing.port = target.port;
      } else {
        if (existing) await this.close(key);
        await this.listen(key, target).catch((error: unknown) =>
          this.options.log(
            `service ${target.namespace}/${target.service}: cannot listen on ${key}: ${errorMessage(error)}`,
          ),
        );
      }
    }
    for (const service of this.services.list()) {
      if (service.spec?.type !== 'LoadBalancer') this.lbPool.release(service.metadata?.uid ?? '');
    }
  }

  /** The Service's LoadBalancer address, allocated and written to its status when missing. */
  private async ensureLoadBalancerAddress(service: V1Service): Promise<string | undefined> {
    const uid = service.metadata?.uid ?? '';
    const current = service.status?.loadBalancer?.ingress?.[0]?.ip;
    if (current && this.lbPool.contains(current)) {
      this.lbPool.reserve(uid, current);
      return current;
    }
    for (const other of this.services.list()) {
      const ip = other.status?.loadBalancer?.ingress?.[0]?.ip;
      if (ip && other.metadata?.uid) this.lbPool.reserve(other.metadata.uid, ip);
    }
    const ip = this.lbPool.allocate(uid);
    try {
      await kubeRequest(this.options.kc, {
        method: 'PATCH',
        path: objectPath(RESOURCES.Service, service.metadata?.namespace, service.metadata?.name ?? '', 'status'),
        body: { status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } },
      });
      this.options.log(`service ${service.metadata?.namespace}/${service.metadata?.name}: load balancer ${ip}`);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    return ip;
  }

  private listen(key: string, target: Target): Promise<void> {
    const [host = '', portText = ''] = key.split(/:(?=\d+$)/);
    const listener: Listener = { ...target, server: createServer(), sockets: new Set(), next: 0 };
    listener.server.on('connection', (client) => this.accept(listener, client));
    return new Promise((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen(Number(portText), host, () => {
        listener.server.off('error', reject);
        listener.server.on('error', (error) => this.options.log(`listener ${key}: ${errorMessage(error)}`));
        this.listeners.set(key, listener);
        resolve();
      });
    });
  }

  /** Forwards a connection, unless it reaches a ClusterIP from another node's pod (isolateFrom). */
  private accept(listener: Listener, client: Socket): void {
    const own = this.options.isolateFrom;
    if (!own || !listener.clusterIP) {
      this.forward(listener, client);
      return;
    }
    client.pause();
    // A peer may reset while we look it up: without a listener its error would be thrown.
    client.on('error', () => client.destroy());
    const peer = { address: client.remoteAddress ?? '', port: client.remotePort ?? 0 };
    const local = { address: client.localAddress ?? '', port: client.localPort ?? 0 };
    peerRuncRoot(peer, local)
      .catch(() => undefined)
      .then((root) => {
        if (root && resolve(root) !== resolve(own)) {
          this.options.log(
            `service ${listener.namespace}/${listener.service}: closed a connection to ClusterIP ${local.address}:${local.port} from another node's pod (runc root ${root})`,
          );
          client.destroy();
          return;
        }
        this.forward(listener, client);
        client.resume();
      });
  }

  private forward(listener: Listener, client: Socket): void {
    const endpoints = this.endpoints(listener.namespace, listener.service, listener.port);
    if (!endpoints.length) {
      client.destroy();
      return;
    }
    const endpoint = endpoints[listener.next++ % endpoints.length] as string;
    const [host = '', port = ''] = endpoint.split(/:(?=\d+$)/);
    const upstream = connect(Number(port), host);
    listener.sockets.add(client);
    listener.sockets.add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      listener.sockets.delete(client);
      listener.sockets.delete(upstream);
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private async close(key: string): Promise<void> {
    const listener = this.listeners.get(key);
    if (!listener) return;
    this.listeners.delete(key);
    for (const socket of listener.sockets) socket.destroy();
    await new Promise<void>((resolve) => listener.server.close(() => resolve()));
  }
}

/** The pod port a Service port targets: a number, or a named container port of the pod. */
function targetPortOf(pod: V1Pod, port: V1ServicePort): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const container of pod.spec?.containers ?? []) {
    const named = container.ports?.find((p) => p.name === target && (p.protocol ?? 'TCP') === 'TCP');
    if (named) return named.containerPort;
  }
  return undefined;
}

/**
 * The "ip:port" endpoints of a Service port in its EndpointSlices, as kube-proxy reads them:
 * IPv4 slices, the slice port with the Service port's name, endpoints whose ready condition is
 * not false, each endpoint's first address.
 */
export function sliceEndpoints(slices: EndpointSlice[], port: V1ServicePort): string[] {
  const result = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const target = slice.ports?.find(
      (p) => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP'),
    );
    if (target?.port === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      const address = endpoint.addresses?.[0];
      if (address && endpoint.conditions?.ready !== false) result.add(`${address}:${target.port}`);
    }
  }
  return [...result].sort();
}
