/**
 * `kubectl scribe restore --from rd/NAME [--as-of TIME] --to PVC`: a new PVC from one of a
 * ReplicationDestination's images (restore-choice.ts decides which), awaited until it is Bound
 * (restores.ts: the image may go only then). A restic destination given --as-of is restored
 * through restic's restoreAsOf instead, by a one-off destination this command creates and
 * deletes by name: its repository keeps more than the destination's last few images.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination } from '../api/index.js';
import { moverSections, type CommonMoverOptions } from '../../machines/mover.js';
import { EXIT_FAILURE, PluginError } from './errors.js';
import { createObject, deleteObject, pollUntil, read, type Cluster } from './kube.js';
import { CREATED_BY, CREATED_BY_LABEL } from './manifests.js';
import { followSync, manualToken, type Print } from './progress.js';
import { SNAPSHOT_API_GROUP, waitForRestore } from './restores.js';
import { chooseImage, oneOffName, restorePath, resticRestored, type DestinationImage } from './restore-choice.js';

/** What the command was asked. */
export interface RestoreRequest {
  cluster: Cluster;
  namespace: string;
  /** The ReplicationDestination's name (from --from rd/NAME). */
  from: string;
  to: string;
  asOf?: Date;
  storageClass?: string;
  timeoutMs: number;
  print: Print;
}

/** A destination's mover section, as far as a restore reads it. */
type MoverSection = CommonMoverOptions;
type Destination = ReplicationDestination & {
  status?: { images?: DestinationImage[]; latestImage?: DestinationImage };
};
type Snapshot = KubernetesObject & { status?: { restoreSize?: string; creationTime?: string } };
type Pvc = KubernetesObject & {
  spec?: { resources?: { requests?: { storage?: string } } };
  status?: { capacity?: { storage?: string } };
};

/** The mover of a destination and its section (undefined for an external provider). */
function moverOf(rd: ReplicationDestination): { mover?: string; section: MoverSection } {
  const [found] = moverSections(rd);
  return found ? { mover: found[0], section: found[1] } : { section: {} };
}

/** When an image was taken: its status.images time, else (latestImage alone) its snapshot's. */
async function imageTime(c: Cluster, namespace: string, image: DestinationImage): Promise<string | undefined> {
  if (image.time) return image.time;
  const snapshot = await read<Snapshot>(c, 'VolumeSnapshot', namespace, image.name);
  return snapshot?.status?.creationTime ?? snapshot?.metadata?.creationTimestamp?.toString();
}

/** The images of a destination: status.images, or latestImage alone (with its snapshot's time). */
async function imagesOf(c: Cluster, rd: Destination): Promise<DestinationImage[]> {
  const namespace = rd.metadata.namespace ?? '';
  const images = (rd.status?.images ?? []).filter((i) => i.kind === undefined || i.kind === 'VolumeSnapshot');
  if (images.length > 0) return images;
  const latest = rd.status?.latestImage;
  if (!latest || latest.kind !== 'VolumeSnapshot') return [];
  return [{ ...latest, time: await imageTime(c, namespace, latest) }];
}

/** The size of the restored PVC: the snapshot's restoreSize, else the destination's capacity. */
async function restoreSize(
  c: Cluster,
  namespace: string,
  snapshot: Snapshot | undefined,
  section: MoverSection,
): Promise<string> {
  const own = snapshot?.status?.restoreSize ?? section.capacity;
  if (own !== undefined) return String(own);
  if (section.destinationPVC) {
    const pvc = await read<Pvc>(c, 'PersistentVolumeClaim', namespace, section.destinationPVC);
    const size = pvc?.status?.capacity?.storage ?? pvc?.spec?.resources?.requests?.storage;
    if (size) return size;
  }
  throw new PluginError(
    `cannot tell the size of the restored PVC: VolumeSnapshot ${namespace}/${snapshot?.metadata?.name ?? '?'} has no status.restoreSize and the destination no capacity`,
  );
}

