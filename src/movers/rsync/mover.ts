/**
 * The rsync mover as the operator runs it: which objects a cycle needs (pure), what they say
 * (pure), and the generated SSH keys (materialize). The destination (no spec.rsync.address)
 * listens: a Service in front of a Job running sshd; the source pushes with rsync over ssh.
 */
import type { KubeObject, MoverCycle, MoverPlan, ObjectRef } from '../../../machines/mover.js';
import type { ScribeCr } from '../../../machines/api.js';
import type { ObservedMover } from '../../../machines/observation.js';
import {
  objectLabels,
  rsyncDestinationKeysName,
  rsyncDestinationName,
  rsyncDestinationSourceKeysName,
  rsyncSourceName,
} from '../../../machines/naming.js';
import type { MoverRuntime } from '../catalog.js';
import { MOVER_POD_LABEL, moverJob, readMoverJob } from '../job.js';
import { generateRsyncSecretContents } from './keys.js';

/** The port sshd listens on inside the mover pod; the Service maps spec.rsync.port to it. */
export const SSHD_PORT = 8022;
/** Annotation on a key Secret the builder wants generated: which half ("source" or "destination"). */
export const GENERATE_ANNOTATION = 'scribe.backube/generate-ssh-keys';
/** Capabilities of the rsync pods (decision 10): sshd and rsync as root, preserving ownership. */
const RSYNC_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'SETGID', 'SETUID', 'SYS_CHROOT', 'KILL'];

interface RsyncSpec {
  address?: string;
  port?: number;
  sshKeys?: string;
  sshUser?: string;
  path?: string;
  serviceType?: 'ClusterIP' | 'LoadBalancer';
}

function rsyncSpec(cr: ScribeCr): RsyncSpec {
  return ((cr.spec as { rsync?: RsyncSpec }).rsync ?? {}) as RsyncSpec;
}

/** Whether this CR listens (a destination without an address) or connects. */
export function listens(cr: ScribeCr): boolean {
  return !rsyncSpec(cr).address;
}

function jobName(cr: ScribeCr): string {
  const name = cr.metadata.name ?? '';
  return cr.kind === 'ReplicationSource' ? rsyncSourceName(name) : rsyncDestinationName(name);
}

/** The Secret the mover pod mounts, and the generated ones when the user named none. */
function keySecrets(cr: ScribeCr): {
  mounted: string;
  generated: Array<{ name: string; half: 'source' | 'destination' }>;
} {
  const spec = rsyncSpec(cr);
  if (spec.sshKeys) return { mounted: spec.sshKeys, generated: [] };
  const name = cr.metadata.name ?? '';
  if (cr.kind === 'ReplicationDestination') {
    return {
      mounted: rsyncDestinationKeysName(name),
      generated: [
        { name: rsyncDestinationKeysName(name), half: 'destination' },
        { name: rsyncDestinationSourceKeysName(name), half: 'source' },
      ],
    };
  }
  // A source must be given the Secret copied from its destination (seed: "SSH keys").
  return { mounted: rsyncDestinationSourceKeysName(name), generated: [] };
}

function build(cr: ScribeCr, cycle: MoverCycle): MoverPlan {
  const spec = rsyncSpec(cr);
  const name = jobName(cr);
  const keys = keySecrets(cr);
  const objects: KubeObject[] = keys.generated.map((secret) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secret.name, labels: objectLabels(), annotations: { [GENERATE_ANNOTATION]: secret.half } },
    type: 'Opaque',
  }));
  const env: Array<{ name: string; value: string }> = [
    { name: 'SCRIBE_DATA_DIR', value: '/data' },
    { name: 'SCRIBE_KEYS_DIR', value: '/keys' },
  ];
  if (listens(cr)) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, labels: objectLabels() },
      spec: {
        type: spec.serviceType ?? 'ClusterIP',
        selector: { [MOVER_POD_LABEL]: name },
        ports: [{ name: 'ssh', protocol: 'TCP', port: spec.port ?? 22, targetPort: SSHD_PORT }],
      },
    });
    env.push({ name: 'SCRIBE_LISTEN_PORT', value: String(SSHD_PORT) });
  } else {
    env.push(
      { name: 'SCRIBE_DESTINATION_ADDRESS', value: spec.address ?? '' },
      { name: 'SCRIBE_DESTINATION_PORT', value: String(spec.port ?? 22) },
      { name: 'SCRIBE_SSH_USER', value: spec.sshUser ?? 'root' },
      { name: 'SCRIBE_DESTINATION_PATH', value: spec.path ?? '/' },
    );
  }
  objects.push(
    moverJob({
      mover: 'rsync',
      name,
      entrypoint: listens(cr) ? 'rsync-destination' : 'rsync-source',
      cycleId: cycle.cycleId,
      attempt: cycle.attempt,
      env: listens(cr) ? [...env, { name: 'SCRIBE_LISTEN_ADDRESS', value: '$(POD_IP)' }] : env,
      volumes: [
        { name: 'data', mountPath: '/data', source: { persistentVolumeClaim: { claimName: cycle.volume } } },
        {
          name: 'keys',
          mountPath: '/keys',
          readOnly: true,
          source: { secret: { secretName: keys.mounted, defaultMode: 0o600 } },
        },
        { name: 'sshd-privsep', mountPath: '/run/sshd', source: { emptyDir: {} } },
      ],
      capabilities: RSYNC_CAPABILITIES,
      runAsRoot: true,
    }),
  );
  return { objects, temporary: [{ apiVersion: 'batch/v1', kind: 'Job', name }] };
}

