/**
 * The Job skeleton every mover uses: one container running `scribe mover <entrypoint>` from the
 * Scribe image, the cycle's labels on the Job and its pod (the operator watches pods by label),
 * no Kubernetes-level retries (the machine retries with backoff), a read-only root filesystem,
 * and the mover's summary in the container's termination message.
 */
import type { ScribeCr } from '../../machines/api.js';
import type { KubeObject, MoverCycle, MoverFacts } from '../../machines/mover.js';
import type { MoverPlacement } from '../../machines/placement.js';
import type { MoverAffinity, MoverPodSettings } from '../api/common.js';
import { ATTEMPT_LABEL, objectLabels } from '../../machines/naming.js';
import {
  DEFAULT_MOVER_USER,
  moverIdentity,
  type MoverIdentity,
  type MoverPodSecurity,
} from '../../machines/privilege.js';

/** The container image of every mover (`scribe-mover`); the Helm chart sets it. */
export const DEFAULT_IMAGE = process.env.SCRIBE_MOVER_IMAGE ?? 'quay.io/backube/scribe-mover:latest';

/** A mover's image: SCRIBE_<MOVER>_IMAGE (the chart's rsync/rclone/restic values), else the default. */
export function imageFor(mover: string, env: NodeJS.ProcessEnv = process.env): string {
  return env[`SCRIBE_${mover.toUpperCase()}_IMAGE`] || DEFAULT_IMAGE;
}
/** Where the app lives in the image (the local runtime mounts the checkout there). */
export const APP_DIR = '/scribe';
/** Label on a mover Job's pods that its Service selects. */
export const MOVER_POD_LABEL = 'scribe.backube/mover-job';

/** A volume of the mover pod and where it is mounted. */
export interface MoverVolume {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  source:
    | { persistentVolumeClaim: { claimName: string; readOnly?: boolean } }
    | { secret: { secretName: string; defaultMode?: number } }
    | { configMap: { name: string; defaultMode?: number } }
    | { emptyDir: Record<string, never> };
}

/** Where every mover finds the volume it reads (source) or writes (destination). */
export const DATA_DIR = '/data';

/** What differs between movers' Jobs. */
export interface MoverJobSpec {
  name: string;
  entrypoint: string;
  cycleId: string;
  attempt: number;
  /**
   * The PVC the mover copies from (a source's) or into (a destination's), mounted at DATA_DIR.
   * Decision 16: a source's is mounted read-only, in the pod and on the claim, so no mover bug can
   * write a volume that Scribe should only read.
   */
  data: { claimName: string; side: 'source' | 'destination' };
  /**
   * The container's environment. A Secret's value comes in by secretKeyRef, one documented name
   * at a time: never a whole Secret (envFrom), whose keys could set NODE_OPTIONS, PATH or SCRIBE_*.
   */
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  /** A stable host name (restic tells stale locks by host name and PID). */
  hostname?: string;
  /** Volumes besides the data volume (keys, caches, scratch space). */
  volumes: MoverVolume[];
  /**
   * Whom the mover runs as (machines/privilege.ts): root with its side's capabilities in a
   * namespace annotated for privileged movers; otherwise the CR's moverSecurityContext, or
   * DEFAULT_MOVER_USER, with no capabilities. Unprivileged when absent.
   */
  identity?: MoverIdentity;
  /** The mover, for its image (imageFor). */
  mover: string;
  /** The node the pod must run on and its tolerations (decision 12, machines/placement.ts); anywhere when absent. */
  placement?: MoverPlacement | undefined;
  /**
   * The CR's mover section (spec.rsync, spec.rclone or spec.restic): its pod settings
   * (moverServiceAccount, moverResources, moverPodLabels, moverAffinity; podSettingsOf) apply to
   * the pod, the same way for every mover.
   */
  section?: MoverPodSettings | undefined;
}

/** The pod settings of a mover section; anything else the section holds is the mover's own. */
export function podSettingsOf(section: MoverPodSettings | undefined): MoverPodSettings {
  const given = section ?? {};
  return {
    moverServiceAccount: given.moverServiceAccount,
    moverResources: given.moverResources,
    moverPodLabels: given.moverPodLabels,
    moverAffinity: given.moverAffinity,
  };
}

type NodeTerm = NonNullable<
  NonNullable<MoverAffinity['nodeAffinity']>['requiredDuringSchedulingIgnoredDuringExecution']
