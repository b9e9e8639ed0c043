/**
 * What the controller benchmark sees: its own informers on the CRs and on Scribe's Jobs, with
 * the arrival time of each event that matters (Reconciled, each manual sync done, a triggered
 * CR's MODIFIED event, each round's Job ADDED), and the Job controller's part played through the
 * API: no node runs mover pods, so each new mover Job is completed through its status as the Job
 * controller would once its pod exited 0 (at once, or --mover-seconds later).
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { ResourceInformer } from '../../src/kube/informer.js';
import { isStatus, kubeRequest } from '../../src/kube/rest.js';
import { RESOURCES } from '../../src/kube/resources.js';
import { limiter, sleep } from '../scaffold/common.js';

/** A CR as the benchmark reads it. */
export type Cr = KubernetesObject & {
  status?: {
    conditions?: Array<{ type: string; status: string }>;
    lastManualSync?: string;
    lastSyncTime?: string;
    state?: string;
  };
};

export interface JobStatus {
  startTime?: string;
  completionTime?: string;
  conditions?: Array<{ type: string; status: string }>;
}

/** Which round the benchmark is in: it decides which Job counts for which trigger. */
export type Round = 'first' | 'second' | 'paced' | 'soak';

/** The benchmark's watches and what they saw, in performance.now() milliseconds. */
export class Observer {
  round: Round = 'first';
  jobsCompleted = 0;
  readonly reconciledAt = new Map<string, number>();
  readonly syncedAt = new Map<string, { token: string; at: number }>();
  /** The burst round: when each CR's trigger went out, its MODIFIED event came, its Job came. */
  readonly triggerSentAt = new Map<string, number>();
  readonly crModifiedAt = new Map<string, number>();
  readonly jobSeenAt = new Map<string, number>();
  /** The first round: when each CR's first Job came (a new CR syncs at once). */
  readonly firstJobAt = new Map<string, number>();
  /** The paced round: its trigger times, and its Jobs (a Job of the burst round does not count). */
  readonly pacedSentAt = new Map<string, number>();
  readonly pacedJobAt = new Map<string, number>();
  private readonly burstJobUid = new Map<string, string>();
  /** Every Job seen so far: a burst counts only Jobs new to it, not late events of an earlier round's. */
  private readonly jobUids = new Set<string>();
  private readonly completing = new Set<string>();
  private readonly runCompletion = limiter(16);
  readonly crInformers: ResourceInformer<Cr>[];
  private readonly informers: ResourceInformer<Cr>[];

  constructor(
    private readonly kc: KubeConfig,
    private readonly moverSeconds: number,
    private readonly log: (line: string) => void,
  ) {
    this.crInformers = (['ReplicationSource', 'ReplicationDestination'] as const).map((kind) => {
      const informer = new ResourceInformer<Cr>(kc, RESOURCES[kind]);
      informer.events$.subscribe((event) => {
        if ('object' in event && event.type !== 'deleted') this.onCr(event.object);
      });
      return informer;
    });
    const jobs = new ResourceInformer<Cr>(kc, RESOURCES.Job, { labelSelector: 'app.kubernetes.io/created-by=scribe' });
    jobs.events$.subscribe((event) => {
      if ('object' in event && event.type !== 'deleted') this.onJob(event.object);
    });
    this.informers = [...this.crInformers, jobs];
  }

  start(): Promise<unknown> {
    return Promise.all(this.informers.map((informer) => informer.start()));
  }

  stop(): Promise<unknown> {
    return Promise.all(this.informers.map((informer) => informer.stop()));
  }

  /**
   * Starts another burst round (the repeated rounds after the first, see run.ts): forgets the last
   * burst's trigger, MODIFIED and Job times.
   */
  startBurst(): void {
    this.round = 'second';
    for (const times of [this.triggerSentAt, this.crModifiedAt, this.jobSeenAt]) times.clear();
    this.burstJobUid.clear();
  }

  /** Per CR of `keys`: the burst's trigger sent → its Job's ADDED event, ms (NaN where none came). */
  burstLatenciesMs(keys: readonly string[]): number[] {
    return keys.map((key) => (this.jobSeenAt.get(key) ?? Number.NaN) - (this.triggerSentAt.get(key) ?? Number.NaN));
  }

  /** Every CR as the informers hold it now. */
  crs(): Cr[] {
    return this.crInformers.flatMap((informer) => informer.list());
  }

