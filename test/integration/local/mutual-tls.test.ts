/**
 * The local runtime's components authenticate each other with certificates (issue 21): etcd
 * and the node's kubelet endpoint refuse, at the TLS handshake, callers without a certificate of
 * their CA, while the API server, with its own, still reads and writes etcd and still serves
 * pods/log from the node. A control plane of its own (etcd's address and certificates are not
 * shared by the suite's cluster), with controllers (the node's serving certificate comes from the
 * controller-manager's signer; the scheduler binds the pod), and a node agent on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../../src/kube/resources.js';
import { startNodeAgent, type NodeAgent } from '../../../src/local/agent/index.js';
import { startControlPlane, type ControlPlane } from '../../../src/local/control-plane.js';
import { installCrds } from '../../../src/local/crds.js';
import { createCertificateAuthority, issueCertificate, readKeyPair, type KeyPair } from '../../../src/local/pki.js';
import { waitFor } from '../../../src/local/processes.js';

let controlPlane: ControlPlane;
let kc: KubeConfig;
let agent: NodeAgent;
let dataDir: string;
let clusterCa: string;

beforeAll(async () => {
  controlPlane = await startControlPlane({ controllers: true });
  kc = loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath });
  await installCrds(kc); // the node's snapshot controller watches VolumeSnapshots
  clusterCa = readFileSync(controlPlane.caFile, 'utf8');
  dataDir = await mkdtemp(join(tmpdir(), 'scribe-mtls-node-'));
  agent = await startNodeAgent({ kubeconfig: kc, dataDir });
}, 240_000);
afterAll(async () => {
  await agent?.stop();
  await controlPlane?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** The answer to one HTTPS request, or the TLS error code that ended it. */
type Outcome = { status: number; body: string } | { error: string };

