/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver and, on request,
 * kube-controller-manager and kube-scheduler, built from their Go modules by scripts/tools.sh.
 * Used by the test suites, `npm run cluster` and the demo. Everything listens on 127.0.0.1 on
 * free ports; stop() leaves no process behind.
 *
 * Who authenticates to whom, as kubeadm sets it up (certificates from pki.ts, in `<dir>/pki`):
 * etcd serves HTTPS to clients and peers and accepts only certificates of its own CA (the API
 * server's etcd client certificate); the API server serves a certificate of the cluster CA,
 * accepts client certificates of that CA (--client-ca-file) besides the admin token and
 * ServiceAccount tokens, and calls the node's kubelet endpoint with its kubelet client
 * certificate, verifying the node's serving certificate against the cluster CA (the node gets it
 * from the controller-manager's signer through a CertificateSigningRequest, as a kubelet with
 * serverTLSBootstrap does); the controller-manager and the scheduler log in with client
 * certificates of their well-known users.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { stringify } from 'yaml';
import {
  createCertificateAuthority,
  issueCertificate,
  readKeyPair,
  writeKeyPair,
  type KeyPair,
  type KeyPairFiles,
} from './pki.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from './processes.js';
import { toolDir } from './tools.js';

/** Options of a local control plane. */
export interface ControlPlaneOptions {
  /** Working directory for data, certificates, logs and the kubeconfig; a temp dir when absent. */
  dir?: string;
  /** Also run kube-controller-manager and kube-scheduler (Jobs, garbage collection, binding). */
  controllers?: boolean;
  /** Progress lines go here. */
  log?: (line: string) => void;
  /** Serve the API server's Go profiles at /debug/pprof (benchmarks profile it); off otherwise. */
  profiling?: boolean;
  /**
   * The API server's audit log, at Metadata level (verb, resource, user, response code; no
   * bodies) for these users only: a JSON line per request in ControlPlane.auditLog. Off otherwise.
   */
  audit?: { users: string[] };
}