/** The PVC restored from a snapshot. */
function restoredPvc(name: string, snapshot: string, size: string, section: MoverSection, storageClass?: string) {
  const className = storageClass ?? section.storageClassName;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, labels: { [CREATED_BY_LABEL]: CREATED_BY } },
    spec: {
      accessModes: section.accessModes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: size } },
      ...(className ? { storageClassName: className } : {}),
      dataSource: { apiGroup: SNAPSHOT_API_GROUP, kind: 'VolumeSnapshot', name: snapshot },
    },
  };
}

/**
 * Creates PVC `to` from VolumeSnapshot `image` and waits until it is Bound. The snapshot is
 * read again once the PVC exists: had it been deleted in between (a sync's retention), the PVC
 * would stay Pending for ever, so this command deletes the PVC it has just created and says so.
 */
async function restoreFromSnapshot(
  req: RestoreRequest,
  image: string,
  section: MoverSection,
): Promise<'bound' | 'firstConsumer' | 'notWaited'> {
  const { cluster: c, namespace, to, print } = req;
  const snapshot = await read<Snapshot>(c, 'VolumeSnapshot', namespace, image);
  if (!snapshot) throw new PluginError(`VolumeSnapshot ${namespace}/${image} is gone: run restore again`);
  const size = await restoreSize(c, namespace, snapshot, section);
  const { created } = await createObject(
    c,
    'PersistentVolumeClaim',
    namespace,
    restoredPvc(to, image, size, section, req.storageClass),
  );
  if (!created) throw new PluginError(`--to ${to}: PVC ${namespace}/${to} already exists; name a new PVC`);
  const still = await read<Snapshot>(c, 'VolumeSnapshot', namespace, image);
  if (!still || still.metadata?.deletionTimestamp) {
    await deleteObject(c, 'PersistentVolumeClaim', namespace, to);
    throw new PluginError(
      `VolumeSnapshot ${namespace}/${image} was deleted while PVC ${to} was being created (a sync rotated it out); the PVC was deleted again: run restore again`,
    );
  }
  print(`created PVC ${namespace}/${to} (${size}) from VolumeSnapshot ${image}`);
  const ended = await waitForRestore(c, namespace, to, image, { print, timeoutMs: req.timeoutMs });
  if (ended === 'bound') print(`PVC ${namespace}/${to} is Bound with the data of VolumeSnapshot ${image}`);
  return ended;
}

/** The restore of a destination's own image (rsync, rclone, restic without --as-of). */
async function restoreImage(req: RestoreRequest, rd: Destination, section: MoverSection): Promise<void> {
  const images = await imagesOf(req.cluster, rd);
  const image = chooseImage(req.from, images, images.at(-1), req.asOf);
  const which = req.asOf ? `the newest at or before ${req.asOf.toISOString()}` : 'the latest';
  req.print(
    `chose image ${image.name} taken ${image.time ?? '(time unknown)'} (${which}, of ${images.length} image(s))`,
  );
  await restoreFromSnapshot(req, image.name, section);
}

/** Settings of the destination the one-off does not take. */
const NOT_IN_ONE_OFF = new Set(['destinationPVC', 'previous', 'imagesToKeep', 'restoreAsOf']);

/** The one-off restic destination: the same repository and settings, restoreAsOf and a manual trigger. */
export function oneOffDestination(
  rd: ReplicationDestination,
  section: MoverSection,
  name: string,
  asOf: Date,
  token: string,
  capacity: string,
) {
  // Its own PVC, the default number of images, no "previous": only the time selects.
  const settings = Object.fromEntries(Object.entries(section).filter(([key]) => !NOT_IN_ONE_OFF.has(key)));
  return {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationDestination',
    metadata: {
      name,
      labels: { [CREATED_BY_LABEL]: CREATED_BY },
      annotations: { 'scribe.backube/restore-of': rd.metadata.name ?? '' },
    },
    spec: {
      trigger: { manual: token },
      restic: { ...settings, copyMethod: 'Snapshot', capacity, restoreAsOf: asOf.toISOString() },
    },
  };
}

