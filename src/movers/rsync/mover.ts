/**
 * The rsync mover as the operator runs it: which objects a cycle needs (pure), what they say
 * (pure), and the generated SSH keys (materialize). The destination listens: a Service in front
 * of a Job running sshd; the source pushes with rsync over ssh to spec.rsync.address.
 */
import type { KubeObject, MoverCycle, MoverFacts, MoverPlan, ObjectRef } from '../../../machines/mover.js';
import type { ScribeCr } from '../../../machines/api.js';
import type { ObservedMover } from '../../../machines/observation.js';
import { destinationPvcName, objectLabels } from '../../../machines/naming.js';
import { moverPlacement } from '../../../machines/placement.js';
import type { MoverRuntime } from '../catalog.js';
import { MOVER_POD_LABEL, cycleData, identityOf, moverJob, readMoverJob } from '../job.js';
import { describeIdentity } from '../../../machines/privilege.js';
import type { RsyncDestinationOptions, RsyncSourceOptions } from './options.js';
import { exitExplainer } from '../runtime/exit-codes.js';
import { moverJobRef, withExplainedFailure } from '../runtime/mover-job.js';
import { generateRsyncSecretContents, REQUIRED_KEYS } from './keys.js';
import { explainUnreadableFiles } from './unreadable.js';
import { jobName, rsyncDestinationKeysName, rsyncDestinationSourceKeysName } from './names.js';

/** The port sshd listens on inside the mover pod; the Service maps spec.rsync.port to it. */
export const SSHD_PORT = 8022;
/** Annotation on a key Secret the builder wants generated: which half ("source" or "destination"). */
export const GENERATE_ANNOTATION = 'scribe.backube/generate-ssh-keys';
/**
 * What a privileged destination's sshd needs beyond restoring files (machines/privilege.ts):
 * switching to the login user and into its privilege-separation chroot, and ending the sessions
 * it started. An unprivileged destination runs sshd as its own user and needs none of them.
 */
const SSHD_CAPABILITIES = ['SETGID', 'SETUID', 'SYS_CHROOT', 'KILL'];

/** The CR's spec.rsync (empty for a CR of another mover). */
function rsyncSpec(cr: ScribeCr): Partial<RsyncSourceOptions> | Partial<RsyncDestinationOptions> {
  return (cr.kind === 'ReplicationSource' ? cr.spec.rsync : cr.spec.rsync) ?? {};
}

/** A destination's spec.rsync; undefined for a source. */
function destinationSpec(cr: ScribeCr): RsyncDestinationOptions | undefined {
  return cr.kind === 'ReplicationDestination' ? cr.spec.rsync : undefined;
}

/**
 * Whether this CR listens (and receives) or connects (and sends). Decision 16: the kind alone
 * decides, never the presence of an address, so no spec can make a source receive into its own
 * volume or a destination push its volume out; validation refuses the mismatched address.
 */
export function listens(cr: ScribeCr): boolean {
  return cr.kind === 'ReplicationDestination';
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

function build(cr: ScribeCr, cycle: MoverCycle, facts: MoverFacts): MoverPlan {
  const spec = rsyncSpec(cr);
  const name = jobName(cr);
  const keys = keySecrets(cr);
  const identity = identityOf(cr, facts, spec.moverSecurityContext, listens(cr) ? SSHD_CAPABILITIES : []);
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
    const serviceAnnotations = destinationSpec(cr)?.serviceAnnotations;
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      // serviceAnnotations (a cloud load balancer's settings) are set when the Service is made;
      // the adapter never replaces an existing object, so later changes are the user's to apply
      // to the Service (docs/mover-pods.md).
      metadata: {
        name,
        labels: objectLabels(),
        ...(serviceAnnotations ? { annotations: { ...serviceAnnotations } } : {}),
      },
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
      data: cycleData(cr, cycle),
      volumes: [
        {
          name: 'keys',
          mountPath: '/keys',
          readOnly: true,
          source: { secret: { secretName: keys.mounted, defaultMode: 0o600 } },
        },
      ],
      identity,
      placement: moverPlacement(cr, facts.mounted, facts.volumeUsers ?? []),
      section: spec,
    }),
  );
  return { objects, temporary: [moverJobRef(name)], notice: describeIdentity(identity) };
}

