/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver and, on request,
 * kube-controller-manager and kube-scheduler, built from their Go modules by scripts/tools.sh.
 * Used by the test suites, `npm run cluster` and the demo. Everything listens on 127.0.0.1 on
 * free ports; stop() leaves no process behind.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { stringify } from 'yaml';
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
  /** The Services' ClusterIP range (a loopback /16 of this control plane's own). */
  serviceRange: string;
  /** Paths of each component's log file, by component name. */
  logs: Record<string, string>;
  /** The audit log (JSON lines, audit.k8s.io/v1 Events) when options.audit was given. */
  auditLog?: string;
  /** Stops the API server process and starts it again on the same port and data. */
  restartApiServer(): Promise<void>;
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

  const logs: Record<string, string> = {};
  const processes = new Map<string, ManagedProcess>();
  const launch = (name: string, binary: string, args: string[]) => {
    logs[name] = join(dir, 'logs', `${name}.log`);
    const child = startProcess(name, binary, args, logs[name]);
    processes.set(name, child);
    return child;
  };

  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const startEtcd = () =>
    launch('etcd', join(etcdBin, 'etcd'), [
      '--name=scribe',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=scribe=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync', // test data: speed over durability
      '--log-level=warn',
    ]);
  const etcdHealthy = async () => (await fetch(`${etcdUrl}/health`)).ok;

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
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${pki}`, // self-signed serving certificate, generated on first start
      `--token-auth-file=${join(pki, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      `--service-cluster-ip-range=${serviceRange}`,
      '--allow-privileged=true',
      // The local node agent serves container logs on the Node's InternalIP (127.0.0.1).
      '--kubelet-preferred-address-types=InternalIP,Hostname',
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
    const readyz = async () => (await apiGet(server, adminToken, '/readyz')).status === 200;
    await waitFor(`kube-apiserver /readyz (log: ${logs['kube-apiserver']})`, readyz, {
      timeoutMs: 90_000,
      intervalMs: 250,
    });

    const caData = await readFile(join(pki, 'apiserver.crt'));
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(server, caData, adminToken), { mode: 0o600 });

    if (options.controllers) {
      log('starting kube-controller-manager and kube-scheduler');
      launch('kube-controller-manager', join(kubeBin, 'kube-controller-manager'), [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${cmPort}`,
        `--cert-dir=${join(pki, 'controller-manager')}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${join(pki, 'sa.key')}`,
        `--root-ca-file=${join(pki, 'apiserver.crt')}`,
        '--use-service-account-credentials=true',
        `--service-cluster-ip-range=${serviceRange}`,
        '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
        '--v=1',
      ]);
      launch('kube-scheduler', join(kubeBin, 'kube-scheduler'), [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${schedPort}`,
        `--cert-dir=${join(pki, 'scheduler')}`,
        '--leader-elect=false',
        '--v=1',
      ]);
      const healthz = (port: number) => async () =>
        (await apiGet(`https://127.0.0.1:${port}`, adminToken, '/healthz')).status === 200;
      await waitFor('kube-controller-manager /healthz', healthz(cmPort), { timeoutMs: 60_000, intervalMs: 250 });
      await waitFor('kube-scheduler /healthz', healthz(schedPort), { timeoutMs: 60_000, intervalMs: 250 });
    }

    return {
      dir,
      kubeconfigPath,
      server,
      adminToken,
      serviceRange,
      logs,
      ...(auditLog ? { auditLog } : {}),
      async restartApiServer() {
        await processes.get('kube-apiserver')?.stop();
        startApiServer();
        await waitFor('kube-apiserver /readyz after restart', readyz, { timeoutMs: 90_000, intervalMs: 250 });
      },
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

/** A kubeconfig with one context, `scribe-local`, for the admin token. */
export function kubeconfigYaml(server: string, caData: Buffer, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'scribe-local', cluster: { server, 'certificate-authority-data': caData.toString('base64') } }],
    users: [{ name: 'scribe-admin', user: { token } }],
    contexts: [{ name: 'scribe-local', context: { cluster: 'scribe-local', user: 'scribe-admin' } }],
    'current-context': 'scribe-local',
  });
}

const insecureAgent = new Agent({ rejectUnauthorized: false });

/** GET with a bearer token, ignoring the self-signed certificate (used only for health probes). */
function apiGet(server: string, token: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      { agent: insecureAgent, headers: { authorization: `Bearer ${token}` }, timeout: 5000 },
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
