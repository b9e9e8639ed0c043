/**
 * The plugin's options, as the seed's "Scribe Plugin Options with Defaults" lists them: one table
 * drives the command-line flags, the keys allowed in config.yaml, the defaults and validation.
 */

/** Every option key of the seed's list (config.yaml keys and `--<key>` flags). */
export const OPTION_KEYS = [
  'dest-address',
  'dest-name',
  'dest-namespace',
  'dest-kube-context',
  'dest-kube-clustername',
  'dest-access-mode',
  'dest-capacity',
  'dest-cron-spec',
  'dest-pvc',
  'dest-service-type',
  'dest-ssh-user',
  'dest-storage-class-name',
  'dest-volume-snapshot-class-name',
  'dest-copy-method',
  'dest-port',
  'dest-provider',
  'dest-provider-params',
  'dest-path',
  'source-name',
  'source-namespace',
  'source-kube-context',
  'source-kube-clustername',
  'source-access-mode',
  'source-capacity',
  'source-cron-spec',
  'source-pvc',
  'source-service-type',
  'source-ssh-user',
  'source-storage-class-name',
  'source-volume-snapshot-class-name',
  'source-copy-method',
  'source-port',
  'source-provider',
  'source-provider-params',
  'ssh-keys-secret',
] as const;
export type OptionKey = (typeof OPTION_KEYS)[number];

/** Option values as given (flags and config file), before defaults. */
export type OptionValues = Partial<Record<OptionKey, string>>;

/** Help text of each option; the default (as the seed words it) is appended in `--help`. */
export const OPTION_HELP: Record<OptionKey, { help: string; defaultText?: string }> = {
  'dest-address': {
    help: 'remote address the source connects to for replication',
    defaultText: "the destination's status.rsync.address",
  },
  'dest-name': { help: 'name of the ReplicationDestination', defaultText: '<dest-namespace>-destination' },
  'dest-namespace': { help: 'namespace of the destination', defaultText: "the dest context's namespace" },
  'dest-kube-context': { help: 'kubeconfig context of the destination', defaultText: 'kubectl config current-context' },
  'dest-kube-clustername': {
    help: 'cluster name the dest context must point at',
    defaultText: "the dest context's cluster",
  },
  'dest-access-mode': {
    help: 'access mode of the destination volume: ReadWriteOnce|ReadOnlyMany|ReadWriteMany',
    defaultText: 'ReadWriteOnce',
  },
  'dest-capacity': { help: 'capacity of the destination volume', defaultText: "the source PVC's capacity" },
  'dest-cron-spec': { help: 'destination schedule (5-field cron)', defaultText: 'continuous' },
  'dest-pvc': { help: 'existing PVC to replicate into', defaultText: 'scribe provisions one' },
  'dest-service-type': { help: 'Service type of the destination: ClusterIP|LoadBalancer', defaultText: 'ClusterIP' },
  'dest-ssh-user': { help: 'ssh user of the destination', defaultText: 'root' },
  'dest-storage-class-name': { help: 'StorageClass of the destination volume', defaultText: 'default StorageClass' },
  'dest-volume-snapshot-class-name': {
    help: 'VolumeSnapshotClass at the destination',
    defaultText: 'default VolumeSnapshotClass',
  },
  'dest-copy-method': {
    help: 'how the destination keeps each sync: None|Snapshot (Clone is refused at a destination)',
    defaultText: 'Snapshot',
  },
  'dest-port': { help: 'ssh port of the destination', defaultText: '22' },
  'dest-provider': { help: "external replication provider, as 'domain.com/provider'" },
  'dest-provider-params': { help: "parameters of the external provider, as 'key=value,key1=value1'" },
  'dest-path': { help: 'path on the destination volume to replicate into', defaultText: '/' },
  'source-name': { help: 'name of the ReplicationSource', defaultText: '<source-namespace>-source' },
  'source-namespace': { help: 'namespace of the source', defaultText: "the source context's namespace" },
  'source-kube-context': { help: 'kubeconfig context of the source', defaultText: 'kubectl config current-context' },
  'source-kube-clustername': {
    help: 'cluster name the source context must point at',
    defaultText: "the source context's cluster",
  },
  'source-access-mode': {
    help: 'access mode of the point-in-time copy: ReadWriteOnce|ReadOnlyMany|ReadWriteMany',
    defaultText: "the source PVC's",
  },
  'source-capacity': { help: 'capacity of the point-in-time copy', defaultText: "2Gi (at least the source PVC's)" },
  'source-cron-spec': { help: 'source schedule (5-field cron)', defaultText: '"*/3 * * * *"' },
  'source-pvc': { help: 'name of the existing PVC to replicate' },
  'source-service-type': { help: 'Service type of the source: ClusterIP|LoadBalancer', defaultText: 'ClusterIP' },
  'source-ssh-user': { help: 'ssh user the source logs in as', defaultText: 'root' },
  'source-storage-class-name': { help: 'StorageClass of the point-in-time copy', defaultText: 'default StorageClass' },
  'source-volume-snapshot-class-name': {
    help: 'VolumeSnapshotClass of the point-in-time copy',
    defaultText: 'default VolumeSnapshotClass',
  },
  'source-copy-method': { help: 'how the point-in-time copy is made: None|Clone|Snapshot', defaultText: 'Snapshot' },
  'source-port': { help: 'ssh port the source connects to', defaultText: "the destination's port, else 22" },
  'source-provider': { help: "external replication provider, as 'domain.com/provider'" },
  'source-provider-params': { help: "parameters of the external provider, as 'key=value,key1=value1'" },
  'ssh-keys-secret': {
    help: 'Secret with the keys the source uses, copied from the destination',
    defaultText: 'scribe-rsync-dest-src-<dest-name>',
  },
};

/**
 * Defaults that need no cluster to know. The others (names, namespaces, contexts, capacities)
 * depend on the kubeconfig and the source PVC and are resolved in sides.ts and replication.ts.
 * The seed's `source-cron-spec: "*\/3 * * * * "` has a trailing space; schedules are trimmed.
 */
export const STATIC_DEFAULTS: Partial<Record<OptionKey, string>> = {
  'dest-access-mode': 'ReadWriteOnce',
  'dest-service-type': 'ClusterIP',
  'dest-ssh-user': 'root',
  'dest-copy-method': 'Snapshot',
  'dest-port': '22',
  'dest-path': '/',
  'source-capacity': '2Gi',
  'source-cron-spec': '*/3 * * * * ',
  'source-service-type': 'ClusterIP',
  'source-ssh-user': 'root',
  'source-copy-method': 'Snapshot',
};

/** Whether a string is an option key. */
export function isOptionKey(key: string): key is OptionKey {
  return (OPTION_KEYS as readonly string[]).includes(key);
}

/** The commander property of a flag: `dest-access-mode` → `destAccessMode`. */
export function camelOf(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