  /** Waits until `done`, logging progress every 10 s; throws after `timeoutMs`. */
  async waitAll(what: string, done: () => boolean, timeoutMs: number, reconciles: () => number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let lastReport = performance.now();
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        this.log(
          `  … waiting for ${what}: reconciled ${this.reconciledAt.size}, synced ${this.syncedAt.size}, jobs completed ${this.jobsCompleted}, reconciles ${reconciles()}`,
        );
      }
      await sleep(20);
    }
  }

  private onCr(cr: Cr): void {
    const key = `${cr.kind}/${cr.metadata?.namespace}/${cr.metadata?.name}`;
    const now = performance.now();
    if (this.round === 'second' && !this.crModifiedAt.has(key) && this.triggerSentAt.has(key))
      this.crModifiedAt.set(key, now);
    if (
      !this.reconciledAt.has(key) &&
      cr.status?.conditions?.some((c) => c.type === 'Reconciled' && c.status === 'True')
    )
      this.reconciledAt.set(key, now);
    const token = cr.status?.lastManualSync;
    if (token && cr.status?.state === 'idle' && this.syncedAt.get(key)?.token !== token)
      this.syncedAt.set(key, { token, at: now });
  }

  private onJob(job: KubernetesObject & { status?: JobStatus }): void {
    const now = performance.now();
    const owner = job.metadata?.ownerReferences?.find((ref) => ref.controller);
    if (!owner) return;
    const key = `${owner.kind}/${job.metadata?.namespace}/${owner.name}`;
    const jobKey = `${job.metadata?.namespace}/${job.metadata?.name}/${job.metadata?.uid}`;
    const uid = job.metadata?.uid ?? '';
    const fresh = !this.jobUids.has(uid);
    this.jobUids.add(uid);
    if (this.round === 'first' && !this.firstJobAt.has(key)) this.firstJobAt.set(key, now);
    if (this.round === 'second' && fresh && this.triggerSentAt.has(key) && !this.jobSeenAt.has(key)) {
      this.jobSeenAt.set(key, now);
      this.burstJobUid.set(key, uid);
    }
    if (
      this.round === 'paced' &&
      this.pacedSentAt.has(key) &&
      !this.pacedJobAt.has(key) &&
      job.metadata?.uid !== this.burstJobUid.get(key) &&
      !job.metadata?.deletionTimestamp
    )
      this.pacedJobAt.set(key, now);
    const finished = job.status?.conditions?.some(
      (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
    );
    if (finished || this.completing.has(jobKey) || job.metadata?.deletionTimestamp) return;
    this.completing.add(jobKey);
    const complete = () =>
      this.runCompletion(() =>
        completeJob(this.kc, job.metadata?.namespace ?? '', job.metadata?.name ?? '', job.status).then(
          () => this.jobsCompleted++,
          (error: unknown) => this.log(`  completing Job ${jobKey} failed: ${String(error)}`),
        ),
      );
    // A mover that runs for --mover-seconds: its completion does not compete with the triggers of a burst.
    if (this.moverSeconds > 0) setTimeout(complete, this.moverSeconds * 1000);
    else complete();
  }
}

/**
 * Marks a Job succeeded through its status subresource, as the Job controller would once its pod
 * exited 0: SuccessCriteriaMet then Complete, succeeded 1, no active pods. The API server forbids
 * changing a startTime or completionTime once set, and the Job controller sets startTime itself
 * moments after creation, so an invalid answer means: read the Job again and keep its times.
 */
export async function completeJob(kc: KubeConfig, namespace: string, name: string, seen: JobStatus = {}) {
  const path = `/apis/batch/v1/namespaces/${namespace}/jobs/${name}/status`;
  let status = seen;
  for (let attempt = 1; ; attempt++) {
    if (status.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')) return;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const startTime = status.startTime ?? now;
    const condition = (type: string) => ({
      type,
      status: 'True',
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods (completed through the API by the benchmark)',
      lastProbeTime: now,
      lastTransitionTime: now,
    });
    try {
      await kubeRequest(kc, {
        method: 'PATCH',
        path,
        patchType: 'merge',
        body: {
          status: {
            startTime,
            completionTime: status.completionTime ?? (now < startTime ? startTime : now),
            active: 0,
            ready: 0,
            terminating: 0,
            succeeded: 1,
            conditions: [condition('SuccessCriteriaMet'), condition('Complete')],
          },
        },
      });
      return;
    } catch (error) {
      if (attempt >= 5 || !(isStatus(error, 422) || isStatus(error, 409))) throw error;
      status = (await kubeRequest<{ status?: JobStatus }>(kc, { method: 'GET', path })).status ?? {};
    }
  }
}