/** What rsync's and the handshake's exit codes mean (rsync(1), "EXIT VALUES"). */
export const explainRsyncExit = exitExplainer({
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
});

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

/**
 * A failed mover's output said in terms of the field to fix, when it tells: a key the Secret
 * lacks or holds malformed, keys the other side refuses, an address nothing answers at. The
 * mover is retried with backoff all the same: the Secret or the peer may be fixed meanwhile.
 */
export function explainRsyncFailure(
  cr: ScribeCr,
  logs: string,
  code?: number,
): { field: string; message: string } | undefined {
  const spec = rsyncSpec(cr);
  const secret = keySecrets(cr).mounted;
  const keys = REQUIRED_KEYS[listens(cr) ? 'destination' : 'source'].join(', ');
  // The source's user may not read some files: whom it runs as is the field to change.
  const unreadable = listens(cr) ? undefined : explainUnreadableFiles(logs);
  if (unreadable) return { field: 'spec.rsync.moverSecurityContext', message: unreadable };
  const missing = /cannot read key "([^"]+)"/.exec(logs);
  if (missing)
    return {
      field: 'spec.rsync.sshKeys',
      message: `Secret "${secret}" has no key "${missing[1]}"; it must hold ${keys}`,
    };
  const malformed = /(\S+\.pub) is not an OpenSSH public key/.exec(logs);
  if (malformed)
    return {
      field: 'spec.rsync.sshKeys',
      message: `key "${malformed[1]}" of Secret "${secret}" is not an OpenSSH public key ("<type> <base64> [comment]")`,
    };
  const refused =
    /(the destination's host key does not match destination\.pub|the destination refused the source's key[^\n]*?\))/.exec(
      logs,
    );
  if (refused) return { field: 'spec.rsync.sshKeys', message: `Secret "${secret}": ${refused[1]}` };
  const unreachable = /gave up after [^\n]*?last error: (?:exit code \d+: )?([^\n]*)/.exec(logs);
  if (unreachable && !listens(cr))
    return {
      field: 'spec.rsync.address',
      message: `nothing answers at ${spec.address ?? ''} port ${spec.port ?? 22} (spec.rsync.port): ${unreachable[1]}`,
    };
  // The receiving side learns the source's exit code only; 11 is rsync's "error in file I/O",
  // almost always a volume too small for what the source sends.
  if (code === 11 && listens(cr) && cr.kind === 'ReplicationDestination') {
    const given = destinationSpec(cr)?.destinationPVC;
    const pvc = given ?? destinationPvcName(cr.metadata.name ?? '');
    return {
      field: given === undefined ? 'spec.rsync.capacity' : 'spec.rsync.destinationPVC',
      message: `the source could not write everything into PVC ${pvc} (rsync exit code 11, an error in file I/O): is it full? It must be at least as large as the source's data`,
    };
  }
  return undefined;
}

function read(cr: ScribeCr, objects: readonly KubeObject[]): ObservedMover {
  const name = jobName(cr);
  const observed = withExplainedFailure(
    readMoverJob(name, objects, explainRsyncExit, (message) => explainConfigError(cr, message)),
    (failed) => explainRsyncFailure(cr, failed.logs ?? '', failed.exitCode),
  );
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
  // Secret is named only once it exists; a Secret the user named is theirs to have made. The
  // operator does not watch Secrets (issue 21): the Job is made only after its key Secrets were
  // made (or found to be the CR's own), so the Job's existence says the Secret exists.
  if (generatedSourceHalf === undefined) published.sshKeys = keys.mounted;
  else if (objects.some((o) => o.kind === 'Job' && o.metadata.name === name)) published.sshKeys = generatedSourceHalf;
  return { ...observed, published };
}

function temporaryObjects(cr: ScribeCr): ObjectRef[] {
  return [moverJobRef(jobName(cr))];
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
  waitsForPeer: listens,
};
