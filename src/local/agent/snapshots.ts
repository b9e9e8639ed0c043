/**
 * The snapshot-controller and CSI snapshotter for the `scribe-local` VolumeSnapshotClass:
 * a VolumeSnapshot of a PVC copies the PVC's directory to `snapshots/snapcontent-<uid>`,
 * creates the matching VolumeSnapshotContent (ready at once) and reports the snapshot ready.
 * A snapshot whose PVC is missing or unbound stays not-ready with status.error. When a
 * snapshot is gone, its content (deletionPolicy Delete) and directory go too; no finalizers are
 * used, so a snapshot deleted while a restore copies from it may break that restore.
 * Pre-provisioned snapshots (source.volumeSnapshotContentName) are left alone.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Observable, Subscription } from 'rxjs';
import { ResourceInformer } from '../../kube/informer.js';
import { createIfAbsent, deleteIfPresent, readObject } from '../../kube/objects.js';
import { isStatus, kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';
import { ConfigError } from './env.js';
import { copyDirectoryOnce, removeDirectory } from './files.js';
import { LOCAL_CLASS, LOCAL_DRIVER } from './kinds.js';
import { quantityToNumber } from './quantity.js';
import { errorMessage, KeyedTasks, Reconciler } from './reconciler.js';
import { claimDirectory } from './volumes.js';

interface VolumeSnapshot extends KubernetesObject {
  spec?: {
    source?: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string };
    volumeSnapshotClassName?: string;
  };
  status?: {
    boundVolumeSnapshotContentName?: string;
    readyToUse?: boolean;
    restoreSize?: string;
    creationTime?: string;
    error?: { message?: string; time?: string };
  };
}

interface VolumeSnapshotContent extends KubernetesObject {
  spec?: {
    driver?: string;
    deletionPolicy?: string;
    volumeSnapshotRef?: { namespace?: string; name?: string; uid?: string };
    source?: { volumeHandle?: string; snapshotHandle?: string };
  };
  status?: { snapshotHandle?: string; readyToUse?: boolean; restoreSize?: number; creationTime?: number };
}

interface VolumeSnapshotClass extends KubernetesObject {
  driver?: string;
  deletionPolicy?: string;
}

/** The default VolumeSnapshotClass the agent serves. */
export const LOCAL_SNAPSHOT_CLASS = {
  apiVersion: 'snapshot.storage.k8s.io/v1',
  kind: 'VolumeSnapshotClass',
  metadata: { name: LOCAL_CLASS, annotations: { 'snapshot.storage.kubernetes.io/is-default-class': 'true' } },
  driver: LOCAL_DRIVER,
  deletionPolicy: 'Delete',
};

/** Options of the snapshot controller. */
export interface SnapshotOptions {
  kc: KubeConfig;
  dataDir: string;
  log: (line: string) => void;
}

const snapshotsDir = (dataDir: string) => join(dataDir, 'snapshots');

/**
 * The directory holding a ready VolumeSnapshot's data, or undefined while it is not ready;
 * used by restores. Throws ConfigError for a snapshot of another driver.
 */
export async function snapshotDirectoryOf(
  kc: KubeConfig,
  dataDir: string,
  namespace: string,
  name: string,
): Promise<string | undefined> {
  const snapshot = await readObject<VolumeSnapshot>(kc, 'VolumeSnapshot', namespace, name);
  const contentName = snapshot?.status?.boundVolumeSnapshotContentName;
  if (!snapshot?.status?.readyToUse || !contentName) return undefined;
  const content = await kubeRequest<VolumeSnapshotContent>(kc, {
    method: 'GET',
    path: objectPath(RESOURCES.VolumeSnapshotContent, undefined, contentName),
  });
  if (content.spec?.driver !== LOCAL_DRIVER)
    throw new ConfigError(`snapshot ${namespace}/${name} is not of driver ${LOCAL_DRIVER}`);
  const dir = join(snapshotsDir(dataDir), content.status?.snapshotHandle ?? contentName);
  return existsSync(dir) ? dir : undefined;
}

