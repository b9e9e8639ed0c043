/**
 * The images a copyMethod Snapshot destination keeps (issue 26): status.images, oldest first,
 * whose last entry is latestImage. After a sync the images beyond spec.<mover>.imagesToKeep go,
 * oldest first, except:
 *
 * - one a PVC still restores from (it names the snapshot in dataSource/dataSourceRef and is not
 *   Bound yet): deleting it would leave that PVC Pending for ever, so it stays listed until the
 *   PVC is bound, then goes;
 * - one labelled scribe.backube/do-not-delete, or no longer owned by the CR (decision 20): it is
 *   the user's, so it is released instead and leaves the list.
 *
 * An image stays listed until its deletion is seen (write-ahead: the list is the persisted fact
 * that tells a restarted operator what is still to delete). Pure functions; the machine calls
 * them at completion (status-writers.ts), in idle, and asks for the deletes in every state but invalid
 * and external (level.ts).
 */
import type { Action, DeleteObjectAction } from './actions.js';
import type { DestinationImage, ScribeCr, ScribeStatus } from './api.js';
import { moverOptions } from './cycle.js';
import type { ObservedSnapshot, OwnedObjects } from './observation.js';
import { formatTimestamp } from './time.js';

/** The API group of VolumeSnapshots, as images and a PVC's dataSource name it. */
export const SNAPSHOT_API_GROUP = 'snapshot.storage.k8s.io';

/**
 * How many images the destination keeps: spec.<mover>.imagesToKeep (default 1, the seed's one
 * latestImage) with copyMethod Snapshot; none otherwise (a destination switched to None keeps
 * its PVC as latestImage, and its snapshot images go once that is recorded, as in the seed).
 */
export function imagesToKeep(cr: ScribeCr): number {
  if (cr.kind !== 'ReplicationDestination') return 0;
  const options = moverOptions(cr);
  if (options.copyMethod !== 'Snapshot') return 0;
  const wanted = options.imagesToKeep;
  return typeof wanted === 'number' && Number.isInteger(wanted) && wanted >= 1 ? wanted : 1;
}

/**
 * The images status lists. A status written before status.images existed has only latestImage:
 * a VolumeSnapshot there is the one image, taken at the last sync.
 */
export function listedImages(status: ScribeStatus, now: number): DestinationImage[] {
  if (status.images) return status.images;
  const latest = status.latestImage;
  if (latest?.kind !== 'VolumeSnapshot') return [];
  const time = status.lastSyncTime ?? formatTimestamp(now);
  return [{ apiGroup: SNAPSHOT_API_GROUP, kind: 'VolumeSnapshot', name: latest.name, time }];
}

/** The snapshot a kept or deleted image is, as the observation holds it. */
export type ImageSnapshots = Readonly<Record<string, ObservedSnapshot | undefined>>;

/** What retention decides for a list of images. */
export interface Retention {
  /** The images to list next, oldest first: those kept, those held, and those still to delete. */
  next: DestinationImage[];
  /** Images to delete now, oldest first: beyond the number kept, owned, unlabelled, not restoring. */
  deletes: string[];
  /** Images beyond the number kept that stay while a PVC restores from them. */
  held: string[];
  /** Images beyond the number kept that are the user's (labelled or not owned): they leave the list, undeleted. */
  released: string[];
}

/** Whether a PVC that is not bound yet restores from the snapshot. */
export function restoring(snapshot: ObservedSnapshot | undefined): boolean {
  return (snapshot?.restoringPvcs?.length ?? 0) > 0;
}

/** Whether the snapshot is the user's: labelled do-not-delete, or no longer owned by the CR (decision 20). */
function usersOwn(snapshot: ObservedSnapshot): boolean {
  return snapshot.doNotDelete === true || snapshot.released === true;
}

/**
 * Retention over `images` (oldest first): the newest `keep` and the latestImage `latest` are kept
 * (a kept image whose snapshot is gone leaves the list, unless it is latestImage); every older
 * one is deleted, held while a PVC restores from it, or released when it is the user's. One
 * already being deleted or gone leaves the list.
 */
export function retention(
  images: readonly DestinationImage[],
  keep: number,
  latest: string | undefined,
  snapshots: ImageSnapshots,
): Retention {
  const result: Retention = { next: [], deletes: [], held: [], released: [] };
  const firstKept = images.length - Math.max(0, keep);
  images.forEach((image, index) => {
    const snapshot = snapshots[image.name];
    if (image.name === latest) {
      result.next.push(image);
      return;
    }
    if (index >= firstKept) {
      if (snapshot && !snapshot.deleting) result.next.push(image);
      return;
    }
    if (!snapshot || snapshot.deleting) return;
    if (usersOwn(snapshot)) {
      result.released.push(image.name);
      return;
    }
    result.next.push(image);
    if (restoring(snapshot)) result.held.push(image.name);
    else result.deletes.push(image.name);
  });
  return result;
}