/** What rsync's and the handshake's exit codes mean (rsync(1), "EXIT VALUES"). */
export function explainRsyncExit(code: number): string {
  const meanings: Record<number, string> = {
    1: 'configuration error or syntax error',
    2: 'protocol incompatibility',
    3: 'errors selecting input/output files or directories',
    5: 'error starting client-server protocol',
    10: 'error in socket I/O',
    11: 'error in file I/O (is the destination volume full?)',
    12: 'error in rsync protocol data stream',
    23: 'partial transfer due to error',
    24: 'partial transfer due to vanished source files',
    30: 'timeout in data send/receive',
    35: 'timeout waiting for daemon connection',
    124: 'the destination gave up waiting for the source',
    255: 'ssh could not connect or authenticate (check address, port and keys)',
  };
  return meanings[code] ?? 'unexpected error (see latestMoverStatus.logs)';
}

/** A missing key Secret, said in terms of the field that names it and what to do. */
function explainConfigError(cr: ScribeCr, message: string): Array<{ field: string; message: string }> {
  const secret = keySecrets(cr).mounted;
  if (!message.includes(secret)) return [];
  const hint =
    cr.kind === 'ReplicationSource'
      ? ": copy it from the destination's namespace (the ReplicationDestination's status.rsync.sshKeys names it)"
      : ': create it with the keys destination, destination.pub and source.pub, or omit sshKeys to have them generated';
  return [{ field: 'spec.rsync.sshKeys', message: `Secret "${secret}" is missing or incomplete (${message})${hint}` }];
}

function read(cr: ScribeCr, objects: readonly KubeObject[]): ObservedMover {
  const name = jobName(cr);
  const observed = readMoverJob(name, objects, explainRsyncExit, (message) => explainConfigError(cr, message));
  if (!listens(cr)) return observed;
  const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === name) as
    | (KubeObject & {
        spec?: { clusterIP?: string; ports?: Array<{ port?: number }> };
        status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
      })
    | undefined;
  const ingress = service?.status?.loadBalancer?.ingress?.[0];
  const wantsLoadBalancer = rsyncSpec(cr).serviceType === 'LoadBalancer';
  const address = wantsLoadBalancer ? (ingress?.ip ?? ingress?.hostname) : service?.spec?.clusterIP;
  const published: Record<string, string | number> = {};
  if (address && address !== 'None') published.address = address;
  const port = service?.spec?.ports?.[0]?.port;
  if (address && port) published.port = port;
  const keys = keySecrets(cr);
  const generatedSourceHalf = keys.generated.find((s) => s.half === 'source')?.name;
  // The seed's walkthrough copies the Secret as soon as status names it, so a generated
  // Secret is named only once it exists; a Secret the user named is theirs to have made.
  if (generatedSourceHalf === undefined) published.sshKeys = keys.mounted;
  else if (objects.some((o) => o.kind === 'Secret' && o.metadata.name === generatedSourceHalf))
    published.sshKeys = generatedSourceHalf;
  return { ...observed, published };
}

function temporaryObjects(cr: ScribeCr): ObjectRef[] {
  return [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName(cr) }];
}

/** Fills generated key Secrets: both halves of one fresh key set, so they match each other. */
async function materialize(objects: KubeObject[]): Promise<KubeObject[]> {
  if (!objects.some((o) => o.metadata.annotations?.[GENERATE_ANNOTATION])) return objects;
  const contents = generateRsyncSecretContents();
  return objects.map((object) => {
    const half = object.metadata.annotations?.[GENERATE_ANNOTATION] as 'source' | 'destination' | undefined;
    return half ? { ...object, stringData: contents[half] } : object;
  });
}

/** The rsync mover. */
export const rsyncMover: MoverRuntime = {
  kind: 'rsync',
  matches: (cr) => (cr.spec as { rsync?: unknown }).rsync !== undefined,
  build,
  read,
  temporaryObjects,
  materialize,
};
