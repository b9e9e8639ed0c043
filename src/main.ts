/**
 * The operator process: configuration, the controller, and graceful shutdown. `scribe operator`
 * (bin/scribe) calls main().
 */
import { Command } from 'commander';
import { Controller } from './controller/controller.js';
import { loadKubeConfig } from './kube/config.js';
import { rootLogger } from './log.js';
import { ScribeMetrics } from './metrics/registry.js';
import { MOVERS } from './movers/index.js';

/** Options of `scribe operator`. */
export interface OperatorOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** Parses `args` (the words after `scribe operator`) and runs the operator until SIGTERM or SIGINT. */
export async function main(args: string[]): Promise<void> {
  const options = new Command('scribe operator')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: in-cluster, then KUBECONFIG)')
    .option('--context <name>', 'kubeconfig context')
    .option('--namespace <name>', 'watch only this namespace (default: all)')
    .parse(args, { from: 'user' })
    .opts<OperatorOptions>();
  const controller = await startOperator(options);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      rootLogger.info({ signal }, 'shutting down');
      void controller.stop().then(resolve);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

/** Starts a controller with the given options and returns it running. */
export async function startOperator(options: OperatorOptions): Promise<Controller> {
  const kc = loadKubeConfig(options);
  const controller = new Controller({
    kc,
    metrics: new ScribeMetrics(),
    movers: MOVERS,
    ...(options.namespace ? { namespace: options.namespace } : {}),
  });
  await controller.start();
  rootLogger.info({ server: kc.getCurrentCluster()?.server, movers: MOVERS.map((m) => m.kind) }, 'operator started');
  return controller;
}
