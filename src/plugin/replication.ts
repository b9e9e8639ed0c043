/**
 * The seed's four plugin commands: start-replication, set-replication, continue-replication and
 * remove-replication. Each reads a resolved plan; none ever deletes a user's PVC.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../api/index.js';
import { compactTimestamp } from '../../machines/time.js';
import { PluginError } from './errors.js';
import { createObject, deleteObject, patchObject, pollUntil, read, where } from './kube.js';
import { CREATED_BY, CREATED_BY_LABEL, destinationManifest, pvcManifest, sourceManifest } from './manifests.js';
import { requireSourcePvc, type Plan } from './plan.js';
import { moverAtWork } from './mover-progress.js';
import { followSync, manualToken, setManualTrigger, waitForQuiet, type Print } from './progress.js';
import { findPendingRestores, refusal, waitForRestore } from './restores.js';

type Pvc = KubernetesObject & {
  spec?: { resources?: { requests?: { storage?: string } } };
  status?: { capacity?: { storage?: string } };
};
type Secret = KubernetesObject & { type?: string; data?: Record<string, string> };
type Snapshot = KubernetesObject & { status?: { restoreSize?: string; readyToUse?: boolean } };

/** Options shared by the commands. */
export interface RunOptions {
  print: Print;
  timeoutMs: number;
  /** set-replication: how long to wait for the restored PVC to be bound (0: not at all); default timeoutMs. */
  bindTimeoutMs?: number;
}

/** The source PVC's capacity, or undefined when the PVC cannot be read. */
async function sourcePvcCapacity(plan: Plan, pvcName: string): Promise<string | undefined> {
  const pvc = await read<Pvc>(plan.source.cluster, 'PersistentVolumeClaim', plan.source.namespace, pvcName);
  return pvc?.status?.capacity?.storage ?? pvc?.spec?.resources?.requests?.storage;
}

/**
 * start-replication: destination PVC (when none is given and dest copy method is None), the
 * ReplicationDestination, its key Secret copied to the source namespace, the ReplicationSource.
 */
export async function startReplication(plan: Plan, { print, timeoutMs }: RunOptions): Promise<void> {
  const { source, dest } = plan;
  const sourcePvc = requireSourcePvc(plan, 'start-replication');
  const pvcCapacity = await sourcePvcCapacity(plan, sourcePvc);
  const destCapacity = plan.get('dest-capacity') ?? pvcCapacity;
  if (!pvcCapacity) {
    print(
      `warning: source PVC ${where(source.cluster, source.namespace, sourcePvc)} not found; the source will wait for it`,
    );
  }
  let destPvc = plan.get('dest-pvc');
  if (!destPvc && !destCapacity) {
    throw new PluginError(
      `dest-capacity is needed: the source PVC ${source.namespace}/${sourcePvc} cannot be read to take its size`,
    );
  }
  if (!destPvc && plan.get('dest-copy-method') === 'None' && !plan.get('dest-provider')) {
    // With copy method None the PVC itself is the replica: the user names it in their application.
    const sameNamespace = source.cluster.kc === dest.cluster.kc && source.namespace === dest.namespace;
    destPvc = sameNamespace ? `${sourcePvc}-dest` : sourcePvc;
    const { created } = await createObject(
      dest.cluster,
      'PersistentVolumeClaim',
      dest.namespace,
      pvcManifest(plan, destPvc, destCapacity as string),
    );
    print(`${created ? 'created' : 'using existing'} destination PVC ${where(dest.cluster, dest.namespace, destPvc)}`);
  }
  const rd = await createObject(
    dest.cluster,
    'ReplicationDestination',
    dest.namespace,
    destinationManifest(plan, destCapacity, destPvc),
  );
  print(
    `${rd.created ? 'created' : 'using existing'} ReplicationDestination ${where(dest.cluster, dest.namespace, dest.name)}`,
  );

  let connection = {};
  if (!plan.get('dest-provider') && !plan.get('source-provider')) {
    print('waiting for the destination to publish its address and keys (status.rsync)...');
    const ready = await pollUntil(
      `ReplicationDestination ${dest.namespace}/${dest.name} to publish status.rsync.address and sshKeys`,
      () => read<ReplicationDestination>(dest.cluster, 'ReplicationDestination', dest.namespace, dest.name),
      (o) => Boolean(o?.status?.rsync?.address && o.status.rsync.sshKeys),
      timeoutMs,
    );
    const published = ready?.status?.rsync ?? {};
    const keys = plan.get('ssh-keys-secret') ?? (published.sshKeys as string);
    await copySecret(plan, keys, print);
    connection = { address: published.address, port: published.port, sshKeys: keys };
    print(
      `destination address ${plan.get('dest-address') ?? published.address}:${published.port ?? plan.get('dest-port')}`,
    );
  }
  const rs = await createObject(
    source.cluster,
    'ReplicationSource',
    source.namespace,
    sourceManifest(plan, sourcePvc, pvcCapacity, connection),
  );
  print(
    `${rs.created ? 'created' : 'using existing'} ReplicationSource ${where(source.cluster, source.namespace, source.name)}`,
  );
}

