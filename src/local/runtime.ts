/**
 * The whole local system on one machine: the real control plane, Scribe's CRDs, the node agent
 * (storage, snapshots, services, pods from their images) and the operator. By default
 * (operatorMode 'chart') the operator is installed as users install it, with `helm install` of
 * helm/scribe, and runs as a pod of the `scribe` image the node loaded (chart-operator.ts);
 * 'process' runs it as a host process from the checkout (`bin/scribe operator --kubeconfig`),
 * the in-process operator for quick development and for the benchmarks. Used by `npm run demo`,
 * the end-to-end and fault tests and bench/.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/config.js';
import type { NodeAddressRanges } from './agent/addresses.js';
import { startNodeAgent, type NodeAgent } from './agent/index.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { installCrds } from './crds.js';
import { ChartOperator } from './chart-operator.js';
import { installChartIdentity, type ChartIdentity, type OperatorIdentityKind } from './operator-identity.js';
import { startProcess, type ManagedProcess } from './processes.js';
import { repoRoot } from './tools.js';

/**
 * How the local runtime runs the operator: 'chart' installs helm/scribe and the operator runs as
 * a pod of its image; 'process' runs `bin/scribe operator` on the host (quick development).
 */
export type OperatorMode = 'chart' | 'process';

/** The environment variable that chooses the operator mode when the options do not. */
export const OPERATOR_MODE_ENV = 'SCRIBE_OPERATOR';

/** The operator mode: `requested`, else SCRIBE_OPERATOR, else 'chart'. */
export function operatorModeOf(requested?: OperatorMode, env: NodeJS.ProcessEnv = process.env): OperatorMode {
  const mode = requested ?? env[OPERATOR_MODE_ENV] ?? 'chart';
  if (mode !== 'chart' && mode !== 'process') {
    throw new Error(`${OPERATOR_MODE_ENV}=${mode}: expected "chart" (Helm chart, a pod) or "process" (host process)`);
  }
  return mode;
}

/** Options of the local runtime. */
export interface LocalRuntimeOptions {
  dir?: string;
  /** Start the operator too (default true). */
  operator?: boolean;
  /** How the operator runs (default: SCRIBE_OPERATOR, else 'chart'); see OperatorMode. */
  operatorMode?: OperatorMode;
  /**
   * Process mode: flags for `scribe operator` besides --kubeconfig (chart mode: the chart's). Default: the metrics server (HTTPS, with
   * authentication, as in a cluster) and the probes on loopback ports the kernel picks; the
   * ports are in the operator's log (see operatorPorts()).
   */
  operatorArgs?: string[];
  /**
   * Process mode: who the operator authenticates as (chart mode: always the chart's
   * ServiceAccount, whose token kubeconfig is made as for 'chart' here, for tests that check
   * what it may do). 'admin' (default): the control plane's admin kubeconfig.
   * 'chart': the Helm chart's ServiceAccount with the chart's RBAC only (rendered from
   * helm/scribe and applied, release `scribe` in `scribe-system`), through a TokenRequest token
   * (see operator-identity.ts); the test's own `kc` stays the admin's.
   */
  operatorIdentity?: OperatorIdentityKind;
  /**
   * The API server's audit log (ControlPlane.auditLog) of these users' requests, at Metadata
   * level; e.g. the chart's ServiceAccount (serviceAccountUser(CHART_RELEASE.namespace,
   * CHART_RELEASE.name)) to see every call the operator makes. Off by default.
   */
  audit?: { users: string[] };
  /**
   * The node's pod and LoadBalancer address ranges (default: 127.1 and 127.97); clusters side by
   * side each have their own (clusters.ts).
   */
  addressRanges?: NodeAddressRanges;
  /** Close connections to this cluster's ClusterIPs from other local clusters' pods (services.ts). */
  isolateClusterIPs?: boolean;
  log?: (line: string) => void;
}