>['nodeSelectorTerms'][number];

/**
 * The pod's affinity: the user's moverAffinity with Scribe's placement (decision 12) added.
 * Required node terms are alternatives (OR) and a term's requirements all hold (AND), so Scribe's
 * node requirement is appended to each of the user's terms: whichever term the scheduler
 * satisfies, the pod lands on the node using the volume. Preferences and pod (anti-)affinity
 * pass through unchanged. A user term that excludes that node leaves the pod Pending, which the
 * scheduler says in the pod's events: the volume cannot be mounted anywhere else.
 */
export function mergedAffinity(
  user: MoverAffinity | undefined,
  placement: MoverPlacement | undefined,
): object | undefined {
  if (!placement) return user && Object.keys(user).length > 0 ? user : undefined;
  const pinned = nodeAffinity(placement.node) as {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: NodeTerm[] } };
  };
  const ours = pinned.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0] as NodeTerm;
  const theirs = user?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const terms = theirs.length
    ? theirs.map((term) => ({ ...term, matchFields: [...(term.matchFields ?? []), ...(ours.matchFields ?? [])] }))
    : [ours];
  return {
    ...user,
    nodeAffinity: {
      ...user?.nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms },
    },
  };
}

/**
 * Required node affinity for one node. It matches the Node's name (metadata.name, as the
 * DaemonSet controller pins its pods), not its kubernetes.io/hostname label, whose value need
 * not equal the name; and it is affinity rather than spec.nodeName, so the scheduler still
 * checks the node's resources and taints instead of the kubelet rejecting the pod.
 */
export function nodeAffinity(node: string): object {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
      },
    },
  };
}

/** The data volume of a CR's cycle: the side comes from the kind (decision 16). */
export function cycleData(cr: ScribeCr, cycle: MoverCycle): MoverJobSpec['data'] {
  return { claimName: cycle.volume, side: cr.kind === 'ReplicationSource' ? 'source' : 'destination' };
}

/**
 * Whom the mover of `cr`'s side runs as: the namespace's annotation and the CR's
 * moverSecurityContext decide (machines/privilege.ts); `extraCapabilities` only when privileged.
 */
export function identityOf(
  cr: ScribeCr,
  facts: MoverFacts,
  moverSecurityContext: MoverPodSecurity | undefined,
  extraCapabilities: readonly string[] = [],
): MoverIdentity {
  return moverIdentity({
    side: cr.kind === 'ReplicationSource' ? 'source' : 'destination',
    privilegedNamespace: facts.privilegedNamespace ?? false,
    moverSecurityContext,
    extraCapabilities,
  });
}

/** The data volume of a mover pod: read-only for a source (decision 16). */
export function dataVolume(data: MoverJobSpec['data']): MoverVolume {
  const readOnly = data.side === 'source';
  return {
    name: 'data',
    mountPath: DATA_DIR,
    readOnly,
    source: { persistentVolumeClaim: { claimName: data.claimName, ...(readOnly ? { readOnly } : {}) } },
  };
}

/**
 * The container's securityContext: never privilege escalation, a read-only root, the runtime's
 * seccomp profile, and no capabilities but a privileged mover's. A privileged mover is root at
 * the container level, so the pod's groups and fsGroup (moverSecurityContext) still apply; an
 * unprivileged one must not run as root unless its moverSecurityContext says runAsUser 0, so an
 * image whose USER is root fails to start (the kubelet's runAsNonRoot check) instead of running
 * as root without capabilities (PodSecurity `restricted` asks for the same).
 */