/** Copies the destination's key Secret for the source into the source namespace (labelled as ours). */
async function copySecret(plan: Plan, name: string, print: Print): Promise<void> {
  const { source, dest } = plan;
  const secret = await read<Secret>(dest.cluster, 'Secret', dest.namespace, name);
  if (!secret?.data) throw new PluginError(`Secret ${where(dest.cluster, dest.namespace, name)} not found or empty`);
  const copy = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: secret.type ?? 'Opaque',
    metadata: {
      name,
      labels: { [CREATED_BY_LABEL]: CREATED_BY },
      annotations: { 'scribe.backube/copied-from': `${dest.cluster.context}/${dest.namespace}/${name}` },
    },
    data: secret.data,
  };
  const { created, object } = await createObject(source.cluster, 'Secret', source.namespace, copy);
  if (!created) {
    if (object.metadata?.labels?.[CREATED_BY_LABEL] !== CREATED_BY) {
      throw new PluginError(
        `Secret ${where(source.cluster, source.namespace, name)} exists and was not made by kubectl-scribe; remove it or pass --ssh-keys-secret`,
      );
    }
    await patchObject(source.cluster, 'Secret', source.namespace, name, { data: secret.data });
  }
  print(
    `copied Secret ${name} from ${dest.namespace} (context ${dest.cluster.context}) to ${source.namespace} (context ${source.cluster.context})`,
  );
}

/**
 * set-replication: a manual trigger on the source, the final sync awaited, then (dest copy method
 * Snapshot, no dest-pvc) a PVC `<source-pvc>-<YYYYMMDDhhmmss>` restored from the new latestImage,
 * awaited until it is Bound (restores.ts: the snapshot may go only then). Returns the name of
 * the PVC holding the data at the destination, when there is one.
 */
export async function setReplication(
  plan: Plan,
  { print, timeoutMs, bindTimeoutMs }: RunOptions,
): Promise<string | undefined> {
  const { source, dest } = plan;
  const rs = await read<ReplicationSource>(source.cluster, 'ReplicationSource', source.namespace, source.name);
  if (!rs) {
    throw new PluginError(
      `ReplicationSource ${where(source.cluster, source.namespace, source.name)} not found: run start-replication first`,
    );
  }
  const sourcePvc = plan.get('source-pvc') ?? rs.spec.sourcePVC ?? requireSourcePvc(plan, 'set-replication');
  const readDest = () =>
    read<ReplicationDestination>(dest.cluster, 'ReplicationDestination', dest.namespace, dest.name);
  await waitForQuiet(source.cluster, 'ReplicationSource', source.namespace, source.name, { print, timeoutMs });
  // The source's previous transfer is over, but the destination may still be turning it into an
  // image: preserving it, or still "moving" with a mover that already received it. Its snapshot
  // would then be taken after this sync starts, pass for this sync's image and be replaced, so
  // deleted, by the real one while the PVC restores from it. Let the destination finish that and
  // listen again first: then the next image it makes holds this sync.
  const settled = async (o: ReplicationDestination | undefined) => {
    const state = o?.status?.state;
    if (state === 'preserving' || state === 'complete') return false;
    return !o || state !== 'moving' || (await moverAtWork(dest.cluster, o));
  };
  let before = await readDest();
  if (!(await settled(before))) {
    print(`the destination is preserving the previous sync (${before?.status?.state}); waiting for it to finish`);
    const reading = await pollUntil(
      `ReplicationDestination ${dest.namespace}/${dest.name} to finish preserving the previous sync`,
      async () => {
        const o = await readDest();
        return { o, ok: await settled(o) };
      },
      (r) => r.ok,
      timeoutMs,
    );
    before = reading.o;
  }
  // Read once the previous sync is preserved: the next new image is this sync's.
  if (!before)
    throw new PluginError(`ReplicationDestination ${where(dest.cluster, dest.namespace, dest.name)} not found`);
  const imageBefore = before.status?.latestImage?.name;
  const token = await setManualTrigger(
    source.cluster,
    'ReplicationSource',
    source.namespace,
    source.name,
    manualToken(),
    { print, timeoutMs },
  );
  print(
    `set manual trigger ${token} on ReplicationSource ${source.namespace}/${source.name}; waiting for the final sync`,
  );
  await followSync(source.cluster, 'ReplicationSource', source.namespace, source.name, token, {
    print,
    timeoutMs,
  });
  const copyMethod = before.spec.rsync?.copyMethod ?? plan.get('dest-copy-method');
  const givenPvc = plan.get('dest-pvc') ?? before.spec.rsync?.destinationPVC;
  if (copyMethod !== 'Snapshot' || givenPvc) {
    const pvc = givenPvc ?? before.status?.latestImage?.name;
    print(pvc ? `the replicated data is in PVC ${dest.namespace}/${pvc}` : 'sync complete');
    return pvc;
  }
  // The destination snapshots after the source finished: wait for the image of this sync.
  const after = await pollUntil(
    `a new latestImage on ReplicationDestination ${dest.namespace}/${dest.name}`,
    readDest,
    (o) => Boolean(o?.status?.latestImage?.name) && o?.status?.latestImage?.name !== imageBefore,
    timeoutMs,
  );
  const image = after?.status?.latestImage?.name as string;
  const snapshot = await read<Snapshot>(dest.cluster, 'VolumeSnapshot', dest.namespace, image);
  const capacity =
    plan.get('dest-capacity') ??
    before.spec.rsync?.capacity ??
    snapshot?.status?.restoreSize ??
    (await sourcePvcCapacity(plan, sourcePvc)) ??
    '1Gi';
  const pvcName = `${sourcePvc}-${compactTimestamp(Date.now())}`;
  await createObject(
    dest.cluster,
    'PersistentVolumeClaim',
    dest.namespace,
    pvcManifest(plan, pvcName, String(capacity), image),
  );
  print(`created PVC ${where(dest.cluster, dest.namespace, pvcName)} from VolumeSnapshot ${image}`);
  const ended = await waitForRestore(dest.cluster, dest.namespace, pvcName, image, {
    print,
    timeoutMs: bindTimeoutMs ?? timeoutMs,
  });
  if (ended === 'bound') print(`PVC ${dest.namespace}/${pvcName} is Bound with the data of VolumeSnapshot ${image}`);
  return pvcName;
}