/** One request on a fresh connection, trusting `ca`, presenting `client` when given. */
function tlsRequest(url: string, ca: string, client?: KeyPair, body?: object): Promise<Outcome> {
  return new Promise((resolve) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const req = request(
      url,
      {
        agent: false,
        ca,
        ...(client ? { cert: client.cert, key: client.key } : {}),
        method: payload ? 'POST' : 'GET',
        headers: payload ? { 'content-type': 'application/json' } : {},
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end(payload);
  });
}

/** A client certificate with the given subject from a CA the cluster has never seen. */
function foreignClient(commonName: string, organizations: string[] = []): KeyPair {
  const stranger = createCertificateAuthority('not the cluster CA');
  return issueCertificate(stranger, { commonName, organizations, usages: ['client'] });
}

/**
 * How a TLS 1.3 server that demands a client certificate refuses one: its alert (certificate
 * required, unknown CA), or a reset when the client's request, which TLS 1.3 lets it send before
 * the server has checked its certificate, arrives after the server closed. Either way no HTTP
 * answer; the tests beside these show the same request with the right certificate answered.
 */
const REFUSED_AT_TLS = {
  error: expect.stringMatching(/^(ERR_SSL_TLSV1\d?_ALERT_(CERTIFICATE_REQUIRED|UNKNOWN_CA)|ECONNRESET)$/) as unknown,
};

describe('etcd', () => {
  const etcdFiles = () => readKeyPair(join(controlPlane.dir, 'pki'), 'apiserver-etcd-client');

  it('serves only TLS: a plain HTTP request gets no answer', async () => {
    expect(controlPlane.etcd.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const plain = await new Promise<Outcome>((resolve) => {
      const req = httpRequest(
        `${controlPlane.etcd.url.replace(/^https/, 'http')}/health`,
        { timeout: 10_000 },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, body: '' });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
      req.end();
    });
    // etcd closes the connection ("first record does not look like a TLS handshake").
    expect(plain).toEqual({ error: expect.stringMatching(/^(ECONNRESET|ERR_HTTP_\w+|HPE_\w+)$|hang up/) as unknown });
  });

  it('refuses a connection without a client certificate or with one of another CA', async () => {
    const etcdCa = readFileSync(controlPlane.etcd.caFile, 'utf8');
    expect(await tlsRequest(`${controlPlane.etcd.url}/health`, etcdCa)).toEqual(REFUSED_AT_TLS);
    // The cluster CA is not etcd's: even the API server's kubelet client certificate is refused.
    const kubeletClient = readKeyPair(join(controlPlane.dir, 'pki'), 'apiserver-kubelet-client');
    expect(await tlsRequest(`${controlPlane.etcd.url}/health`, etcdCa, kubeletClient)).toEqual(REFUSED_AT_TLS);
    expect(await tlsRequest(`${controlPlane.etcd.url}/health`, etcdCa, foreignClient('root'))).toEqual(REFUSED_AT_TLS);
  });

  it("answers the API server's etcd client certificate, which reads the cluster's data", async () => {
    const etcdCa = readFileSync(controlPlane.etcd.caFile, 'utf8');
    const client = etcdFiles();
    expect(await tlsRequest(`${controlPlane.etcd.url}/health`, etcdCa, client)).toMatchObject({
      status: 200,
      body: expect.stringContaining('"health":"true"') as unknown,
    });
    // etcd's JSON gateway: the key of the `default` Namespace, written through the API server.
    const key = Buffer.from('/registry/namespaces/default').toString('base64');
    const range = await tlsRequest(`${controlPlane.etcd.url}/v3/kv/range`, etcdCa, client, { key, count_only: true });
    expect(range).toMatchObject({ status: 200 });
    expect(JSON.parse((range as { body: string }).body)).toMatchObject({ count: '1' });
  });
});

describe("the node's kubelet endpoint", () => {
  /** https://127.0.0.1:<port> as the Node object gives it to the API server. */
  async function kubeletUrl(): Promise<string> {
    const node = await kubeRequest<{ status?: { daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } } }>(kc, {
      method: 'GET',
      path: `/api/v1/nodes/${agent.nodeName}`,
    });
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
    expect(port).toBeGreaterThan(0);
    return `https://127.0.0.1:${port}`;
  }

  it('serves a certificate of the cluster CA, issued to the node through its signer', async () => {
    const url = await kubeletUrl();
    const certificate = await new Promise<X509Certificate>((resolve, reject) => {
      const req = request(`${url}/healthz`, { agent: false, ca: clusterCa }, () => undefined);
      req.on('socket', (socket) =>
        socket.on('secureConnect', () => {
          const peer = (socket as import('node:tls').TLSSocket).getPeerX509Certificate();
          req.destroy();
          if (peer) resolve(peer);
          else reject(new Error('no peer certificate'));
        }),
      );
      req.on('error', () => undefined);
      req.end();
    });
    expect(certificate.subject).toContain(`CN=system:node:${agent.nodeName}`);
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certificate.verify(new X509Certificate(clusterCa).publicKey)).toBe(true);
  });

  it('refuses a caller without a client certificate or with one of another CA', async () => {
    const url = `${await kubeletUrl()}/containerLogs/default/any/main`;
    expect(await tlsRequest(url, clusterCa)).toEqual(REFUSED_AT_TLS);
    // Same subject as the API server's, another CA.
    const impostor = foreignClient('kube-apiserver-kubelet-client', ['system:masters']);
    expect(await tlsRequest(url, clusterCa, impostor)).toEqual(REFUSED_AT_TLS);
  });

  it("answers the API server's kubelet client certificate", async () => {
    const kubeletClient = readKeyPair(join(controlPlane.dir, 'pki'), 'apiserver-kubelet-client');
    expect(await tlsRequest(`${await kubeletUrl()}/healthz`, clusterCa, kubeletClient)).toEqual({
      status: 200,
      body: 'ok',
    });
  });

  it('still gives `kubectl logs` (pods/log) through the API server, for a pod the scheduler bound', async () => {
    const ns = 'default';
    await waitFor('the default ServiceAccount', async () => {
      await kubeRequest(kc, { method: 'GET', path: `/api/v1/namespaces/${ns}/serviceaccounts/default` });
      return true;
    });
    await kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.Pod, ns),
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'talks' },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 2,
          automountServiceAccountToken: false,
          containers: [{ name: 'main', image: agent.images.mover, command: ['/bin/sh', '-c', 'echo one; echo two'] }],
        },
      },
    });
    await waitFor(
      'pod talks to succeed',
      async () => {
        const pod = await kubeRequest<{ status?: { phase?: string } }>(kc, {
          method: 'GET',
          path: objectPath(RESOURCES.Pod, ns, 'talks'),
        });
        return pod.status?.phase === 'Succeeded';
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    const path = objectPath(RESOURCES.Pod, ns, 'talks', 'log');
    expect(await kubeRequest<string>(kc, { method: 'GET', path, text: true })).toBe('one\ntwo\n');
    expect(await kubeRequest<string>(kc, { method: 'GET', path, query: { tailLines: 1 }, text: true })).toBe('two\n');
  });
});