function containerSecurity(identity: MoverIdentity): object {
  const root = identity.privileged;
  const explicitRoot =
    !identity.privileged && (identity.podSecurity.runAsUser === 0 || identity.podSecurity.runAsNonRoot === false);
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    ...(root ? { runAsNonRoot: false, runAsUser: 0 } : explicitRoot ? {} : { runAsNonRoot: true }),
    capabilities: { drop: ['ALL'], ...(root && identity.capabilities.length ? { add: identity.capabilities } : {}) },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Builds the Job of one mover attempt. */
export function moverJob(spec: MoverJobSpec): KubeObject {
  const volumes = [dataVolume(spec.data), ...spec.volumes];
  const identity: MoverIdentity = spec.identity ?? {
    privileged: false,
    podSecurity: DEFAULT_MOVER_USER,
    defaulted: true,
  };
  const podSecurity = identity.podSecurity;
  const labels = { ...objectLabels({ cycleId: spec.cycleId }), [ATTEMPT_LABEL]: String(spec.attempt) };
  const options = podSettingsOf(spec.section);
  const affinity = mergedAffinity(options.moverAffinity, spec.placement);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: spec.name, labels },
    spec: {
      backoffLimit: 0,
      template: {
        // The user's labels first: Scribe's own (the cycle, the Service's selector) always win.
        metadata: { labels: { ...options.moverPodLabels, ...labels, [MOVER_POD_LABEL]: spec.name } },
        spec: {
          restartPolicy: 'Never',
          // No mover calls the Kubernetes API: no token unless the user names a ServiceAccount
          // (then the ServiceAccount's own automountServiceAccountToken decides), and no
          // environment variables for every Service of the namespace.
          ...(options.moverServiceAccount
            ? { serviceAccountName: options.moverServiceAccount }
            : { automountServiceAccountToken: false }),
          enableServiceLinks: false,
          ...(spec.hostname ? { hostname: spec.hostname } : {}),
          ...(affinity ? { affinity } : {}),
          ...(spec.placement?.tolerations.length ? { tolerations: spec.placement.tolerations } : {}),
          ...(podSecurity ? { securityContext: podSecurity } : {}),
          containers: [
            {
              name: 'mover',
              image: imageFor(spec.mover),
              command: [`${APP_DIR}/bin/scribe`, 'mover', spec.entrypoint],
              env: [
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                { name: 'SCRIBE_RUN_DIR', value: '/tmp' },
                { name: 'SCRIBE_TERMINATION_LOG', value: '/dev/termination-log' },
                ...spec.env,
              ],
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                ...volumes.map((v) => ({ name: v.name, mountPath: v.mountPath, readOnly: v.readOnly ?? false })),
              ],
              ...(options.moverResources ? { resources: options.moverResources } : {}),
              terminationMessagePath: '/dev/termination-log',
              // The summary when the mover wrote one; the log's tail when it died before that.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              securityContext: containerSecurity(identity),
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }, ...volumes.map((v) => ({ name: v.name, ...v.source }))],
        },
      },
    },
  };
}

interface JobObject {
  metadata?: { name?: string; labels?: Record<string, string>; deletionTimestamp?: string; uid?: string };
  spec?: { template?: { spec?: { containers?: Array<{ command?: string[] }> } } };
  status?: { active?: number; conditions?: Array<{ type: string; status: string; message?: string }> };
}

interface PodObject {
  metadata?: { labels?: Record<string, string>; ownerReferences?: Array<{ uid: string }> };
  status?: {
    phase?: string;
    containerStatuses?: Array<{
      state?: {
        terminated?: { exitCode?: number; reason?: string; message?: string };
        waiting?: { reason?: string; message?: string };
        running?: unknown;
      };
    }>;
  };
}

/** A core/v1 Event as the Job controller records it about a Job (the operator watches only reason FailedCreate). */
interface JobEvent {
  kind?: string;
  reason?: string;
  message?: string;
  involvedObject?: { uid?: string };
}

/** The reason the Job controller gives an Event when the API server refuses the Job's pod. */
export const FAILED_CREATE_REASON = 'FailedCreate';

/**
 * Why the API server refused a mover Job's pod, in terms of the field to change, from the Job
 * controller's FailedCreate Event ("Error creating: pods "x" is forbidden: failed quota: q: must
 * specify limits.cpu for: mover"). The Job itself never says it (k8s.io/kubernetes
 * pkg/controller/job/job_controller.go manageJob and pkg/controller/controller_utils.go
 * createPods: the error becomes an Event and a retry with backoff, no condition), so without the
 * Event the CR would wait for ever. Undefined when the refusal is not one that lasts (a conflict
 * on the quota object, say, which the Job controller's next try gets past).
 */
export function explainRefusedPod(mover: string, eventMessage: string): string | undefined {
  const detail = eventMessage.replace(/^Error creating: /, '').replace(/^pods "[^"]*" is forbidden: /, '');
  if (!/\bis forbidden\b/.test(eventMessage)) return undefined;
  if (/(failed|exceeded) quota/.test(detail))
    return `spec.${mover}.moverResources: the namespace's ResourceQuota refused the mover pod (${detail}); set spec.${mover}.moverResources (requests and limits of cpu, memory or ephemeral-storage) as the quota demands`;
  if (/service ?account/i.test(detail))
    return `spec.${mover}.moverServiceAccount: the mover pod's ServiceAccount does not exist (${detail}); create it or omit moverServiceAccount`;
  return `the API server refused the mover pod: ${detail}`;
}

