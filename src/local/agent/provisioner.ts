/**
 * Dynamic provisioning for the `scribe-local` StorageClass, as an external provisioner plus a
 * CSI driver would do it: a claim of that class without a volume gets a directory under the
 * agent's data dir and a pre-bound hostPath PV (`pvc-<claim uid>`) that the real PV controller
 * binds. A claim with a dataSource (PersistentVolumeClaim = clone, VolumeSnapshot = restore)
 * is filled by copying the source directory before its PV exists, so whoever mounts it sees
 * the data. A claim whose dataSource(Ref) is any other kind is left alone, as a real external
 * provisioner leaves it to that kind's volume populator. Released PVs of reclaim policy Delete
 * lose their directory and are deleted.
 * Capacity is recorded on the PV; it is enforced only for the `scribe-local-sized` class, whose
 * volumes are tmpfs mounts of the requested size (root only), so a volume can really fill up.
 */
import type { KubeConfig, V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node';
import { join } from 'node:path';
import type { Observable, Subscription } from 'rxjs';
import { ResourceInformer } from '../../kube/informer.js';
import { createIfAbsent, deleteIfPresent } from '../../kube/objects.js';
import { kubeRequest } from '../../kube/rest.js';
import { objectPath, RESOURCES } from '../../kube/resources.js';
import { copyDirectoryOnce, makeDirectoryOnce, mountSizedDirectory, removeDirectory, unmountUnder } from './files.js';
import { ENFORCE_CAPACITY_PARAMETER, LOCAL_CLASS, LOCAL_DRIVER, PROVISIONED_BY, SIZED_CLASS } from './kinds.js';
import { quantityToNumber } from './quantity.js';
import { KeyedTasks, Reconciler } from './reconciler.js';
import { snapshotDirectoryOf } from './snapshots.js';
import { claimDirectory } from './volumes.js';

/** Options of the provisioner. */
export interface ProvisionerOptions {
  kc: KubeConfig;
  dataDir: string;
  log: (line: string) => void;
}

/** The default StorageClass the agent serves. */
export const LOCAL_STORAGE_CLASS = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: LOCAL_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
  provisioner: LOCAL_DRIVER,
  volumeBindingMode: 'Immediate',
  reclaimPolicy: 'Delete',
  allowVolumeExpansion: false,
};

/** The class whose volumes hold no more than their capacity. */
export const SIZED_STORAGE_CLASS = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: SIZED_CLASS },
  provisioner: LOCAL_DRIVER,
  parameters: { [ENFORCE_CAPACITY_PARAMETER]: 'true' },
  volumeBindingMode: 'Immediate',
  reclaimPolicy: 'Delete',
  allowVolumeExpansion: false,
};

/**
 * Whether the provisioner itself fills a claim from `source`: a clone (core PersistentVolumeClaim)
 * or a restore (snapshot.storage.k8s.io VolumeSnapshot), as the CSI external-provisioner does.
 */
export function isProvisionerSource(source: { apiGroup?: string; kind: string }): boolean {
  if (source.kind === 'PersistentVolumeClaim') return !source.apiGroup;
  return source.kind === 'VolumeSnapshot' && source.apiGroup === 'snapshot.storage.k8s.io';
}

/** Provisions and reclaims directory-backed PVs for the local StorageClass. */
export class Provisioner {
  readonly claims: ResourceInformer<V1PersistentVolumeClaim>;
  readonly volumes: ResourceInformer<V1PersistentVolume>;
  private readonly reconciler: Reconciler;
  private readonly tasks: KeyedTasks;
  private readonly subscriptions: Subscription[] = [];
  /** Claims (by uid) already logged as left to a populator, so each is logged once. */
  private readonly leftToPopulator = new Set<string>();

  constructor(private readonly options: ProvisionerOptions) {
    this.claims = new ResourceInformer(options.kc, RESOURCES.PersistentVolumeClaim);
    this.volumes = new ResourceInformer(options.kc, RESOURCES.PersistentVolume);
    this.reconciler = new Reconciler('provisioner', () => this.pass(), 5000, options.log);
    this.tasks = new KeyedTasks(() => this.reconciler.trigger(), options.log);
  }

  /** Creates the StorageClass and starts provisioning. */
  async start(): Promise<void> {
    for (const storageClass of [LOCAL_STORAGE_CLASS, SIZED_STORAGE_CLASS])
      // An existing one is left as its owner changed it.
      await createIfAbsent(this.options.kc, 'StorageClass', undefined, storageClass);
    for (const events$ of [this.claims.events$, this.volumes.events$] as Observable<unknown>[]) {
      this.subscriptions.push(events$.subscribe(() => this.reconciler.trigger()));
    }
    await Promise.all([this.claims.start(), this.volumes.start()]);
    this.reconciler.start();
  }

  /** Stops; a copy in progress finishes first. */
  async stop(): Promise<void> {
    await this.reconciler.stop();
    await this.tasks.drain();
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    await Promise.all([this.claims.stop(), this.volumes.stop()]);
    // Sized volumes are mounts: leave none behind (the data directory may be removed next).
    await unmountUnder(join(this.options.dataDir, 'volumes'));
  }