const seconds = (date = new Date()) => date.toISOString().replace(/\.\d+Z$/, 'Z');

/** Takes and deletes snapshots by copying directories. */
export class SnapshotController {
  readonly snapshots: ResourceInformer<VolumeSnapshot>;
  readonly contents: ResourceInformer<VolumeSnapshotContent>;
  readonly classes: ResourceInformer<VolumeSnapshotClass>;
  private readonly reconciler: Reconciler;
  private readonly tasks: KeyedTasks;
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly options: SnapshotOptions) {
    this.snapshots = new ResourceInformer(options.kc, RESOURCES.VolumeSnapshot);
    this.contents = new ResourceInformer(options.kc, RESOURCES.VolumeSnapshotContent);
    this.classes = new ResourceInformer(options.kc, RESOURCES.VolumeSnapshotClass);
    this.reconciler = new Reconciler('snapshots', () => this.pass(), 5000, options.log);
    this.tasks = new KeyedTasks(() => this.reconciler.trigger(), options.log);
  }

  /** Creates the VolumeSnapshotClass and starts serving snapshots. */
  async start(): Promise<void> {
    await createIfAbsent(this.options.kc, 'VolumeSnapshotClass', undefined, LOCAL_SNAPSHOT_CLASS);
    for (const events$ of [
      this.snapshots.events$,
      this.contents.events$,
      this.classes.events$,
    ] as Observable<unknown>[]) {
      this.subscriptions.push(events$.subscribe(() => this.reconciler.trigger()));
    }
    await Promise.all([this.snapshots.start(), this.contents.start(), this.classes.start()]);
    this.reconciler.start();
  }

  /** Stops; a copy in progress finishes first. */
  async stop(): Promise<void> {
    await this.reconciler.stop();
    await this.tasks.drain();
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await Promise.all([this.snapshots.stop(), this.contents.stop(), this.classes.stop()]);
  }

  private classFor(snapshot: VolumeSnapshot): VolumeSnapshotClass | undefined {
    const name = snapshot.spec?.volumeSnapshotClassName;
    if (name) return this.classes.get(name);
    const defaults = this.classes
      .list()
      .filter((c) => c.metadata?.annotations?.['snapshot.storage.kubernetes.io/is-default-class'] === 'true');
    // With several defaults the real controller refuses; only serve an unambiguous default of ours.
    return defaults.length === 1 ? defaults[0] : defaults.find((c) => c.metadata?.name === LOCAL_CLASS);
  }

  private async pass(): Promise<void> {
    for (const snapshot of this.snapshots.list()) {
      const claimName = snapshot.spec?.source?.persistentVolumeClaimName;
      if (!claimName || snapshot.metadata?.deletionTimestamp || snapshot.status?.readyToUse) continue;
      const snapshotClass = this.classFor(snapshot);
      if (snapshotClass?.driver !== LOCAL_DRIVER) continue;
      // Keyed by uid: a snapshot re-created under the same name is a new snapshot, not the old one.
      this.tasks.run(
        `snapshot ${snapshot.metadata?.namespace}/${snapshot.metadata?.name}/${snapshot.metadata?.uid}`,
        () => this.take(snapshot, claimName, snapshotClass),
      );
    }
    if (!this.snapshots.hasSynced()) return;
    for (const content of this.contents.list()) {
      const ref = content.spec?.volumeSnapshotRef;
      if (content.spec?.driver !== LOCAL_DRIVER || !ref?.uid || content.spec.source?.snapshotHandle) continue;
      const snapshot = this.snapshots.get(ref.name ?? '', ref.namespace);
      if (snapshot && snapshot.metadata?.uid === ref.uid) continue;
      const name = content.metadata?.name ?? '';
      if (content.spec.deletionPolicy !== 'Delete') continue;
      this.tasks.run(`content ${name}`, async () => {
        await removeDirectory(join(snapshotsDir(this.options.dataDir), content.status?.snapshotHandle ?? name));
        await deleteIfPresent(this.options.kc, 'VolumeSnapshotContent', undefined, name);
        this.options.log(`snapshot content ${name}: deleted with its snapshot`);
      });
    }
  }

  private async take(snapshot: VolumeSnapshot, claimName: string, snapshotClass: VolumeSnapshotClass) {
    const namespace = snapshot.metadata?.namespace ?? 'default';
    const name = snapshot.metadata?.name ?? '';
    const contentName = `snapcontent-${snapshot.metadata?.uid}`;
    let source: string;
    let restoreSize: string;
    try {
      source = await claimDirectory(this.options.kc, namespace, claimName);
      const claim = await kubeRequest<{ status?: { capacity?: { storage?: string } }; spec?: { volumeName?: string } }>(
        this.options.kc,
        { method: 'GET', path: objectPath(RESOURCES.PersistentVolumeClaim, namespace, claimName) },
      );
      restoreSize = claim.status?.capacity?.storage ?? '0';
      if (!this.contents.get(contentName)) {
        await copyDirectoryOnce(source, join(snapshotsDir(this.options.dataDir), contentName));
      }
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const message = `failed to take snapshot: ${errorMessage(error)}`;
      // Written only when it changes: each write is an event that would start another pass.
      if (snapshot.status?.error?.message !== message) {
        await this.patchSnapshot(snapshot, { readyToUse: false, error: { message, time: seconds() } });
      }
      return;
    }
    const creationNanos = Date.now() * 1e6;
    await createIfAbsent(this.options.kc, 'VolumeSnapshotContent', undefined, {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotContent',
      metadata: { name: contentName },
      spec: {
        driver: LOCAL_DRIVER,
        deletionPolicy: snapshotClass.deletionPolicy ?? 'Delete',
        volumeSnapshotClassName: snapshotClass.metadata?.name,
        source: { volumeHandle: source },
        volumeSnapshotRef: {
          apiVersion: 'snapshot.storage.k8s.io/v1',
          kind: 'VolumeSnapshot',
          namespace,
          name,
          uid: snapshot.metadata?.uid,
        },
      },
    });
    const content = await kubeRequest<VolumeSnapshotContent>(this.options.kc, {
      method: 'PATCH',
      path: objectPath(RESOURCES.VolumeSnapshotContent, undefined, contentName, 'status'),
      body: {
        status: {
          snapshotHandle: contentName,
          readyToUse: true,
          restoreSize: quantityToNumber(restoreSize) ?? 0,
          creationTime: creationNanos,
        },
      },
    });
    const created = new Date(Math.floor((content.status?.creationTime ?? creationNanos) / 1e6));
    await this.patchSnapshot(snapshot, {
      boundVolumeSnapshotContentName: contentName,
      readyToUse: true,
      restoreSize,
      creationTime: seconds(created),
      error: null,
    });
    this.options.log(`snapshot ${namespace}/${name}: ready (${contentName})`);
  }

  /**
   * Writes a snapshot's status, guarded by its uid: the write must not land on a successor that
   * took the same name while this one was being taken (the API server refuses the uid then,
   * and the successor is taken by its own task).
   */
  private async patchSnapshot(snapshot: VolumeSnapshot, status: Record<string, unknown>) {
    const namespace = snapshot.metadata?.namespace ?? 'default';
    await kubeRequest(this.options.kc, {
      method: 'PATCH',
      path: objectPath(RESOURCES.VolumeSnapshot, namespace, snapshot.metadata?.name ?? '', 'status'),
      body: { metadata: { uid: snapshot.metadata?.uid }, status },
    }).catch((error: unknown) => {
      // 404: gone; 422 "metadata.uid ... immutable": the name now belongs to a successor.
      const replaced = isStatus(error, 422) && error instanceof Error && error.message.includes('metadata.uid');
      if (!isStatus(error, 404) && !replaced) throw error;
    });
  }
}
