/**
 * The volume populator's decisions (docs/populator.md): a PVC whose `dataSourceRef` names a
 * ReplicationDestination is filled from that destination's latest image, as VolSync's populator
 * and kubernetes-csi/lib-volume-populator do it. A "prime" PVC of the same class, size and access
 * modes restores the image (a VolumeSnapshot); once it is Bound, its PersistentVolume's claimRef
 * is pointed at the user's PVC, the PV controller binds the two, and the prime is deleted.
 *
 * Pure: the caller gives the user's PVC, the destination, the prime and its PV as plain data
 * (as the caches hold them) and executes the actions in order (src/effects/populator.ts).
 */
import { SCRIBE_GROUP } from './api.js';
import { CREATED_BY_LABEL } from './naming.js';

/** The kind a PVC's dataSourceRef names to be populated by Scribe. */
export const POPULATOR_KIND = 'ReplicationDestination';

/** The group of the VolumeSnapshots a prime PVC restores. */
export const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io';

/** The annotation the rebound PV carries: namespace/name of the image it was restored from. */
export const POPULATED_FROM_ANNOTATION = `${SCRIBE_GROUP}/populated-from`;

/** The scheduler's choice of node for a WaitForFirstConsumer claim; a prime must land there too. */
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';

/** Event reasons on the user's PVC. */
export const PopulatorReasons = {
  /** Normal: the destination has no image yet; the PVC stays Pending. */
  Waiting: 'PopulatorWaitingForImage',
  /** Warning: no such ReplicationDestination in the PVC's namespace. */
  DestinationNotFound: 'PopulatorDestinationNotFound',
  /** Warning: the destination's image is not a VolumeSnapshot (copyMethod None), or the reference is unusable. */
  Unusable: 'PopulatorSourceUnusable',
  /** Normal: the prime PVC was created from the image. */
  Populating: 'PopulatorPopulating',
  /** Normal: the restored volume was handed to the PVC. */
  Populated: 'PopulatorPopulated',
  /** Warning: an API call failed (set by the effects layer). */
  Failed: 'PopulatorFailed',
} as const;

/** A PersistentVolumeClaim as the populator reads it (a subset of core/v1). */
export interface ClaimData {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
    deletionTimestamp?: unknown;
  };
  spec?: {
    accessModes?: string[];
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    storageClassName?: string;
    volumeMode?: string;
    volumeName?: string;
    dataSource?: { apiGroup?: string; kind: string; name: string };
    dataSourceRef?: { apiGroup?: string; kind: string; name: string; namespace?: string };
  };
  status?: { phase?: string };
}

/** A PersistentVolume as the populator reads it. */
export interface VolumeData {
  metadata?: { name?: string };
  spec?: { claimRef?: { namespace?: string; name?: string; uid?: string } };
}

/** A ReplicationDestination as the populator reads it: only its latest image matters. */
export interface DestinationData {
  metadata?: { name?: string; namespace?: string };
  status?: { latestImage?: { apiGroup?: string; kind: string; name: string } };
}

/** What the populator knows about one user PVC. */
export interface PopulatorFacts {
  pvc: ClaimData;
  /** The destination the PVC names; undefined when it does not exist. */
  destination: DestinationData | undefined;
  /** The prime PVC (primeName of the PVC's uid); undefined when absent. */
  prime: ClaimData | undefined;
  /** The prime's PV (prime.spec.volumeName); undefined when the prime has none or it does not exist. */
  primeVolume: VolumeData | undefined;
}

/** What the effects layer does, in order. */
export type PopulatorAction =
  | { type: 'createPrime'; prime: ClaimData }
  | {
      type: 'rebindVolume';
      volume: string;
      /** The prime's uid, which the PV's claimRef must still hold: the patch is refused otherwise. */
      fromUid: string;
      claimRef: { namespace: string; name: string; uid: string; resourceVersion?: string };
      populatedFrom: string;
    }
  | { type: 'deletePrime'; namespace: string; name: string }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

/** Whether `pvc` asks Scribe to populate it: its dataSourceRef names a ReplicationDestination. */
export function namesDestination(pvc: ClaimData): boolean {
  const ref = pvc.spec?.dataSourceRef;
  return ref?.apiGroup === SCRIBE_GROUP && ref.kind === POPULATOR_KIND && Boolean(ref.name);
}

/** The name of the user PVC a prime PVC was made for (its controller ownerReference), if it is one. */
export function primeOwner(prime: ClaimData): string | undefined {
  const owner = prime.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === 'PersistentVolumeClaim');
  return owner && prime.metadata?.name === primeName(owner.uid) ? owner.name : undefined;
}

/** The prime PVC's name for a user PVC's uid (uids are 36 characters: the name fits 63). */
export function primeName(uid: string): string {
  return `scribe-prime-${uid}`;
}

const event = (eventType: 'Normal' | 'Warning', reason: string, message: string): PopulatorAction => ({
  type: 'event',
  eventType,
  reason,
  message,
});

