/**
 * A replication as the seed's plugin commands see it: both sides (context, namespace, CR name)
 * and every option value, resolved from flags, config file and defaults.
 */
import { PluginError } from './errors.js';
import { connect, type Cluster } from './kube.js';
import type { OptionKey, OptionValues } from './options.js';
import { optionValue, validateOptions } from './validate.js';

/** One side of the replication. */
export interface Side {
  cluster: Cluster;
  namespace: string;
  /** The CR's name on this side. */
  name: string;
}

/** Both sides plus the option values. */
export interface Plan {
  source: Side;
  dest: Side;
  values: OptionValues;
  /** An option's value: given, else its static default. */
  get(key: OptionKey): string | undefined;
}

/** Connects both sides; source and destination may be different contexts (clusters). */
export function planOf(values: OptionValues): Plan {
  validateOptions(values);
  const get = (key: OptionKey) => optionValue(values, key);
  const sourceCluster = connect(get('source-kube-context'), get('source-kube-clustername'));
  const destCluster =
    get('dest-kube-context') === get('source-kube-context') &&
    get('dest-kube-clustername') === get('source-kube-clustername')
      ? sourceCluster
      : connect(get('dest-kube-context'), get('dest-kube-clustername'));
  const sourceNamespace = get('source-namespace') ?? sourceCluster.namespace;
  const destNamespace = get('dest-namespace') ?? destCluster.namespace;
  return {
    source: {
      cluster: sourceCluster,
      namespace: sourceNamespace,
      name: get('source-name') ?? `${sourceNamespace}-source`,
    },
    dest: { cluster: destCluster, namespace: destNamespace, name: get('dest-name') ?? `${destNamespace}-destination` },
    values,
    get,
  };
}

/** The source PVC's name, or a message saying it is needed. */
export function requireSourcePvc(plan: Plan, command: string): string {
  const pvc = plan.get('source-pvc');
  if (!pvc) {
    throw new PluginError(
      `${command} needs source-pvc: pass --source-pvc NAME or put "source-pvc: NAME" in config.yaml`,
    );
  }
  return pvc;
}