/** A running control plane. */
export interface ControlPlane {
  dir: string;
  kubeconfigPath: string;
  server: string;
  adminToken: string;
  /** The cluster CA (PEM file): it signs the API server's serving and client certificates. */
  caFile: string;
  /** etcd's client URL (https) and the files of its CA and of the API server's client certificate. */
  etcd: { url: string; caFile: string } & KeyPairFiles;
  /** The Services' ClusterIP range (a loopback /16 of this control plane's own). */
  serviceRange: string;
  /** Paths of each component's log file, by component name. */
  logs: Record<string, string>;
  /** The audit log (JSON lines, audit.k8s.io/v1 Events) when options.audit was given. */
  auditLog?: string;
  /** Stops the API server process and starts it again on the same port and data. */
  restartApiServer(): Promise<void>;
  /** Stops the API server (an outage that lasts until startApiServer()); resolves once it has exited. */
  stopApiServer(): Promise<void>;
  /** Starts a stopped API server again on the same port and data; resolves once it is ready. */
  startApiServer(): Promise<void>;
  /** Stops etcd and starts it again on the same data. */
  restartEtcd(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * ClusterIPs come from a loopback range, so the local node agent can serve each Service on its
 * own ClusterIP on this machine (Linux routes all of 127.0.0.0/8 to lo). Each control plane gets
 * a /16 of its own among 127.100.0.0 – 127.199.255.255, one whose first address (the
 * `kubernetes` Service, port 443) nothing listens on yet: control planes running side by side
 * on one machine (test files, the demo) never hand out the same ClusterIP, and each node's pods
 * reach their own API server through their own `kubernetes` Service.
 */
async function chooseServiceRange(): Promise<string> {
  const candidates = Array.from({ length: 100 }, (_, i) => 100 + i).sort(() => Math.random() - 0.5);
  for (const octet of candidates) {
    if (await canListen(`127.${octet}.0.1`, 443)) return `127.${octet}.0.0/16`;
  }
  throw new Error('no free service range: 127.100-199.0.1:443 are all in use');
}

/** True when a TCP listener on host:port could be opened now. */
function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** Starts etcd and kube-apiserver (and optionally controllers) and waits until /readyz is ok. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? (() => {});
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'scribe-cluster-')));
  const ownsDir = !options.dir;
  const pki = join(dir, 'pki');
  await mkdir(pki, { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });

  const [etcdBin, kubeBin] = await Promise.all([toolDir('etcd'), toolDir('kubernetes')]);
  const [etcdPort, etcdPeerPort, apiPort, cmPort, schedPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);

  const serviceRange = await chooseServiceRange();
  const adminToken = randomBytes(24).toString('hex');
  await writeFile(join(pki, 'tokens.csv'), `${adminToken},scribe-admin,scribe-admin,"system:masters"\n`, {
    mode: 0o600,
  });
  // The service-account key signs and verifies the tokens pods and TokenRequest get.
  const serviceAccountKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(pki, 'sa.key'), serviceAccountKey.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  await writeFile(join(pki, 'sa.pub'), serviceAccountKey.publicKey.export({ type: 'spki', format: 'pem' }));

  const certs = makeCertificates(pki, serviceRange);

  const logs: Record<string, string> = {};
  const processes = new Map<string, ManagedProcess>();
  const launch = (name: string, binary: string, args: string[]) => {
    logs[name] = join(dir, 'logs', `${name}.log`);
    const child = startProcess(name, binary, args, logs[name]);
    processes.set(name, child);
    return child;
  };

  const etcdUrl = `https://127.0.0.1:${etcdPort}`;
  const etcdPeerUrl = `https://127.0.0.1:${etcdPeerPort}`;
  const startEtcd = () =>
    launch('etcd', join(etcdBin, 'etcd'), [
      '--name=scribe',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=scribe=${etcdPeerUrl}`,
      // Clients and peers alike need a certificate of etcd's own CA (the API server's).
      '--client-cert-auth',
      `--trusted-ca-file=${certs.etcdCaFile}`,
      `--cert-file=${certs.etcdServer.certFile}`,
      `--key-file=${certs.etcdServer.keyFile}`,
      '--peer-client-cert-auth',
      `--peer-trusted-ca-file=${certs.etcdCaFile}`,
      `--peer-cert-file=${certs.etcdPeer.certFile}`,
      `--peer-key-file=${certs.etcdPeer.keyFile}`,
      '--unsafe-no-fsync', // test data: speed over durability
      '--log-level=warn',
    ]);
  const etcdClient = new Agent({
    ca: certs.pem.etcdCa,
    cert: certs.pem.apiserverEtcdClient.cert,
    key: certs.pem.apiserverEtcdClient.key,
  });
  const etcdHealthy = async () => (await httpsGet(`${etcdUrl}/health`, etcdClient)).status === 200;

  const server = `https://127.0.0.1:${apiPort}`;
  const auditLog = options.audit ? join(dir, 'logs', 'audit.log') : undefined;
  const auditArgs: string[] = [];
  if (options.audit && auditLog) {
    // Metadata for the users asked for; nothing for anyone else (the first matching rule wins).
    const policy = {
      apiVersion: 'audit.k8s.io/v1',
      kind: 'Policy',
      omitStages: ['RequestReceived'],
      rules: [{ level: 'Metadata', users: options.audit.users }, { level: 'None' }],
    };
    await writeFile(join(pki, 'audit-policy.json'), JSON.stringify(policy));
    auditArgs.push(
      `--audit-policy-file=${join(pki, 'audit-policy.json')}`,
      `--audit-log-path=${auditLog}`,
      '--audit-log-format=json',
      '--audit-log-mode=blocking',
    );
  }
  const startApiServer = () =>
    launch('kube-apiserver', join(kubeBin, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      `--etcd-cafile=${certs.etcdCaFile}`,
      `--etcd-certfile=${certs.apiserverEtcdClient.certFile}`,
      `--etcd-keyfile=${certs.apiserverEtcdClient.keyFile}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${certs.apiserver.certFile}`,
      `--tls-private-key-file=${certs.apiserver.keyFile}`,
      // Client certificates of the cluster CA (controllers) besides the admin token.
      `--client-ca-file=${certs.caFile}`,
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      `--service-cluster-ip-range=${serviceRange}`,
      '--allow-privileged=true',
      // The local node agent serves container logs on the Node's InternalIP (127.0.0.1), with a
      // serving certificate of the cluster CA, to callers with a client certificate of it.
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      `--kubelet-certificate-authority=${certs.caFile}`,
      `--kubelet-client-certificate=${certs.apiserverKubeletClient.certFile}`,
      `--kubelet-client-key=${certs.apiserverKubeletClient.keyFile}`,
      `--profiling=${options.profiling === true}`,
      ...auditArgs,
      '--v=1',
    ]);

  const stopAll = async () => {
    // Reverse start order: clients first, etcd last.
    for (const child of [...processes.values()].reverse()) await child.stop();
  };

  try {
    log(`starting etcd on ${etcdUrl}`);
    startEtcd();
    await waitFor('etcd /health', etcdHealthy, { timeoutMs: 30_000 });

    log(`starting kube-apiserver on ${server}`);
    startApiServer();
    const apiClient = new Agent({ ca: certs.pem.ca });
    const readyz = async () => (await httpsGet(`${server}/readyz`, apiClient, adminToken)).status === 200;
    await waitFor(`kube-apiserver /readyz (log: ${logs['kube-apiserver']})`, readyz, {
      timeoutMs: 90_000,
      intervalMs: 250,
    });

    const caData = Buffer.from(certs.pem.ca);
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(server, caData, adminToken), { mode: 0o600 });

    if (options.controllers) {
      log('starting kube-controller-manager and kube-scheduler');
      const controllerManagerKubeconfig = join(pki, 'controller-manager.kubeconfig');
      const schedulerKubeconfig = join(pki, 'scheduler.kubeconfig');
      await writeFile(controllerManagerKubeconfig, kubeconfigYaml(server, caData, certs.pem.controllerManager), {
        mode: 0o600,
      });
      await writeFile(schedulerKubeconfig, kubeconfigYaml(server, caData, certs.pem.scheduler), { mode: 0o600 });
      // What both components take alike: their kubeconfig for everything, a loopback port and
      // their own serving certificate, no leader election (one of each).
      const componentFlags = (kubeconfig: string, port: number, certDir: string) => [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${join(pki, certDir)}`,
        '--leader-elect=false',
        '--v=1',
      ];
      launch('kube-controller-manager', join(kubeBin, 'kube-controller-manager'), [
        ...componentFlags(controllerManagerKubeconfig, cmPort, 'controller-manager'),
        // Signs approved CertificateSigningRequests with the cluster CA: the node's serving certificate.
        `--cluster-signing-cert-file=${certs.caFile}`,
        `--cluster-signing-key-file=${certs.caKeyFile}`,
        `--service-account-private-key-file=${join(pki, 'sa.key')}`,
        `--root-ca-file=${certs.caFile}`,
        '--use-service-account-credentials=true',
        `--service-cluster-ip-range=${serviceRange}`,
        '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
      ]);
      launch(
        'kube-scheduler',
        join(kubeBin, 'kube-scheduler'),
        componentFlags(schedulerKubeconfig, schedPort, 'scheduler'),
      );
      // Their serving certificates are their own self-signed ones (--cert-dir): not verified here.
      const healthz = (port: number) => async () =>
        (await httpsGet(`https://127.0.0.1:${port}/healthz`, insecureAgent)).status === 200;
      await waitFor('kube-controller-manager /healthz', healthz(cmPort), { timeoutMs: 60_000, intervalMs: 250 });
      await waitFor('kube-scheduler /healthz', healthz(schedPort), { timeoutMs: 60_000, intervalMs: 250 });
    }

    const stopApiServer = async () => {
      await processes.get('kube-apiserver')?.stop();
    };
    const startApiServerAgain = async () => {
      startApiServer();
      await waitFor('kube-apiserver /readyz after restart', readyz, { timeoutMs: 90_000, intervalMs: 250 });
    };
    return {
      dir,
      kubeconfigPath,
      server,
      adminToken,
      caFile: certs.caFile,
      etcd: { url: etcdUrl, caFile: certs.etcdCaFile, ...certs.apiserverEtcdClient },
      serviceRange,
      logs,
      ...(auditLog ? { auditLog } : {}),
      async restartApiServer() {
        await stopApiServer();
        await startApiServerAgain();
      },
      stopApiServer,
      startApiServer: startApiServerAgain,
      async restartEtcd() {
        await processes.get('etcd')?.stop();
        startEtcd();
        await waitFor('etcd /health after restart', etcdHealthy, { timeoutMs: 30_000 });
      },
      async stop() {
        await stopAll();
        if (ownsDir && !process.env.SCRIBE_KEEP_CLUSTER_DIR) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** A kubeconfig with one context, `scribe-local`, for a bearer token or a client certificate. */
export function kubeconfigYaml(server: string, caData: Buffer, credentials: string | KeyPair): string {
  const user =
    typeof credentials === 'string'
      ? { token: credentials }
      : {
          'client-certificate-data': Buffer.from(credentials.cert).toString('base64'),
          'client-key-data': Buffer.from(credentials.key).toString('base64'),
        };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'scribe-local', cluster: { server, 'certificate-authority-data': caData.toString('base64') } }],
    users: [{ name: 'scribe-admin', user }],
    contexts: [{ name: 'scribe-local', context: { cluster: 'scribe-local', user: 'scribe-admin' } }],
    'current-context': 'scribe-local',
  });
}

/** The files and PEM texts of every certificate of a control plane. */
interface ControlPlaneCertificates {
  caFile: string;
  caKeyFile: string;
  etcdCaFile: string;
  etcdServer: KeyPairFiles;
  etcdPeer: KeyPairFiles;
  apiserverEtcdClient: KeyPairFiles;
  apiserver: KeyPairFiles;
  apiserverKubeletClient: KeyPairFiles;
  pem: Record<'ca' | 'etcdCa', string> & Record<'apiserverEtcdClient' | 'controllerManager' | 'scheduler', KeyPair>;
}

/**
 * The control plane's certificates in `pki`, kubeadm's layout: a cluster CA and an etcd CA (kept
 * when the directory already has them, so clients that trust them keep working), and leaf
 * certificates issued anew on every start (the Service range, hence the API server's
 * `kubernetes` Service address, is chosen per start). Restarts of a component reuse the files.
 */
function makeCertificates(pki: string, serviceRange: string): ControlPlaneCertificates {
  const authority = (name: string, commonName: string) => {
    const existing = readKeyPair(pki, name);
    if (existing)
      return { pair: existing, files: { certFile: join(pki, `${name}.crt`), keyFile: join(pki, `${name}.key`) } };
    const pair = createCertificateAuthority(commonName);
    return { pair, files: writeKeyPair(pki, name, pair) };
  };
  const ca = authority('ca', 'scribe-local-ca');
  const etcdCa = authority('etcd-ca', 'scribe-local-etcd-ca');
  const loopback = { ips: ['127.0.0.1'], dnsNames: ['localhost'] };
  const leaf = (name: string, signer: KeyPair, options: Parameters<typeof issueCertificate>[1]) => {
    const pair = issueCertificate(signer, options);
    return { pair, files: writeKeyPair(pki, name, pair) };
  };
  // Pods reach the API server through the `kubernetes` Service: its first address and DNS names.
  const serviceIp = serviceRange.replace(/\.0\/16$/, '.1');
  // apiserver.crt carries the CA after the leaf: the chain it serves, and a CA bundle for
  // scripts that read it as the API server's CA, as they did when it was self-signed.
  const apiserverPair = issueCertificate(ca.pair, {
    commonName: 'kube-apiserver',
    ips: ['127.0.0.1', serviceIp],
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
    usages: ['server'],
  });
  const apiserver = {
    files: writeKeyPair(pki, 'apiserver', { ...apiserverPair, cert: apiserverPair.cert + ca.pair.cert }),
  };
  // The user the API server is on the node's endpoint; system:masters as kubeadm's once was.
  const kubeletClient = leaf('apiserver-kubelet-client', ca.pair, {
    commonName: 'kube-apiserver-kubelet-client',
    organizations: ['system:masters'],
    usages: ['client'],
  });
  // The bootstrap RBAC roles system:kube-controller-manager and system:kube-scheduler are for these users.
  const controllerManager = issueCertificate(ca.pair, {
    commonName: 'system:kube-controller-manager',
    usages: ['client'],
  });
  const scheduler = issueCertificate(ca.pair, { commonName: 'system:kube-scheduler', usages: ['client'] });
  // etcd members present their certificates both ways (the gRPC gateway dials its own member).
  const etcdServer = leaf('etcd-server', etcdCa.pair, {
    commonName: 'scribe-etcd',
    ...loopback,
    usages: ['server', 'client'],
  });
  const etcdPeer = leaf('etcd-peer', etcdCa.pair, {
    commonName: 'scribe-etcd',
    ...loopback,
    usages: ['server', 'client'],
  });
  const etcdClient = leaf('apiserver-etcd-client', etcdCa.pair, {
    commonName: 'kube-apiserver-etcd-client',
    usages: ['client'],
  });
  return {
    caFile: ca.files.certFile,
    caKeyFile: ca.files.keyFile,
    etcdCaFile: etcdCa.files.certFile,
    etcdServer: etcdServer.files,
    etcdPeer: etcdPeer.files,
    apiserverEtcdClient: etcdClient.files,
    apiserver: apiserver.files,
    apiserverKubeletClient: kubeletClient.files,
    pem: {
      ca: ca.pair.cert,
      etcdCa: etcdCa.pair.cert,
      apiserverEtcdClient: etcdClient.pair,
      controllerManager,
      scheduler,
    },
  };
}

/** For the controllers' health endpoints only, whose serving certificates are self-signed. */
const insecureAgent = new Agent({ rejectUnauthorized: false });

/** GET `url` through `agent` (its CA and client certificate), with a bearer token if given. */
function httpsGet(url: string, agent: Agent, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