/**
 * restic with --as-of: a one-off destination restores the newest restic snapshot at or before
 * the time into its own PVC and snapshots it; PVC `to` is made from that image. The one-off
 * destination (and with it its image, cache and PVC) is deleted once `to` is Bound; kept, with
 * a line saying so, while `to` still needs the image.
 */
async function restoreResticAsOf(req: RestoreRequest, rd: Destination, section: MoverSection): Promise<void> {
  const { cluster: c, namespace, print } = req;
  const asOf = req.asOf as Date;
  const name = oneOffName(req.to);
  const capacity = await restoreSize(c, namespace, undefined, section);
  const token = manualToken();
  const { created } = await createObject(
    c,
    'ReplicationDestination',
    namespace,
    oneOffDestination(rd, section, name, asOf, token, capacity),
  );
  if (!created) {
    throw new PluginError(
      `ReplicationDestination ${namespace}/${name} already exists: restore --to ${req.to} creates its one-off destination under that name; delete it or choose another --to`,
    );
  }
  print(
    `created ReplicationDestination ${namespace}/${name}: restic restores the newest snapshot at or before ${asOf.toISOString()}`,
  );
  let keep = false;
  try {
    const synced = await followSync(c, 'ReplicationDestination', namespace, name, token, {
      print,
      timeoutMs: req.timeoutMs,
      failFast: true,
    });
    const done = await pollUntil(
      `the image of ReplicationDestination ${namespace}/${name}`,
      () => read<Destination>(c, 'ReplicationDestination', namespace, name),
      (o) => Boolean(o?.status?.latestImage?.name),
      req.timeoutMs,
    );
    const image = done?.status?.latestImage as DestinationImage;
    // The image holds the restic snapshot restored: its sourceSyncTime (else the mover's summary)
    // says when that was taken; the image's own time is only when the one-off took it.
    const restored = resticRestored(synced.status?.latestMoverStatus?.logs);
    const taken = done?.status?.images?.find((i) => i.name === image.name)?.sourceSyncTime ?? restored?.time;
    const what = `restic snapshot${restored ? ` ${restored.id}` : ''}${taken ? ` taken ${taken}` : ''}`;
    print(`chose ${what} (restic's newest at or before ${asOf.toISOString()}), restored into image ${image.name}`);
    keep = true; // From here on PVC `to` may restore from the image: it stays unless Bound.
    const ended = await restoreFromSnapshot(req, image.name, section);
    keep = ended !== 'bound';
  } finally {
    if (keep) {
      print(
        `kept ReplicationDestination ${namespace}/${name}: PVC ${req.to} still restores from its image; delete it once the PVC is Bound: kubectl delete replicationdestination -n ${namespace} ${name}`,
      );
    } else {
      await deleteObject(c, 'ReplicationDestination', namespace, name);
      print(`deleted ReplicationDestination ${namespace}/${name}`);
    }
  }
}

/** The restore command: checks, then the image path or restic's. */
export async function restore(req: RestoreRequest): Promise<void> {
  const { cluster: c, namespace } = req;
  const rd = await read<Destination>(c, 'ReplicationDestination', namespace, req.from);
  if (!rd) {
    throw new PluginError(
      `--from rd/${req.from}: ReplicationDestination ${namespace}/${req.from} not found (context ${c.context})`,
      EXIT_FAILURE,
    );
  }
  if (await read(c, 'PersistentVolumeClaim', namespace, req.to)) {
    throw new PluginError(`--to ${req.to}: PVC ${namespace}/${req.to} already exists; name a new PVC`);
  }
  const { mover, section } = moverOf(rd);
  const path = restorePath({ name: req.from, mover, copyMethod: section.copyMethod }, req.asOf);
  if (path === 'resticAsOf') await restoreResticAsOf(req, rd, section);
  else await restoreImage(req, rd, section);
}
