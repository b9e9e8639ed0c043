/**
 * Container probes as the kubelet runs them (pkg/kubelet/prober/worker.go, prober.go and
 * pkg/probe/http, tcp): one loop per probe and container run that probes at the container's start
 * and then every periodSeconds, skips probing until initialDelaySeconds have passed since the
 * container started, and runs readiness and liveness only once the startup probe (if any) has
 * succeeded. A result counts once it repeats successThreshold (success) or failureThreshold
 * (failure) times in a row. Initial results: readiness Failure (not ready until a probe says so),
 * liveness Success, startup Unknown. A liveness or startup failure puts the loop on hold until
 * the next container run (the caller kills the container, which restarts per restartPolicy).
 *
 * httpGet: GET scheme://host:port/path (host: the pod's IP unless set; port: a number or a named
 * container port), the probe's headers, User-Agent kube-probe/<version>, no certificate check for
 * HTTPS; 200–399 is success, anything else (or a timeout after timeoutSeconds) failure. tcpSocket:
 * a connection that opens within timeoutSeconds is success.
 *
 * Departures: exec and grpc probes are not run here (no exec into a runc container from the
 * agent); their result is Success, so a container with one is ready once started. Redirects are
 * not followed (the kubelet follows those to the same host); a 3xx is a success either way.
 */
import type { V1Container, V1Probe } from '@kubernetes/client-node';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

/** A probe's outcome. */
export type ProbeResult = 'success' | 'failure';

/** The User-Agent the kubelet's HTTP prober sends (the version the control plane is pinned at). */
export const PROBE_USER_AGENT = 'kube-probe/1.35';

/** The container port a probe names: a number, a numeric string, or a named port of the container. */
export function probePort(port: number | string | undefined, container: V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** Runs `probe` once against a container of a pod at `podIP`. */
export async function probeOnce(probe: V1Probe, container: V1Container, podIP: string): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const get = probe.httpGet;
    const port = probePort(get.port as number | string, container);
    if (port === undefined) return 'failure';
    const https = get.scheme === 'HTTPS';
    const path = get.path ? (get.path.startsWith('/') ? get.path : `/${get.path}`) : '/';
    const headers: Record<string, string> = { 'user-agent': PROBE_USER_AGENT, accept: '*/*' };
    for (const header of get.httpHeaders ?? []) headers[header.name.toLowerCase()] = header.value;
    const status = await new Promise<number>((resolve) => {
      const options = { host: get.host || podIP, port, path, method: 'GET', headers, timeout: timeoutMs };
      const req = https
        ? httpsRequest({ ...options, rejectUnauthorized: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
        : httpRequest(options, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end();
    });
    return status >= 200 && status < 400 ? 'success' : 'failure';
  }
  if (probe.tcpSocket) {
    const port = probePort(probe.tcpSocket.port as number | string, container);
    if (port === undefined) return 'failure';
    return new Promise<ProbeResult>((resolve) => {
      const socket = connect({ host: probe.tcpSocket?.host || podIP, port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve('success');
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve('failure');
      });
      socket.once('error', () => resolve('failure'));
    });
  }
  return 'success';
}

/** What the probes of one container run report to the pod worker. */
export interface ProbeEvents {
  /** The container's readiness (status.containerStatuses[].ready) changed. */
  ready(ready: boolean): void;
  /** The startup probe succeeded (status.containerStatuses[].started). */
  started(): void;
  /** A liveness or startup probe failed failureThreshold times: the container must be killed. */
  unhealthy(kind: 'liveness' | 'startup', message: string): void;
}

type Runner = (probe: V1Probe) => Promise<ProbeResult>;

/**
 * The probes of one container run. `startedAt` is when the container started (initialDelaySeconds
 * counts from it); stop() ends every loop. `run` defaults to probeOnce against the pod's IP.
 */
export class ContainerProbes {
  private stopped = false;
  private hasStarted: boolean;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly container: V1Container,
    private readonly events: ProbeEvents,
    private readonly run: Runner,
    private readonly startedAt: number = Date.now(),
  ) {
    this.hasStarted = !container.startupProbe;
  }

  /** A container with the pod's IP to probe: the loops start at once. */
  static start(container: V1Container, podIP: string, events: ProbeEvents): ContainerProbes {
    const probes = new ContainerProbes(container, events, (probe) => probeOnce(probe, container, podIP));
    probes.start();
    return probes;
  }

  /** Whether the container counts as ready before any readiness result: only without a readiness probe. */
  get initiallyReady(): boolean {
    return !this.container.readinessProbe;
  }

  /** Starts one loop per probe the container has. */
  start(): void {
    if (this.container.startupProbe) this.loop('startup', this.container.startupProbe);
    if (this.container.livenessProbe) this.loop('liveness', this.container.livenessProbe);
    if (this.container.readinessProbe) this.loop('readiness', this.container.readinessProbe);
  }

  /** Ends every loop (the container run is over). */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private loop(kind: 'startup' | 'liveness' | 'readiness', probe: V1Probe): void {
    const periodMs = (probe.periodSeconds ?? 10) * 1000;
    const initialDelayMs = (probe.initialDelaySeconds ?? 0) * 1000;
    const successThreshold = probe.successThreshold ?? 1;
    const failureThreshold = probe.failureThreshold ?? 3;
    let last: ProbeResult | undefined;
    let run = 0;
    let ready = false;
    const tick = async () => {
      if (this.stopped) return;
      // Probe disabled for initialDelaySeconds; other probes wait for the startup probe.
      const due =
        Date.now() - this.startedAt >= initialDelayMs && (kind === 'startup' ? !this.hasStarted : this.hasStarted);
      if (due) {
        const result = await this.run(probe);
        if (this.stopped) return;
        run = result === last ? run + 1 : 1;
        last = result;
        const settled = result === 'failure' ? run >= failureThreshold : run >= successThreshold;
        if (settled) {
          if (kind === 'readiness' && ready !== (result === 'success')) {
            ready = result === 'success';
            this.events.ready(ready);
          }
          if (kind === 'startup' && result === 'success') {
            this.hasStarted = true;
            this.events.started();
            return;
          }
          if (kind !== 'readiness' && result === 'failure') {
            // On hold until the next container run.
            this.events.unhealthy(kind, `${kind === 'liveness' ? 'Liveness' : 'Startup'} probe failed`);
            return;
          }
        }
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void tick();
      }, periodMs);
      this.timers.add(timer);
    };
    void tick();
  }
}
