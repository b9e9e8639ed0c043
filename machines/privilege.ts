/**
 * Whom a mover pod runs as (VolSync's permission model, docs/permissions.md). Pure: the operator
 * observes the namespace's annotations, the builders turn the answer into the pod's
 * securityContext (src/movers/job.ts).
 *
 * - Unprivileged (the default): the pod runs as the CR's moverSecurityContext, or as
 *   DEFAULT_MOVER_USER when it names none, with no capabilities at all. It reads what that user
 *   may read and restores what that user may write; PodSecurity `restricted` admits it.
 * - Privileged: a namespace annotated `scribe.backube/privileged-movers: "true"` runs its movers
 *   as root with only the capabilities their side needs, so owners, modes, ACLs and xattrs
 *   survive; PodSecurity `baseline` admits it.
 */

/** The namespace annotation that lets a namespace's movers run as root with capabilities. */
export const PRIVILEGED_MOVERS_ANNOTATION = 'scribe.backube/privileged-movers';

/** The mover pod's PodSecurityContext fields Scribe applies (the API's moverSecurityContext). */
export interface MoverPodSecurity {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  fsGroupChangePolicy?: 'OnRootMismatch' | 'Always';
  supplementalGroups?: number[];
}

/** Whom an unprivileged mover runs as when its CR names nobody: nobody, writing through fsGroup. */
export const DEFAULT_MOVER_USER: MoverPodSecurity = {
  runAsUser: 65534,
  runAsGroup: 65534,
  runAsNonRoot: true,
  fsGroup: 65534,
};

/**
 * What a privileged source needs: to read every file. DAC_OVERRIDE rather than the narrower
 * DAC_READ_SEARCH because PodSecurity `baseline` allows only the former; on the source's
 * read-only mount it cannot write all the same.
 */
export const PRIVILEGED_SOURCE_CAPABILITIES = ['DAC_OVERRIDE'] as const;

/**
 * What a privileged destination needs to restore files as they were: give them their owners
 * (CHOWN), set modes, times, ACLs and xattrs on files it does not own (FOWNER), keep setuid and
 * setgid bits across that (FSETID), write into directories whose modes it restored
 * (DAC_OVERRIDE), and restore file capabilities (SETFCAP). All within `baseline`.
 */
export const PRIVILEGED_DESTINATION_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'SETFCAP'] as const;

/** Whom one mover pod runs as. */
export type MoverIdentity =
  | {
      privileged: true;
      /** Linux capabilities added to an otherwise empty set. */
      capabilities: string[];
      /** The CR's moverSecurityContext: its groups and fsGroup still apply to the pod. */
      podSecurity?: MoverPodSecurity | undefined;
    }
  | {
      privileged: false;
      podSecurity: MoverPodSecurity;
      /** True when the CR named nobody and the mover runs as DEFAULT_MOVER_USER. */
      defaulted: boolean;
    };

/** Whether a namespace with these annotations runs its movers privileged (the value must be "true"). */
export function privilegedMoversAllowed(annotations: Readonly<Record<string, string>> | undefined): boolean {
  return annotations?.[PRIVILEGED_MOVERS_ANNOTATION] === 'true';
}

/**
 * Whom a mover of `side` runs as. `extraCapabilities` are what a mover needs beyond its side's
 * in privileged mode (the rsync destination's sshd: SETUID and friends); they are never given
 * to an unprivileged mover.
 */
export function moverIdentity(input: {
  side: 'source' | 'destination';
  privilegedNamespace: boolean;
  moverSecurityContext?: MoverPodSecurity | undefined;
  extraCapabilities?: readonly string[];
}): MoverIdentity {
  if (input.privilegedNamespace) {
    const base = input.side === 'source' ? PRIVILEGED_SOURCE_CAPABILITIES : PRIVILEGED_DESTINATION_CAPABILITIES;
    const capabilities = [...new Set([...base, ...(input.extraCapabilities ?? [])])].sort();
    return { privileged: true, capabilities, podSecurity: input.moverSecurityContext };
  }
  if (input.moverSecurityContext)
    return { privileged: false, podSecurity: input.moverSecurityContext, defaulted: false };
  return { privileged: false, podSecurity: DEFAULT_MOVER_USER, defaulted: true };
}

/** One line for the user on whom a mover runs as and how to change it (an Event when its Job is made). */
export function describeIdentity(identity: MoverIdentity): string {
  if (identity.privileged)
    return `the mover runs as root with ${identity.capabilities.join(', ')} (namespace annotated ${PRIVILEGED_MOVERS_ANNOTATION}: "true")`;
  const user = identity.podSecurity.runAsUser;
  const who = user === undefined ? "the image's user" : `user ${user}`;
  if (identity.defaulted)
    return `the mover runs unprivileged as ${who}, the default: set moverSecurityContext to run it as the files' owner, or annotate the namespace ${PRIVILEGED_MOVERS_ANNOTATION}: "true" to preserve every owner (docs/permissions.md)`;
  return `the mover runs unprivileged as ${who} (moverSecurityContext)`;
}
