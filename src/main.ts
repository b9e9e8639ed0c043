/**
 * The operator process: configuration, the probe and metrics servers, leader election, the
 * controller, and graceful shutdown. `scribe operator` (bin/scribe) calls main().
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { Controller } from './controller/controller.js';
import { loadKubeConfig } from './kube/config.js';
import { LEASE_DEFAULTS, LeaderElector } from './leader/elector.js';
import { holderIdentity } from './leader/identity.js';
import { rootLogger } from './log.js';
import { ScribeMetrics } from './metrics/registry.js';
import { MOVERS, type MoverDescriptor } from './movers/index.js';
import { VolumePopulator } from './populator/populator.js';
import { parseBindAddress } from './server/address.js';
import { apiAccessReview, Authenticator, RequestAuthorizer } from './server/auth.js';
import { startHealthServer } from './server/health-server.js';
import { DEBUG_PATH, METRICS_PATH, startMetricsServer, type RunningServer } from './server/metrics-server.js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ScribeCr } from '../machines/api.js';
import { STALL_AFTER_MS } from '../machines/backoff.js';
import { debugHandler } from './inspect/debug.js';
import { readObject } from './kube/objects.js';
import { kubeRequest } from './kube/rest.js';
import { collectionPath, RESOURCES } from './kube/resources.js';
import { readCertDir, servingCert } from './server/tls.js';

/** Options of `scribe operator`. */
export interface OperatorOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId?: string;
  /** Seconds a standby waits after the leader's last renewal before taking over (client-go's LeaseDuration). */
  leaderElectionLeaseDuration?: number;
  /** Seconds the leader keeps trying to renew before it gives up leading (RenewDeadline). */
  leaderElectionRenewDeadline?: number;
  /** Seconds between tries to acquire or renew (RetryPeriod). */
  leaderElectionRetryPeriod?: number;
  /** HOST:PORT of the HTTPS metrics server; "0" disables it. */
  metricsBindAddress?: string;
  /** HOST:PORT of the plain-HTTP /healthz and /readyz server; "0" disables it. */
  healthProbeBindAddress?: string;
  metricsDisableAuth?: boolean;
  /** Directory with tls.crt and tls.key; a self-signed certificate is made when absent. */
  metricsCertDir?: string;
  /** Serve the /debug pages next to /metrics (needs metrics authentication). */
  debugPages?: boolean;
  /** Seconds a sync may make no progress before it is Stalled (default STALL_AFTER_MS). */
  stallAfter?: number;
  /** Fill PVCs whose dataSourceRef names a ReplicationDestination (docs/populator.md); default true. */
  volumePopulator?: boolean;
  /** The catalog the controller runs (default MOVERS; a test's catalogWith() adds a mover of its own). */
  movers?: readonly MoverDescriptor[];
}

/** Why --debug-pages and --metrics-disable-auth cannot go together. */
export const DEBUG_WITHOUT_AUTH_ERROR =
  '--debug-pages cannot be combined with --metrics-disable-auth: the /debug pages show every CR the caller may get, so they are never served without authentication';

/** A running operator process. */
export interface RunningOperator {
  controller: Controller;
  metricsPort: number | undefined;
  healthPort: number | undefined;
  /** Resolves if leadership is lost: the process must stop acting and exit. */
  lost: Promise<void>;
  /** Stops the controller (reconciles in flight finish), releases the Lease, closes the servers. */
  shutdown(): Promise<void>;
}

/** The Lease's name when --leader-election-id is not given. */
export const DEFAULT_LEASE_NAME = 'scribe-leader-election';

/** A commander parser for a flag of seconds that must be a positive number. */
function positiveSeconds(flag: string): (value: string) => number {
  return (value) => {
    const seconds = Number(value);
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw new InvalidArgumentError(`${flag} must be a positive number of seconds, not "${value}"`);
    return seconds;
  };
}