/** The mover a Job runs (rsync, rclone, restic), from its entrypoint (`scribe mover <mover>-<side>`). */
function moverOfJob(job: JobObject): string {
  const command = job.spec?.template?.spec?.containers?.[0]?.command ?? [];
  return (command[2] ?? 'mover').split('-')[0] ?? 'mover';
}

/** A Job's progress as the machines want it, with the pod's termination message as logs. */
export function readMoverJob(
  jobName: string,
  objects: readonly KubeObject[],
  explainExit: (code: number) => string,
  explainConfigError: (message: string) => Array<{ field: string; message: string }> = () => [],
): import('../../machines/observation.js').ObservedMover {
  const job = objects.find((o) => o.kind === 'Job' && o.metadata.name === jobName) as JobObject | undefined;
  if (!job || job.metadata?.deletionTimestamp) return { phase: 'absent' };
  const cycleId = job.metadata?.labels?.['scribe.backube/cycle'];
  const attempt = Number(job.metadata?.labels?.[ATTEMPT_LABEL] ?? 0);
  const pods = objects.filter(
    (o) => o.kind === 'Pod' && (o as PodObject).metadata?.ownerReferences?.some((r) => r.uid === job.metadata?.uid),
  ) as PodObject[];
  const container = pods.flatMap((pod) => pod.status?.containerStatuses ?? []).find((c) => c.state?.terminated);
  const terminated = container?.state?.terminated;
  const logs = terminated?.message?.trim() || undefined;
  const conditions = job.status?.conditions ?? [];
  const has = (type: string) => conditions.some((c) => c.type === type && c.status === 'True');
  // A pod that exited 0 is the attempt's success: the Job has no retries of its own (backoffLimit
  // 0, restartPolicy Never), so Complete can only follow, but the Job controller batches pod
  // updates for a second before saying so, and a sync would wait that second for nothing.
  const exitedZero = pods.some(
    (pod) => pod.status?.phase === 'Succeeded' && pod.status.containerStatuses?.[0]?.state?.terminated?.exitCode === 0,
  );
  if (has('Complete') || exitedZero) return { phase: 'succeeded', cycleId, attempt, logs };
  if (has('Failed')) {
    const exitCode = terminated?.exitCode;
    const why =
      exitCode !== undefined
        ? `mover exited with code ${exitCode}: ${explainExit(exitCode)}`
        : (conditions.find((c) => c.type === 'Failed')?.message ?? 'mover Job failed');
    return { phase: 'failed', cycleId, attempt, message: why, logs, ...(exitCode === undefined ? {} : { exitCode }) };
  }
  // No pod: the API server may have refused it (a ResourceQuota demanding limits, a missing
  // ServiceAccount). That is the attempt's failure, retried with backoff by a new Job built from
  // the spec as it is then, since a Job's pod template cannot change.
  if (pods.length === 0) {
    const refusal = (objects as ReadonlyArray<KubeObject & JobEvent>)
      .filter((o) => o.kind === 'Event' && o.reason === FAILED_CREATE_REASON)
      .filter((o) => o.involvedObject?.uid !== undefined && o.involvedObject.uid === job.metadata?.uid)
      .map((o) => explainRefusedPod(moverOfJob(job), o.message ?? ''))
      .find((why) => why !== undefined);
    if (refusal) return { phase: 'failed', cycleId, attempt, message: refusal };
  }
  const running = pods.some((pod) => pod.status?.phase === 'Running');
  const waiting = pods.flatMap((pod) => pod.status?.containerStatuses ?? []).find((c) => c.state?.waiting?.reason);
  const reason = waiting?.state?.waiting?.reason;
  const detail = waiting?.state?.waiting?.message ?? '';
  // The kubelet cannot start the pod because of its configuration (a missing Secret): a spec
  // problem for the user to fix, not a transfer to retry.
  const problems = reason === 'CreateContainerConfigError' ? explainConfigError(detail) : [];
  return {
    phase: running ? 'running' : 'pending',
    cycleId,
    attempt,
    ...(reason ? { message: `${reason}: ${detail}` } : {}),
    ...(problems.length > 0 ? { problems } : {}),
  };
}
