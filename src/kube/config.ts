/** Where the operator and the tools find their cluster: a flag, KUBECONFIG, or in-cluster. */
import { KubeConfig } from './client-node.js';

/** Options naming a kubeconfig file and context; both optional. */
export interface KubeConfigOptions {
  kubeconfig?: string;
  context?: string;
}

/**
 * Loads a KubeConfig: an explicit file first, else in-cluster when running in a pod,
 * else KUBECONFIG or ~/.kube/config (client-node's default rules).
 */
export function loadKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) {
    kc.loadFromFile(options.kubeconfig);
  } else if (process.env.KUBERNETES_SERVICE_HOST && !process.env.KUBECONFIG) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (options.context) kc.setCurrentContext(options.context);
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod');
  }
  return kc;
}