/** The name of a VolumeSnapshot latestImage. */
function latestSnapshot(status: ScribeStatus): string | undefined {
  return status.latestImage?.kind === 'VolumeSnapshot' ? status.latestImage.name : undefined;
}

/** Retention of a destination's listed images, as status holds them now. */
export function retentionOf(cr: ScribeCr, status: ScribeStatus, snapshots: ImageSnapshots, now: number): Retention {
  return retention(listedImages(status, now), imagesToKeep(cr), latestSnapshot(status), snapshots);
}

/** status with `images` set, or without the key when there are none. */
export function withImages(status: ScribeStatus, images: readonly DestinationImage[]): ScribeStatus {
  if (images.length > 0) return { ...status, images: [...images] };
  if (status.images === undefined) return status;
  const { images: _dropped, ...rest } = status;
  return rest;
}

/** Idle: the listed images after what the observation shows (migrated, deleted ones gone). */
export function settledImages(
  cr: ScribeCr,
  status: ScribeStatus,
  snapshots: ImageSnapshots,
  now: number,
): ScribeStatus {
  if (cr.kind !== 'ReplicationDestination') return status;
  return withImages(status, retentionOf(cr, status, snapshots, now).next);
}

/** What a completion records about images. */
export interface CompletedImages {
  status: ScribeStatus;
  /**
   * The image the completing cycle deletes and waits for until it is gone
   * (cycle.objects.previousImage): the replaced latestImage when it goes now, as the seed's one
   * image did, else the oldest image retention deletes now. Any other is deleted by the level
   * actions and leaves the list once its deletion is seen.
   */
  previousImage: string | undefined;
}

/**
 * A destination's sync completes with a new latestImage `image`: a VolumeSnapshot joins the
 * images `before` lists, taken at `time` (the sync's completion), and retention runs over the
 * list; the result is written into `status`.
 */
export function completedImages(
  cr: ScribeCr,
  before: ScribeStatus,
  status: ScribeStatus,
  image: { kind: string; name: string },
  owned: Pick<OwnedObjects, 'snapshots' | 'mover'>,
  time: string,
): CompletedImages {
  const snapshots = owned.snapshots;
  // When the source's data was taken, as this cycle's mover says (restic: the restored snapshot's time).
  const mover = owned.mover;
  const ofCycle = mover.phase === 'succeeded' && mover.cycleId !== undefined && mover.cycleId === before.cycle?.id;
  const sourceSyncTime = ofCycle ? mover.sourceSyncTime : undefined;
  const listed = listedImages(before, Date.parse(time)).filter((listed) => listed.name !== image.name);
  const added: DestinationImage[] =
    image.kind === 'VolumeSnapshot'
      ? [
          {
            apiGroup: SNAPSHOT_API_GROUP,
            kind: 'VolumeSnapshot',
            name: image.name,
            time,
            ...(sourceSyncTime !== undefined ? { sourceSyncTime } : {}),
          },
        ]
      : [];
  const latest = image.kind === 'VolumeSnapshot' ? image.name : undefined;
  const decided = retention([...listed, ...added], imagesToKeep(cr), latest, snapshots);
  const replaced = latestSnapshot(before);
  const stays = decided.next.some((kept) => kept.name === replaced) && !decided.deletes.includes(replaced ?? '');
  // A replaced image a PVC restores from stays until it is bound; one kept by imagesToKeep stays.
  // Labelled or gone, it is still named, so the cycle's cleanup treats it as the seed's did.
  const goes = replaced !== undefined && replaced !== image.name && !stays;
  // Otherwise the oldest image deleted now: the cycle ends once it is gone, so the idle state
  // that follows lists it no more, even for a destination that starts its next cycle at once.
  return { status: withImages(status, decided.next), previousImage: goes ? replaced : decided.deletes[0] };
}

/**
 * The deletes retention asks for in a settled state: none while the spec is invalid or the CR
 * external (nothing is deleted then), none already asked for by the state (`asked`).
 */
export function retentionDeletes(
  state: string,
  cr: ScribeCr,
  status: ScribeStatus,
  snapshots: ImageSnapshots,
  now: number,
  asked: readonly Action[],
): DeleteObjectAction[] {
  if (cr.kind !== 'ReplicationDestination' || state === 'invalid' || state === 'external') return [];
  const deleting = new Set(asked.flatMap((a) => (a.type === 'deleteObject' ? [a.name] : [])));
  const keep = imagesToKeep(cr);
  return retentionOf(cr, status, snapshots, now)
    .deletes.filter((name) => !deleting.has(name))
    .map((name) => ({
      type: 'deleteObject',
      kind: 'VolumeSnapshot',
      name,
      reason: keep > 0 ? `older than the ${keep} image(s) kept (imagesToKeep)` : 'copyMethod is no longer Snapshot',
    }));
}
