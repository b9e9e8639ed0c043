/**
 * What the local node does for a pod like the kubelet and kube-proxy do, against values written
 * down from their code (k8s.io/kubernetes v1.35): the Service variables
 * (pkg/kubelet/envvars/envvars.go FromServices, kubelet_pods.go getServiceEnvVarMap and
 * makeEnvironmentVariables), the EndpointSlice endpoints of a Service without a selector, and the
 * probe loop (pkg/kubelet/prober/worker.go) with httpGet as pkg/probe/http judges it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Container, V1Pod, V1Probe, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSource, containerEnv, serviceEnvironment, serviceVariables } from '../../../src/local/agent/env.js';
import { ContainerProbes, probeOnce, PROBE_USER_AGENT, type ProbeResult } from '../../../src/local/agent/probes.js';
import { sliceEndpoints } from '../../../src/local/agent/services.js';
import { waitFor } from '../../../src/local/processes.js';

const service = (namespace: string, name: string, clusterIP: string, ports: V1Service['spec'] = {}): V1Service => ({
  metadata: { namespace, name },
  spec: { clusterIP, ports: [{ name: 'https', port: 443, protocol: 'TCP' }], ...ports },
});

describe('Service variables', () => {
  it('are those of envvars.FromServices for the kubernetes Service', () => {
    expect(serviceVariables(service('default', 'kubernetes', '127.100.0.1'))).toEqual({
      KUBERNETES_SERVICE_HOST: '127.100.0.1',
      KUBERNETES_SERVICE_PORT: '443',
      KUBERNETES_SERVICE_PORT_HTTPS: '443',
      KUBERNETES_PORT: 'tcp://127.100.0.1:443',
      KUBERNETES_PORT_443_TCP: 'tcp://127.100.0.1:443',
      KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
      KUBERNETES_PORT_443_TCP_PORT: '443',
      KUBERNETES_PORT_443_TCP_ADDR: '127.100.0.1',
    });
  });

  it('name each port, upper-case the name with - as _, and skip headless Services', () => {
    const metrics = service('scribe-system', 'scribe-metrics', '127.100.3.4', {
      ports: [
        { port: 8443, name: 'https' },
        { port: 53, name: 'dns-udp', protocol: 'UDP' },
      ],
    });
    expect(serviceVariables(metrics)).toMatchObject({
      SCRIBE_METRICS_SERVICE_PORT: '8443',
      SCRIBE_METRICS_SERVICE_PORT_DNS_UDP: '53',
      SCRIBE_METRICS_PORT: 'tcp://127.100.3.4:8443',
      SCRIBE_METRICS_PORT_53_UDP: 'udp://127.100.3.4:53',
      SCRIBE_METRICS_PORT_53_UDP_PROTO: 'udp',
    });
    expect(serviceVariables(service('a', 'headless', 'None'))).toEqual({});
  });

  it('come from the kubernetes Service always and from the pod namespace with enableServiceLinks', () => {
    const services = [
      service('default', 'kubernetes', '127.100.0.1'),
      service('default', 'other', '127.100.0.2'),
      service('app', 'db', '127.100.0.3'),
      service('elsewhere', 'db2', '127.100.0.4'),
    ];
    const linked = serviceEnvironment(services, 'app');
    expect(linked.KUBERNETES_SERVICE_HOST).toBe('127.100.0.1');
    expect(linked.DB_SERVICE_HOST).toBe('127.100.0.3');
    expect(linked.OTHER_SERVICE_HOST).toBeUndefined();
    expect(linked.DB2_SERVICE_HOST).toBeUndefined();
    const unlinked = serviceEnvironment(services, 'app', false);
    expect(Object.keys(unlinked).filter((k) => k.endsWith('_SERVICE_HOST'))).toEqual(['KUBERNETES_SERVICE_HOST']);
    // A Service named kubernetes in the pod's namespace wins (the map is keyed by name).
    const shadowed = serviceEnvironment([...services, service('app', 'kubernetes', '127.100.0.9')], 'app');
    expect(shadowed.KUBERNETES_SERVICE_HOST).toBe('127.100.0.9');
  });

  it('lose to the container’s own variables and can be named in $(VAR)', async () => {
    const pod: V1Pod = { metadata: { name: 'p', namespace: 'app' }, spec: { containers: [] } };
    const container: V1Container = {
      name: 'c',
      env: [
        { name: 'KUBERNETES_SERVICE_PORT', value: '6443' },
        { name: 'API', value: 'https://$(KUBERNETES_SERVICE_HOST)' },
      ],
    };
    const env = await containerEnv(
      pod,
      container,
      new ConfigSource(undefined as never, 'app'),
      { podIP: '127.1.0.5', nodeName: 'n', hostIP: '127.0.0.1' },
      serviceEnvironment([service('default', 'kubernetes', '127.100.0.1')], 'app'),
    );
    expect(env).toMatchObject({
      KUBERNETES_SERVICE_HOST: '127.100.0.1',
      KUBERNETES_SERVICE_PORT: '6443',
      API: 'https://127.100.0.1',
      POD_IP: '127.1.0.5',
    });
  });
});

describe('EndpointSlice endpoints', () => {
  it('are the ready IPv4 addresses at the slice port named as the Service port', () => {
    const slices = [
      {
        addressType: 'IPv4',
        ports: [{ name: 'https', port: 41234, protocol: 'TCP' }],
        endpoints: [
          { addresses: ['127.0.0.1'], conditions: { ready: true } },
          { addresses: ['127.0.0.2'], conditions: { ready: false } },
          { addresses: ['127.0.0.3'], conditions: {} },
        ],
      },
      { addressType: 'IPv6', ports: [{ name: 'https', port: 1 }], endpoints: [{ addresses: ['::1'] }] },
      { addressType: 'IPv4', ports: [{ name: 'other', port: 2 }], endpoints: [{ addresses: ['127.0.0.4'] }] },
    ];
    expect(sliceEndpoints(slices, { name: 'https', port: 443 })).toEqual(['127.0.0.1:41234', '127.0.0.3:41234']);
  });
});

describe('probes', () => {
  let server: Server;
  let port = 0;
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      const status = Number(req.url?.slice(1)) || 200;
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const container: V1Container = { name: 'c', ports: [{ name: 'probes', containerPort: 0 }] };
  const get = (path: string, p: number | string = port): V1Probe => ({ httpGet: { path, port: p as never } });

  it('httpGet: 200–399 succeed, other statuses and refused connections fail; named ports resolve', async () => {
    const named = { ...container, ports: [{ name: 'probes', containerPort: port }] };
    expect(await probeOnce(get('/200'), container, '127.0.0.1')).toBe('success');
    expect(await probeOnce(get('/302'), container, '127.0.0.1')).toBe('success');
    expect(await probeOnce(get('/400'), container, '127.0.0.1')).toBe('failure');
    expect(await probeOnce(get('/500'), container, '127.0.0.1')).toBe('failure');
    expect(await probeOnce(get('/200', 'probes'), named, '127.0.0.1')).toBe('success');
    expect(await probeOnce(get('/200', 'nope'), named, '127.0.0.1')).toBe('failure');
    expect(await probeOnce(get('/200', 1), container, '127.0.0.1')).toBe('failure');
    expect(seen.at(-1)?.['user-agent']).toBe(PROBE_USER_AGENT);
  });

  /** A probe loop over scripted results; returns what it reported. */
  async function script(spec: V1Container, results: Record<string, ProbeResult[]>, until: (r: string[]) => boolean) {
    const reported: string[] = [];
    const probes = new ContainerProbes(
      spec,
      {
        ready: (ready) => reported.push(`ready=${ready}`),
        started: () => reported.push('started'),
        unhealthy: (kind) => reported.push(`unhealthy ${kind}`),
      },
      async (probe) => {
        const kind =
          probe === spec.readinessProbe ? 'readiness' : probe === spec.livenessProbe ? 'liveness' : 'startup';
        const next = results[kind]?.shift() ?? 'success';
        reported.push(`${kind}:${next}`);
        return next;
      },
    );
    probes.start();
    await waitFor('the scripted probes', () => until(reported), { timeoutMs: 5000, intervalMs: 5 });
    probes.stop();
    return reported;
  }
  // periodSeconds 0 makes the loop tick as fast as timers allow (the kubelet's minimum is 1 s).
  const fast = (extra: V1Probe = {}): V1Probe => ({
    periodSeconds: 0,
    failureThreshold: 3,
    successThreshold: 1,
    ...extra,
  });

  it('readiness starts not ready, turns ready on success and unready after failureThreshold failures', async () => {
    const spec = { name: 'c', readinessProbe: fast() };
    const probes = new ContainerProbes(
      spec,
      { ready: () => {}, started: () => {}, unhealthy: () => {} },
      async () => 'success',
    );
    expect(probes.initiallyReady).toBe(false);
    expect(new ContainerProbes({ name: 'c' }, probes as never, async () => 'success').initiallyReady).toBe(true);
    const reported = await script(spec, { readiness: ['success', 'failure', 'failure', 'failure'] }, (r) =>
      r.includes('ready=false'),
    );
    // (The loop may go on probing after the condition was seen: look up to the first unready.)
    const upTo = reported.slice(0, reported.indexOf('ready=false') + 1);
    expect(upTo.filter((r) => r.startsWith('ready='))).toEqual(['ready=true', 'ready=false']);
    expect(upTo.slice(-5)).toEqual([
      'ready=true',
      'readiness:failure',
      'readiness:failure',
      'readiness:failure',
      'ready=false',
    ]);
  });

  it('liveness reports unhealthy after failureThreshold failures in a row, then holds', async () => {
    const spec = { name: 'c', livenessProbe: fast() };
    const reported = await script(
      spec,
      { liveness: ['failure', 'failure', 'success', 'failure', 'failure', 'failure', 'failure'] },
      (r) => r.includes('unhealthy liveness'),
    );
    expect(reported.slice(0, reported.indexOf('unhealthy liveness') + 1)).toEqual([
      'liveness:failure',
      'liveness:failure',
      'liveness:success',
      'liveness:failure',
      'liveness:failure',
      'liveness:failure',
      'unhealthy liveness',
    ]);
  });

  it('readiness and liveness wait for the startup probe', async () => {
    const spec = { name: 'c', startupProbe: fast(), readinessProbe: fast(), livenessProbe: fast() };
    const reported = await script(spec, { startup: ['failure', 'success'] }, (r) => r.includes('ready=true'));
    expect(reported.indexOf('started')).toBeGreaterThan(0);
    expect(reported.findIndex((r) => r.startsWith('readiness') || r.startsWith('liveness'))).toBeGreaterThan(
      reported.indexOf('started'),
    );
  });

  it('initialDelaySeconds holds every probe back from the container start', async () => {
    let probed = 0;
    const probes = new ContainerProbes(
      { name: 'c', readinessProbe: fast({ initialDelaySeconds: 60 }) },
      { ready: () => {}, started: () => {}, unhealthy: () => {} },
      async () => {
        probed++;
        return 'success';
      },
      Date.now(),
    );
    probes.start();
    await new Promise((resolve) => setImmediate(resolve));
    probes.stop();
    expect(probed).toBe(0);
  });
});
