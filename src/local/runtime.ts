/**
 * The whole local system on one machine: the real control plane, Scribe's CRDs, the node agent
 * (storage, snapshots, services, pods as sandboxes) and the operator as its own process, exactly
 * as `bin/scribe operator` runs it. Used by `npm run demo` and the end-to-end tests.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/config.js';
import { startNodeAgent, type NodeAgent } from './agent/index.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { installCrds } from './crds.js';
import { installChartIdentity, type ChartIdentity, type OperatorIdentityKind } from './operator-identity.js';
import { startProcess, type ManagedProcess } from './processes.js';
import { repoRoot } from './tools.js';

/** Options of the local runtime. */
export interface LocalRuntimeOptions {
  dir?: string;
  /** Start the operator process too (default true). */
  operator?: boolean;
  /**
   * Flags for `scribe operator` besides --kubeconfig. Default: the metrics server (HTTPS, with
   * authentication, as in a cluster) and the probes on loopback ports the kernel picks; the
   * ports are in the operator's log (see operatorPorts()).
   */
  operatorArgs?: string[];
  /**
   * Who the operator authenticates as. 'admin' (default): the control plane's admin kubeconfig.
   * 'chart': the Helm chart's ServiceAccount with the chart's RBAC only (rendered from
   * helm/scribe and applied, release `scribe` in `scribe-system`), through a TokenRequest token
   * (see operator-identity.ts); the test's own `kc` stays the admin's.
   */
  operatorIdentity?: OperatorIdentityKind;
  log?: (line: string) => void;
}

/** A running local system. */
export interface LocalRuntime {
  dir: string;
  kubeconfigPath: string;
  kc: KubeConfig;
  controlPlane: ControlPlane;
  agent: NodeAgent;
  /** The operator's log file (JSON lines). */
  operatorLog: string;
  /** The kubeconfig the operator runs with: the admin's, or the chart's ServiceAccount's. */
  operatorKubeconfigPath: string;
  /** The chart's identity when operatorIdentity is 'chart'. */
  chartIdentity?: ChartIdentity;
  /**
   * The environment of an operator on this runtime: its movers run from the mover image the node
   * loaded (SCRIBE_MOVER_IMAGE), as a user of kind points Scribe at theirs.
   */
  operatorEnv: NodeJS.ProcessEnv;
  /** Starts the operator process (again). */
  startOperator(): Promise<void>;
  /** Stops the operator process: SIGTERM by default, SIGKILL when `kill` is set. */
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
  const controlPlane = await startControlPlane({ dir: join(dir, 'cluster'), controllers: true, log });
  let agent: NodeAgent | undefined;
  let operator: ManagedProcess | undefined;
  const operatorLog = join(dir, 'operator.log');
  try {
    const kc = loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath });
    await installCrds(kc);
    log('starting the node agent');
    agent = await startNodeAgent({ kubeconfig: kc, dataDir: join(dir, 'node'), log });
    const chartIdentity =
      options.operatorIdentity === 'chart'
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
      operatorLog,
      operatorKubeconfigPath,
      ...(chartIdentity ? { chartIdentity } : {}),
      async startOperator() {
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
        if (kill) await operator?.kill();
        else await operator?.stop();
      },
      async stop() {
        await operator?.stop();
        await agent?.stop();
        await controlPlane.stop();
        runtimeLog.end();
        if (!options.dir && !process.env.SCRIBE_KEEP_CLUSTER_DIR) await rm(dir, { recursive: true, force: true });
      },
    };
    if (options.operator ?? true) await runtime.startOperator();
    return runtime;
  } catch (error) {
    await operator?.stop();
    await agent?.stop();
    await controlPlane.stop();
    throw error;
  }
}