/** The actions that move the population of `facts.pvc` one step on; none when it waits or is done. */
export function decidePopulation(facts: PopulatorFacts): PopulatorAction[] {
  const { pvc, destination, prime, primeVolume } = facts;
  if (!namesDestination(pvc) || pvc.metadata?.deletionTimestamp) return [];
  const namespace = pvc.metadata?.namespace ?? '';
  const name = pvc.metadata?.name ?? '';
  const uid = pvc.metadata?.uid ?? '';
  const ref = pvc.spec?.dataSourceRef as { name: string; namespace?: string };

  // The PVC has its volume: the prime, ours and temporary, goes once the PV is no longer its
  // own (deleting it earlier would release the restored volume and reclaim it).
  if (pvc.spec?.volumeName) {
    if (!prime || prime.metadata?.deletionTimestamp) return [];
    if (prime.spec?.volumeName === pvc.spec.volumeName) {
      return [
        event(
          'Normal',
          PopulatorReasons.Populated,
          `populated from ${prime.spec?.dataSource?.name ?? 'the image'} of ReplicationDestination ${ref.name}: volume ${pvc.spec.volumeName} is bound`,
        ),
        { type: 'deletePrime', namespace, name: prime.metadata?.name ?? '' },
      ];
    }
    // Bound to another volume (not by Scribe): the prime is of no use; its volume is Scribe's own.
    return [{ type: 'deletePrime', namespace, name: prime.metadata?.name ?? '' }];
  }

  if (!prime) {
    if (ref.namespace && ref.namespace !== namespace) {
      return [
        event(
          'Warning',
          PopulatorReasons.Unusable,
          `dataSourceRef.namespace ${ref.namespace}: Scribe populates a PVC only from a ReplicationDestination of its own namespace (${namespace})`,
        ),
      ];
    }
    if (!destination) {
      return [
        event(
          'Warning',
          PopulatorReasons.DestinationNotFound,
          `ReplicationDestination ${ref.name} not found in namespace ${namespace}; the PVC stays Pending until it exists and has an image`,
        ),
      ];
    }
    const image = destination.status?.latestImage;
    if (!image) {
      return [
        event(
          'Normal',
          PopulatorReasons.Waiting,
          `waiting for the first image of ReplicationDestination ${ref.name} (status.latestImage); the PVC stays Pending until then`,
        ),
      ];
    }
    if (image.kind !== 'VolumeSnapshot' || image.apiGroup !== SNAPSHOT_GROUP) {
      return [
        event(
          'Warning',
          PopulatorReasons.Unusable,
          `ReplicationDestination ${ref.name} has copyMethod None: its image is the ${image.kind} ${image.name}, not a VolumeSnapshot, so it cannot populate a volume; use copyMethod Snapshot, or clone ${image.name} with dataSource kind PersistentVolumeClaim`,
        ),
      ];
    }
    return [
      { type: 'createPrime', prime: primeFor(pvc, image.name) },
      event(
        'Normal',
        PopulatorReasons.Populating,
        `restoring VolumeSnapshot ${image.name}, the latest image of ReplicationDestination ${ref.name}, into PVC ${primeName(uid)}`,
      ),
    ];
  }

  // The prime restores; its volume is handed over once it is Bound.
  if (prime.metadata?.deletionTimestamp || !prime.spec?.volumeName || prime.status?.phase !== 'Bound') return [];
  const claimRef = primeVolume?.spec?.claimRef;
  if (!claimRef || claimRef.uid !== prime.metadata?.uid) return []; // already handed over, or not yet seen
  return [
    {
      type: 'rebindVolume',
      volume: prime.spec.volumeName,
      fromUid: claimRef.uid ?? '',
      claimRef: { namespace, name, uid, resourceVersion: pvc.metadata?.resourceVersion },
      populatedFrom: `${namespace}/${prime.spec.dataSource?.name ?? ''}`,
    },
  ];
}

/** The prime PVC for `pvc`: its class, size, access and volume mode, restoring `snapshot`. */
export function primeFor(pvc: ClaimData, snapshot: string): ClaimData {
  const selectedNode = pvc.metadata?.annotations?.[SELECTED_NODE_ANNOTATION];
  const spec: NonNullable<ClaimData['spec']> = {
    accessModes: pvc.spec?.accessModes,
    resources: pvc.spec?.resources,
    dataSource: { apiGroup: SNAPSHOT_GROUP, kind: 'VolumeSnapshot', name: snapshot },
  };
  if (pvc.spec?.storageClassName !== undefined) spec.storageClassName = pvc.spec.storageClassName;
  if (pvc.spec?.volumeMode) spec.volumeMode = pvc.spec.volumeMode;
  return {
    metadata: {
      name: primeName(pvc.metadata?.uid ?? ''),
      namespace: pvc.metadata?.namespace,
      labels: { [CREATED_BY_LABEL]: 'scribe' },
      // The user's PVC owns it: deleting that PVC mid-restore takes the prime (and its volume) along.
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          name: pvc.metadata?.name ?? '',
          uid: pvc.metadata?.uid ?? '',
          controller: true,
        },
      ],
      ...(selectedNode ? { annotations: { [SELECTED_NODE_ANNOTATION]: selectedNode } } : {}),
    },
    spec,
  };
}