  private volumeDir(name: string) {
    return join(this.options.dataDir, 'volumes', name);
  }

  private async pass(): Promise<void> {
    const classes = new Map<string, V1StorageClass>();
    const classOf = async (name: string) => {
      if (!classes.has(name)) {
        const found = await kubeRequest<V1StorageClass>(this.options.kc, {
          method: 'GET',
          path: objectPath(RESOURCES.StorageClass, undefined, name),
        }).catch(() => undefined);
        if (found) classes.set(name, found);
      }
      return classes.get(name);
    };
    for (const claim of this.claims.list()) {
      const className = claim.spec?.storageClassName;
      if (!className || claim.spec?.volumeName || claim.metadata?.deletionTimestamp) continue;
      if (claim.status?.phase && claim.status.phase !== 'Pending') continue;
      const volumeName = `pvc-${claim.metadata?.uid}`;
      if (this.volumes.get(volumeName)) continue;
      const storageClass = await classOf(className);
      if (storageClass?.provisioner !== LOCAL_DRIVER) continue;
      const source = claim.spec?.dataSourceRef ?? claim.spec?.dataSource;
      if (source && !isProvisionerSource(source)) {
        const uid = claim.metadata?.uid ?? '';
        if (!this.leftToPopulator.has(uid)) {
          this.leftToPopulator.add(uid);
          this.options.log(
            `claim ${claim.metadata?.namespace}/${claim.metadata?.name}: dataSourceRef ${source.apiGroup ?? ''}/${source.kind} ${source.name} is left to its populator`,
          );
        }
        continue;
      }
      this.tasks.run(`provision ${claim.metadata?.namespace}/${claim.metadata?.name}/${claim.metadata?.uid}`, () =>
        this.provision(claim, storageClass, volumeName),
      );
    }
    for (const volume of this.volumes.list()) {
      const ours = volume.metadata?.annotations?.[PROVISIONED_BY] === LOCAL_DRIVER;
      if (!ours || volume.status?.phase !== 'Released' || volume.spec?.persistentVolumeReclaimPolicy !== 'Delete')
        continue;
      const name = volume.metadata?.name ?? '';
      this.tasks.run(`reclaim ${name}`, async () => {
        await removeDirectory(volume.spec?.hostPath?.path ?? this.volumeDir(name));
        await deleteIfPresent(this.options.kc, 'PersistentVolume', undefined, name);
        this.options.log(`volume ${name}: reclaimed`);
      });
    }
  }

  private async provision(claim: V1PersistentVolumeClaim, storageClass: V1StorageClass, volumeName: string) {
    const namespace = claim.metadata?.namespace ?? 'default';
    if (claim.spec?.volumeMode === 'Block') {
      this.options.log(`claim ${namespace}/${claim.metadata?.name}: block volumes are not supported`);
      return;
    }
    const dir = this.volumeDir(volumeName);
    const source = claim.spec?.dataSourceRef ?? claim.spec?.dataSource;
    if (storageClass.parameters?.[ENFORCE_CAPACITY_PARAMETER] === 'true') {
      if (source) {
        this.options.log(
          `claim ${namespace}/${claim.metadata?.name}: ${SIZED_CLASS} volumes start empty (no dataSource)`,
        );
        return;
      }
      const bytes = quantityToNumber(claim.spec?.resources?.requests?.storage ?? '1Gi') ?? 2 ** 30;
      await mountSizedDirectory(dir, bytes);
    } else if (source?.kind === 'PersistentVolumeClaim') {
      // A clone reads the source volume as it is now, as a CSI clone would.
      await copyDirectoryOnce(await claimDirectory(this.options.kc, namespace, source.name), dir);
    } else if (source?.kind === 'VolumeSnapshot' && source.apiGroup === 'snapshot.storage.k8s.io') {
      const snapshotDir = await snapshotDirectoryOf(this.options.kc, this.options.dataDir, namespace, source.name);
      if (!snapshotDir) return; // not ready yet: the next pass tries again
      await copyDirectoryOnce(snapshotDir, dir);
    } else {
      await makeDirectoryOnce(dir);
    }
    await createIfAbsent(this.options.kc, 'PersistentVolume', undefined, {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: volumeName, annotations: { [PROVISIONED_BY]: LOCAL_DRIVER } },
      spec: {
        capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
        accessModes: claim.spec?.accessModes?.length ? claim.spec.accessModes : ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: storageClass.reclaimPolicy ?? 'Delete',
        storageClassName: storageClass.metadata?.name,
        volumeMode: 'Filesystem',
        claimRef: {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          namespace,
          name: claim.metadata?.name,
          uid: claim.metadata?.uid,
        },
        hostPath: { path: dir, type: 'Directory' },
      },
    });
    this.options.log(
      `claim ${namespace}/${claim.metadata?.name}: provisioned ${volumeName}${source ? ` from ${source.kind} ${source.name}` : ''}`,
    );
  }
}
