/**
 * The live progress of a CR's running mover, read from the last lines of its pod's log (the
 * movers write `scribe progress:` lines, src/movers/runtime/progress.ts), as `kubectl scribe sync` shows it.
 */
import type { ScribeCr } from '../../machines/api.js';
import { selectMover } from '../../machines/mover.js';
import { kubeRequest } from '../kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../kube/resources.js';
import { MOVERS } from '../movers/index.js';
import { MOVER_POD_LABEL } from '../movers/job.js';
import { lastProgress, PROGRESS_TAIL_LINES, type Progress } from '../movers/runtime/progress.js';
import type { Cluster } from './kube.js';

/** One reading: which pod, and its latest progress. */
export interface MoverProgress extends Progress {
  pod: string;
}

interface PodList {
  items: Array<{ metadata: { name: string; creationTimestamp?: string }; status?: { phase?: string } }>;
}

/** The cycle's mover pods (the pods of its Job), or undefined when the CR has no mover Job. */
async function moverPods(c: Cluster, cr: ScribeCr): Promise<PodList['items'] | undefined> {
  const selected = selectMover(MOVERS, cr);
  if (!selected.ok) return undefined;
  const job = selected.mover.temporaryObjects(cr).find((o) => o.kind === 'Job');
  const namespace = cr.metadata.namespace;
  if (!job || !namespace) return undefined;
  const pods = await kubeRequest<PodList>(c.kc, {
    method: 'GET',
    path: collectionPath(RESOURCES.Pod, namespace),
    query: { labelSelector: `${MOVER_POD_LABEL}=${job.name}` },
  });
  return pods.items;
}

/**
 * Whether a moving CR's mover is still at work: a pod that has not ended and none that ended
 * well. A destination whose mover already received a sync (its pod Succeeded) but whose operator
 * has not yet seen it is still "moving" in status, and is not waiting for a new sync.
 */
export async function moverAtWork(c: Cluster, cr: ScribeCr): Promise<boolean> {
  const pods = (await moverPods(c, cr)) ?? [];
  const ended = (phase?: string) => phase === 'Succeeded' || phase === 'Failed';
  return pods.some((p) => !ended(p.status?.phase)) && !pods.some((p) => p.status?.phase === 'Succeeded');
}

/**
 * The newest mover pod's latest progress, or undefined when there is no pod, no progress line
 * yet, or the log cannot be read (progress is a nicety: reading it never fails a sync).
 */
export async function readMoverProgress(c: Cluster, cr: ScribeCr): Promise<MoverProgress | undefined> {
  const namespace = cr.metadata.namespace;
  try {
    const pods = await moverPods(c, cr);
    if (!pods || !namespace) return undefined;
    const newest = pods
      .filter((p) => p.status?.phase !== 'Pending')
      .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))
      .pop();
    if (!newest) return undefined;
    const log = await kubeRequest<string>(c.kc, {
      method: 'GET',
      path: `${objectPath(RESOURCES.Pod, namespace, newest.metadata.name)}/log`,
      query: { tailLines: String(PROGRESS_TAIL_LINES) },
      text: true,
    });
    const progress = lastProgress(log);
    return progress && { ...progress, pod: newest.metadata.name };
  } catch {
    return undefined;
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes in binary units, e.g. "512.0 MiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * "1,234 files, 512.0 MiB, 12.3 MiB/s, mover running 42s": the rate over the interval since the
 * previous reading of the same pod, else the average since the transfer started.
 */
export function describeProgress(current: MoverProgress, previous?: MoverProgress): string {
  const samePod = previous?.pod === current.pod && current.elapsedSeconds > previous.elapsedSeconds;
  const seconds = samePod ? current.elapsedSeconds - previous.elapsedSeconds : current.elapsedSeconds;
  const bytes = samePod ? current.bytes - previous.bytes : current.bytes;
  const rate = seconds > 0 ? `${formatBytes(Math.max(0, bytes) / seconds)}/s` : 'rate not known yet';
  const files = `${current.files.toLocaleString('en-US')} file${current.files === 1 ? '' : 's'}`;
  return `${files}, ${formatBytes(current.bytes)}, ${rate}, mover running ${Math.round(current.elapsedSeconds)}s`;
}