/** A running local system. */
export interface LocalRuntime {
  dir: string;
  kubeconfigPath: string;
  kc: KubeConfig;
  controlPlane: ControlPlane;
  agent: NodeAgent;
  operatorMode: OperatorMode;
  /**
   * The operator's log file (JSON lines): the process's output, or in chart mode every run of the
   * operator container's log as the node stores it, copied as it grows.
   */
  operatorLog: string;
  /**
   * Where the operator's metrics and probe servers listen: 127.0.0.1 for the process, the Ready
   * pod's IP (a loopback address of its own) in chart mode.
   */
  operatorHost(): Promise<string>;
  /** The kubeconfig the operator runs with: the admin's, or the chart's ServiceAccount's. */
  operatorKubeconfigPath: string;
  /** The chart's identity when operatorIdentity is 'chart'. */
  chartIdentity?: ChartIdentity;
  /**
   * The environment of an operator on this runtime: its movers run from the mover image the node
   * loaded (SCRIBE_MOVER_IMAGE), as a user of kind points Scribe at theirs.
   */
  operatorEnv: NodeJS.ProcessEnv;
  /**
   * Starts the operator (again). Chart mode: installs the release the first time, else scales its
   * Deployment to 1; resolves once the pod is Ready.
   */
  startOperator(): Promise<void>;
  /**
   * Stops the operator. Process: SIGTERM (SIGKILL with `kill`). Chart mode: scales the Deployment
   * to 0 and waits until the pod is gone; with `kill`, SIGKILL to the container's process instead,
   * which the node restarts with its back-off (startOperator() then waits until it is Ready).
   */
  stopOperator(options?: { kill?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** Operator flags of the local runtime unless LocalRuntimeOptions.operatorArgs says otherwise. */
export const DEFAULT_OPERATOR_ARGS = ['--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0'];

/**
 * The ports the operator's metrics and probe servers got, from the latest start recorded in its
 * log (JSON lines); undefined for a server that has not started (yet).
 */
export async function operatorPorts(operatorLog: string): Promise<{ metrics?: number; health?: number }> {
  const ports: { metrics?: number; health?: number } = {};
  const text = await readFile(operatorLog, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg === 'serving metrics over https') ports.metrics = entry.port;
      if (entry.msg === 'serving /healthz and /readyz') ports.health = entry.port;
    } catch {
      // not a log record of the operator (a stack trace, say)
    }
  }
  return ports;
}

/** Starts control plane, CRDs, node agent and (by default) the operator. */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'scribe-local-')));
  await mkdir(dir, { recursive: true });
  // Everything the runtime and its agent say also goes to a file, for post-mortems of test runs.
  const runtimeLog = createWriteStream(join(dir, 'runtime.log'), { flags: 'a' });
  const log = (line: string) => {
    runtimeLog.write(`${new Date().toISOString()} ${line}\n`);
    options.log?.(line);
  };
  const controlPlane = await startControlPlane({
    dir: join(dir, 'cluster'),
    controllers: true,
    log,
    ...(options.audit ? { audit: options.audit } : {}),
  });
  let agent: NodeAgent | undefined;
  let operator: ManagedProcess | undefined;
  let chart: ChartOperator | undefined;
  const operatorLog = join(dir, 'operator.log');
  const operatorMode = operatorModeOf(options.operatorMode);
  try {
    const kc = loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath });
    await installCrds(kc);
    log('starting the node agent');
    agent = await startNodeAgent({
      kubeconfig: kc,
      dataDir: join(dir, 'node'),
      log,
      ...(options.addressRanges ? { addressRanges: options.addressRanges } : {}),
      ...(options.isolateClusterIPs ? { isolateClusterIPs: true } : {}),
    });
    if (operatorMode === 'chart') {
      chart = new ChartOperator(kc, controlPlane.kubeconfigPath, agent, operatorLog, log);
      await writeFile(operatorLog, '', { flag: 'a' });
      if (options.operator ?? true) await chart.start();
    }
    const chartIdentity =
      operatorMode === 'chart' && (options.operator ?? true)
        ? await installChartIdentity(kc, join(dir, 'operator-kubeconfig'), { log, apply: false })
        : options.operatorIdentity === 'chart'
          ? await installChartIdentity(kc, join(dir, 'operator-kubeconfig'), { log })
          : undefined;
    const operatorKubeconfigPath = chartIdentity?.kubeconfigPath ?? controlPlane.kubeconfigPath;
    const runtime: LocalRuntime = {
      operatorEnv: { ...process.env, SCRIBE_MOVER_IMAGE: agent.images.mover },
      dir,
      kubeconfigPath: controlPlane.kubeconfigPath,
      kc,
      controlPlane,
      agent,
      operatorMode,
      operatorLog,
      operatorKubeconfigPath,
      ...(chartIdentity ? { chartIdentity } : {}),
      async operatorHost() {
        if (!chart) return '127.0.0.1';
        return (await chart.waitReady()).status?.podIP ?? '127.0.0.1';
      },
      async startOperator() {
        if (chart) {
          await chart.start();
          return;
        }
        await operator?.stop();
        log(`starting the operator${chartIdentity ? ` as ${chartIdentity.user}` : ''}`);
        operator = startProcess(
          'scribe-operator',
          join(repoRoot(), 'bin', 'scribe'),
          ['operator', '--kubeconfig', operatorKubeconfigPath, ...(options.operatorArgs ?? DEFAULT_OPERATOR_ARGS)],
          operatorLog,
          runtime.operatorEnv,
        );
      },
      async stopOperator({ kill = false } = {}) {
        if (chart) await (kill ? chart.kill() : chart.stop());
        else if (kill) await operator?.kill();
        else await operator?.stop();
      },
      async stop() {
        await chart?.close();
        await operator?.stop();
        await agent?.stop();
        await controlPlane.stop();
        runtimeLog.end();
        if (!options.dir && !process.env.SCRIBE_KEEP_CLUSTER_DIR) await rm(dir, { recursive: true, force: true });
      },
    };
    if (operatorMode === 'process' && (options.operator ?? true)) await runtime.startOperator();
    return runtime;
  } catch (error) {
    await chart?.close();
    await operator?.stop();
    await agent?.stop();
    await controlPlane.stop();
    throw error;
  }
}
