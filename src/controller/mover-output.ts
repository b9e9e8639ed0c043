/**
 * What running movers last said, for the machine's stall rule (data safety: "a mover that keeps
 * running but reports no progress for the stall period is Stalled too, with its last output
 * line in the message"). A pod's status says nothing while its container runs, so this reads
 * the tail of each running mover pod's log, once a minute: one GET per running mover per
 * minute, and none for pods that ended. It keeps, per pod, the last output line and when the
 * output last moved on; the machine decides what that means (machines/findings.ts, isStalled).
 *
 * "Moved on" ignores the clock in the movers' progress lines: a `scribe progress:` line is
 * printed every few seconds even when nothing moves, and only its file and byte counts tell
 * progress. Any other new line (a tool's output) counts as progress.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { kubeRequest } from '../kube/rest.js';
import { objectPath, RESOURCES } from '../kube/resources.js';
import { lastProgress, PROGRESS_TAIL_LINES } from '../movers/runtime/progress.js';
import type { Logger } from '../log.js';

/** How often a running mover's log tail is read. */
export const MOVER_OUTPUT_POLL_MS = 60_000;
/** The container every mover pod runs (src/movers/job.ts). */
const MOVER_CONTAINER = 'mover';

/** What a running mover last said. */
export interface MoverOutput {
  /** Its last output line that is not a progress line (else the last progress line). */
  line: string;
  /** When its output last moved on (epoch ms); the time it was first read counts as such. */
  changedAt: number;
}

type Pod = KubernetesObject & { status?: { phase?: string } };

/** The fingerprint and the line to show of a log tail; undefined for an empty log. */
export function readOutput(log: string): { fingerprint: string; line: string } | undefined {
  const lines = log
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.length === 0) return undefined;
  const progress = lastProgress(log);
  const other = lines.findLast((line) => !line.startsWith('scribe progress:'));
  const counts = progress ? `${progress.files}/${progress.bytes}` : '';
  return { fingerprint: `${counts}\n${other ?? ''}`, line: other ?? lines.at(-1) ?? '' };
}

/** Reads running mover pods' log tails on a timer and remembers when each last changed. */
export class MoverOutputWatcher {
  private readonly outputs = new Map<string, MoverOutput & { fingerprint: string }>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly options: {
      kc: KubeConfig;
      /** The running mover pods to watch, read at each poll (from the controller's pod cache). */
      runningPods: () => readonly Pod[];
      /** Called when a pod's output is read for the first time or changes: the owning CR should look again. */
      changed: (pod: Pod) => void;
      clock?: () => number;
      pollMs?: number;
      log?: Logger;
    },
  ) {}

  /** Starts polling (the timer does not keep the process alive). */
  start(): void {
    this.timer = setInterval(() => void this.poll(), this.options.pollMs ?? MOVER_OUTPUT_POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** What the pod with this uid last said, if it has been read. */
  outputOf(uid: string | undefined): MoverOutput | undefined {
    const output = uid === undefined ? undefined : this.outputs.get(uid);
    return output && { line: output.line, changedAt: output.changedAt };
  }

  /** Reads every running mover pod's log tail once (one at a time: this is background work). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const pods = this.options.runningPods().filter((pod) => pod.status?.phase === 'Running' && pod.metadata?.uid);
      const running = new Set(pods.map((pod) => pod.metadata?.uid ?? ''));
      for (const uid of this.outputs.keys()) if (!running.has(uid)) this.outputs.delete(uid);
      for (const pod of pods) await this.read(pod);
    } finally {
      this.polling = false;
    }
  }

  private async read(pod: Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const log = await kubeRequest<string>(this.options.kc, {
      method: 'GET',
      path: `${objectPath(RESOURCES.Pod, pod.metadata?.namespace, pod.metadata?.name ?? '')}/log`,
      query: { container: MOVER_CONTAINER, tailLines: PROGRESS_TAIL_LINES },
      text: true,
    }).catch((error: unknown) => {
      // A pod that just ended, or a node that cannot serve logs: the next poll tries again.
      this.options.log?.debug({ err: String(error), pod: pod.metadata?.name }, 'mover log not readable');
      return undefined;
    });
    const output = log === undefined ? undefined : readOutput(log);
    if (!output) return;
    const now = (this.options.clock ?? Date.now)();
    const previous = this.outputs.get(uid);
    if (previous?.fingerprint === output.fingerprint) return;
    this.outputs.set(uid, { ...output, changedAt: now });
    this.options.changed(pod);
  }
}