/** continue-replication: removes the manual trigger, so the source's schedule applies again. */
export async function continueReplication(plan: Plan, { print }: RunOptions): Promise<void> {
  const { source } = plan;
  await patchObject(source.cluster, 'ReplicationSource', source.namespace, source.name, {
    spec: { trigger: { manual: null } },
  });
  print(`removed the manual trigger of ReplicationSource ${where(source.cluster, source.namespace, source.name)}`);
}

/**
 * remove-replication: the source, the Secret copied to it, the destination. PVCs stay. Refused,
 * before anything is removed, while a PVC still restores from a snapshot that garbage collection
 * would delete with the CRs (restores.ts).
 */
export async function removeReplication(plan: Plan, { print }: RunOptions): Promise<void> {
  const { source, dest } = plan;
  const rs = await read<ReplicationSource>(source.cluster, 'ReplicationSource', source.namespace, source.name);
  const rd = await read<ReplicationDestination>(dest.cluster, 'ReplicationDestination', dest.namespace, dest.name);
  await refuseWhileRestoring(plan, rs, rd);
  const say = (done: boolean, what: string) => print(`${done ? 'removed' : 'already gone:'} ${what}`);
  say(
    await deleteObject(source.cluster, 'ReplicationSource', source.namespace, source.name),
    `ReplicationSource ${where(source.cluster, source.namespace, source.name)}`,
  );
  const keys = rs?.spec.rsync?.sshKeys ?? plan.get('ssh-keys-secret') ?? rd?.status?.rsync?.sshKeys;
  if (keys) {
    const secret = await read<Secret>(source.cluster, 'Secret', source.namespace, keys);
    // Only the copy this plugin made: a Secret the user brought stays.
    if (secret?.metadata?.labels?.[CREATED_BY_LABEL] === CREATED_BY) {
      say(await deleteObject(source.cluster, 'Secret', source.namespace, keys), `Secret ${source.namespace}/${keys}`);
    } else if (secret) {
      print(`kept Secret ${source.namespace}/${keys}: it was not copied by kubectl-scribe`);
    }
  }
  say(
    await deleteObject(dest.cluster, 'ReplicationDestination', dest.namespace, dest.name),
    `ReplicationDestination ${where(dest.cluster, dest.namespace, dest.name)}`,
  );
  print('PersistentVolumeClaims are never removed: prune stale destination PVCs yourself');
}

/** Throws the refusal when a PVC still restores from a snapshot that goes with the source or destination. */
async function refuseWhileRestoring(
  plan: Plan,
  rs: ReplicationSource | undefined,
  rd: ReplicationDestination | undefined,
): Promise<void> {
  const { source, dest } = plan;
  const sides = [
    {
      cr: rs,
      cluster: source.cluster,
      namespace: source.namespace,
      what: `ReplicationSource ${source.namespace}/${source.name}`,
    },
    {
      cr: rd,
      cluster: dest.cluster,
      namespace: dest.namespace,
      what: `ReplicationDestination ${dest.namespace}/${dest.name}`,
    },
  ].filter((side) => side.cr?.metadata?.uid);
  // Source and destination may share a namespace of one cluster: look there once, for both.
  const places = new Map<
    string,
    { cluster: typeof source.cluster; namespace: string; uids: Set<string>; what: string[] }
  >();
  for (const side of sides) {
    const key = `${side.cluster.context}\u0000${side.namespace}`;
    const place = places.get(key) ?? { cluster: side.cluster, namespace: side.namespace, uids: new Set(), what: [] };
    place.uids.add(side.cr?.metadata?.uid as string);
    place.what.push(side.what);
    places.set(key, place);
  }
  for (const place of places.values()) {
    const pending = await findPendingRestores(place.cluster, place.namespace, place.uids);
    if (pending.length > 0) throw refusal(pending, place.what.join(' and '));
  }
}
