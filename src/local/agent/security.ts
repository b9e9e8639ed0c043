/**
 * What a container's process is allowed to be, resolved from the pod's and the container's
 * securityContext and the image's USER as the kubelet and containerd resolve them. The node's
 * container runner (runc.ts) writes it into the OCI runtime spec; runc applies it.
 */

/** The process's real user and groups (no user namespace: the kernel checks these ids). */
export interface ProcessIdentity {
  uid: number;
  gid: number;
  /** Supplementary groups: the image's /etc/group memberships, supplementalGroups, fsGroup. */
  additionalGids: number[];
}

/** Capability sets by name ("CAP_CHOWN"), as the OCI runtime spec's process.capabilities. */
export interface CapabilitySets {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

/** Everything the runtime spec needs from the securityContext. */
export interface ContainerSecurity {
  identity: ProcessIdentity;
  capabilities: CapabilitySets;
  /** allowPrivilegeEscalation: false (and not privileged) sets no_new_privs. */
  noNewPrivileges: boolean;
  readOnlyRootFilesystem: boolean;
  privileged: boolean;
  /** Paths hidden from the container (containerd's defaults; none when privileged). */
  maskedPaths: string[];
  /** Paths mounted read-only in the container (containerd's defaults; none when privileged). */
  readonlyPaths: string[];
}