/** The command line of `scribe operator` (docs/installation.md's flags table is checked against it). */
export function operatorCommand(): Command {
  return new Command('scribe operator')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: in-cluster, then KUBECONFIG)')
    .option('--context <name>', 'kubeconfig context')
    .option('--namespace <name>', 'watch only this namespace (default: all)')
    .option('--leader-elect', 'run as one of several replicas: only the holder of a Lease acts', false)
    .option('--leader-election-namespace <name>', "the Lease's namespace (default: the pod's namespace)")
    .option('--leader-election-id <name>', "the Lease's name", DEFAULT_LEASE_NAME)
    .option(
      '--leader-election-lease-duration <seconds>',
      "how long a standby waits after the leader's last renewal before taking over",
      positiveSeconds('--leader-election-lease-duration'),
      LEASE_DEFAULTS.leaseDurationMs / 1000,
    )
    .option(
      '--leader-election-renew-deadline <seconds>',
      'how long the leader tries to renew before it stops acting (must be shorter than the lease duration)',
      positiveSeconds('--leader-election-renew-deadline'),
      LEASE_DEFAULTS.renewDeadlineMs / 1000,
    )
    .option(
      '--leader-election-retry-period <seconds>',
      'time between tries to acquire or renew the Lease',
      positiveSeconds('--leader-election-retry-period'),
      LEASE_DEFAULTS.retryPeriodMs / 1000,
    )
    .option('--metrics-bind-address <address>', 'HOST:PORT of the HTTPS /metrics server, 0 to disable', '0')
    .option('--health-probe-bind-address <address>', 'HOST:PORT of /healthz and /readyz (HTTP), 0 to disable', '0')
    .option('--metrics-disable-auth', 'serve /metrics without TokenReview/SubjectAccessReview checks', false)
    .option('--metrics-cert-dir <dir>', 'directory with tls.crt and tls.key (default: a self-signed certificate)')
    .option(
      '--stall-after <seconds>',
      'how long a running sync may make no progress before it is flagged Stalled',
      positiveSeconds('--stall-after'),
      STALL_AFTER_MS / 1000,
    )
    .option(
      '--debug-pages',
      'serve the /debug state-chart pages next to /metrics (needs metrics authentication)',
      false,
    )
    .option(
      '--no-volume-populator',
      'do not fill PVCs whose dataSourceRef names a ReplicationDestination (the volume populator is on by default)',
    );
}

/** Parses `args` (the words after `scribe operator`) and runs the operator until SIGTERM or SIGINT. */
export async function main(args: string[]): Promise<void> {
  const command = operatorCommand();
  const options = command.parse(args, { from: 'user' }).opts<OperatorOptions>();
  // A usage error, said before anything starts (startOperator refuses it too).
  if (options.debugPages && options.metricsDisableAuth) command.error(`error: ${DEBUG_WITHOUT_AUTH_ERROR}`);
  const operator = await startOperator(options);
  const signal = await Promise.race([
    new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    }),
    operator.lost.then(() => 'lost'),
  ]);
  rootLogger.info({ signal }, 'shutting down');
  await operator.shutdown();
  // Lost leadership: exit non-zero so the pod restarts and competes again, as controller-runtime does.
  if (signal === 'lost') process.exit(1);
}

/** Starts the servers and, once leading (at once without --leader-elect), the controller. */
export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  if (options.debugPages && options.metricsDisableAuth) throw new Error(DEBUG_WITHOUT_AUTH_ERROR);
  const log = rootLogger;
  const kc = loadKubeConfig(options);
  const metrics = new ScribeMetrics();
  const movers = options.movers ?? MOVERS;
  const controller = new Controller({
    kc,
    metrics,
    movers,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.stallAfter ? { stallAfterMs: options.stallAfter * 1000 } : {}),
  });
  const elector = options.leaderElect
    ? new LeaderElector({
        kc,
        lease: { namespace: leaseNamespace(options), name: options.leaderElectionId ?? DEFAULT_LEASE_NAME },
        identity: holderIdentity(),
        ...(options.leaderElectionLeaseDuration ? { leaseDurationMs: options.leaderElectionLeaseDuration * 1000 } : {}),
        ...(options.leaderElectionRenewDeadline ? { renewDeadlineMs: options.leaderElectionRenewDeadline * 1000 } : {}),
        ...(options.leaderElectionRetryPeriod ? { retryPeriodMs: options.leaderElectionRetryPeriod * 1000 } : {}),
      })
    : undefined;
  let controllerState: 'waiting' | 'starting' | 'running' = 'waiting';
  // A standby is ready (it serves probes and metrics); the leader once its caches are synced.
  const ready = () => controllerState === 'running' || (elector !== undefined && !elector.isLeader);

  const servers: RunningServer[] = [];
  const closeServers = () => Promise.all(servers.splice(0).map((server) => server.close()));
  let metricsPort: number | undefined;
  let healthPort: number | undefined;
  try {
    const healthAddress = parseBindAddress(options.healthProbeBindAddress ?? '0');
    if (healthAddress) {
      const server = await startHealthServer({ address: healthAddress, ready, log });
      servers.push(server);
      healthPort = server.port;
    }
    const metricsAddress = parseBindAddress(options.metricsBindAddress ?? '0');
    if (metricsAddress) {
      // One TokenReview cache for /metrics and /debug: a token is reviewed once for both.
      const authenticator = new Authenticator(kc);
      const authorizer = options.metricsDisableAuth
        ? undefined
        : new RequestAuthorizer(kc, { path: METRICS_PATH, verb: 'get', authenticator });
      const tls = await servingCert(options.metricsCertDir);
      const server = await startMetricsServer({
        registry: metrics.registry,
        address: metricsAddress,
        tls,
        // A mounted Secret is renewed in place (cert-manager): serve the new pair without a restart.
        reloadTls: options.metricsCertDir
          ? { load: () => readCertDir(options.metricsCertDir as string), intervalMs: 60_000 }
          : undefined,
        authorizer,
        debug: options.debugPages
          ? {
              authorizer: new RequestAuthorizer(kc, { path: DEBUG_PATH, verb: 'get', authenticator }),
              accessReview: apiAccessReview(kc),
              handler: debugPages(kc, options.namespace),
            }
          : undefined,
        log,
      });
      servers.push(server);
      metricsPort = server.port;
    }
  } catch (error) {
    await closeServers();
    throw error;
  }

  // The populator reads the controller's caches, so it starts (and acts, when leading) with it.
  const populator =
    options.volumePopulator === false
      ? undefined
      : new VolumePopulator({
          kc,
          claims: controller.cache('PersistentVolumeClaim'),
          destinations: controller.cache('ReplicationDestination'),
          log,
        });
  let shuttingDown = false;
  let started: Promise<void> = Promise.resolve();
  const startController = async () => {
    controllerState = 'starting';
    started = controller.start();
    await started;
    populator?.start();
    controllerState = 'running';
    log.info({ server: kc.getCurrentCluster()?.server, movers: movers.map((m) => m.kind) }, 'operator started');
  };

  let onLost: () => void = () => {};
  const lost = new Promise<void>((resolve) => (onLost = resolve));
  let leading: Promise<void> = Promise.resolve();
  if (elector) {
    leading = (async () => {
      if (!(await elector.acquire()) || shuttingDown) return;
      await startController();
      if ((await elector.hold()) === 'lost') onLost();
    })();
    // An error here (the controller could not start) ends the process like any startup error.
    leading.catch((error: unknown) => {
      log.fatal({ err: error instanceof Error ? error.message : String(error) }, 'leading failed');
      process.exit(1);
    });
  } else {
    await startController();
  }

  return {
    controller,
    metricsPort,
    healthPort,
    lost,
    async shutdown() {
      shuttingDown = true;
      // A standby stops waiting; a leader keeps renewing until its reconciles have finished.
      if (elector && !elector.isLeader) elector.stop();
      await started.catch(() => undefined);
      if (controllerState !== 'waiting') {
        await populator?.stop();
        await controller.stop();
      }
      if (elector) {
        elector.stop();
        await leading.catch(() => undefined);
        await elector.release();
      }
      await closeServers();
    },
  };
}

/** The Lease's namespace: the flag, else the pod's namespace (downward API or service account), else default. */
function leaseNamespace(options: OperatorOptions): string {
  if (options.leaderElectionNamespace) return options.leaderElectionNamespace;
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
  } catch {
    return 'default';
  }
}

/**
 * The /debug pages' handler: it reads the CRs from the API server with the operator's rights,
 * not from the controller's caches, so a standby replica serves them too; the server shows a
 * caller only those the caller may get.
 */
export function debugPages(kc: KubeConfig, namespace: string | undefined) {
  const list = async (kind: 'ReplicationSource' | 'ReplicationDestination') =>
    (
      await kubeRequest<{ items: ScribeCr[] }>(kc, { method: 'GET', path: collectionPath(RESOURCES[kind], namespace) })
    ).items.map((cr) => ({ ...cr, kind }) as ScribeCr);
  return debugHandler(
    async () => [...(await list('ReplicationSource')), ...(await list('ReplicationDestination'))],
    (kind, ns, name) => readObject<ScribeCr>(kc, kind, ns, name),
  );
}
