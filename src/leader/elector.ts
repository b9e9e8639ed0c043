/**
 * Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics (leaderelection
 * package): candidates poll every retry period (jittered by 1.2); a Lease held by another is
 * taken only after it has not changed for its leaseDurationSeconds *as measured on our clock*
 * since we last saw it change (no trust in other machines' clocks); the leader renews every
 * retry period and gives up when no renewal succeeded within the renew deadline, which is
 * shorter than the lease duration, so it stops acting before anyone else may start. Releasing
 * clears holderIdentity and sets leaseDurationSeconds 1, so a standby takes over at once.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { rootLogger, type Logger } from '../log.js';
import { microTime, readLease, writeLease, type LeaseRef, type LeaseSpec } from './lease.js';

/** client-go's defaults (and controller-runtime's). */
export const LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

/** client-go's JitterFactor for the acquire loop: waits are retryPeriod × [1, 2.2). */
const JITTER_FACTOR = 1.2;

/** Settings of one candidate. */
export interface LeaderElectorOptions {
  kc: KubeConfig;
  lease: LeaseRef;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: () => number;
  random?: () => number;
  log?: Logger;
}

/** One candidate for leadership. */
export class LeaderElector {
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly timing: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  private readonly stopping = new AbortController();
  /** The Lease as last read or written, and when (our clock) its spec last changed. */
  private observed: { spec: LeaseSpec; resourceVersion: string | undefined; changedAt: number } | undefined;
  private leading = false;

  constructor(private readonly options: LeaderElectorOptions) {
    this.clock = options.clock ?? Date.now;
    this.log = (options.log ?? rootLogger).child({ lease: `${options.lease.namespace}/${options.lease.name}` });
    this.timing = {
      leaseDurationMs: options.leaseDurationMs ?? LEASE_DEFAULTS.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? LEASE_DEFAULTS.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? LEASE_DEFAULTS.retryPeriodMs,
    };
    if (this.timing.renewDeadlineMs >= this.timing.leaseDurationMs) {
      throw new Error('the renew deadline must be shorter than the lease duration');
    }
  }

  /** Whether this candidate holds the Lease as far as it knows. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder this candidate last saw (possibly itself); undefined before the first read. */
  get observedHolder(): string | undefined {
    return this.observed?.spec.holderIdentity || undefined;
  }

  /** Polls until this candidate holds the Lease (true), or until stop() (false). */
  async acquire(): Promise<boolean> {
    this.log.info({ identity: this.options.identity }, 'waiting for the leader election Lease');
    while (!this.stopping.signal.aborted) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.log.info({ identity: this.options.identity }, 'acquired the Lease: leading');
        return true;
      }
      const random = this.options.random ?? Math.random;
      await this.sleep(this.timing.retryPeriodMs * (1 + random() * JITTER_FACTOR));
    }
    return false;
  }

  /**
   * Renews every retry period while leading. Resolves 'stopped' after stop(), or 'lost' once
   * no renewal has succeeded for the renew deadline (the caller must stop acting at once).
   */
  async hold(): Promise<'stopped' | 'lost'> {
    let renewedAt = this.clock();
    for (;;) {
      await this.sleep(this.timing.retryPeriodMs);
      if (this.stopping.signal.aborted) return 'stopped';
      if (await this.tryAcquireOrRenew()) {
        renewedAt = this.clock();
      } else if (this.clock() - renewedAt >= this.timing.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ identity: this.options.identity }, 'could not renew the Lease in time: leadership lost');
        return 'lost';
      }
    }
  }

  /** Ends acquire() and hold() after the attempt in flight, if any. */
  stop(): void {
    this.stopping.abort();
  }

  /** Hands the Lease back (call after hold() has returned) so a standby need not wait for it to expire. */
  async release(): Promise<void> {
    if (!this.leading || !this.observed) return;
    this.leading = false;
    const now = microTime(this.clock());
    // client-go's release: no holder, a 1-second duration, transitions kept.
    const spec: LeaseSpec = {
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: this.observed.spec.leaseTransitions ?? 0,
    };
    try {
      const written = await writeLease(this.options.kc, this.options.lease, this.observed.resourceVersion, spec, 5_000);
      this.log.info({ released: Boolean(written) }, written ? 'released the Lease' : 'the Lease changed meanwhile');
    } catch (error) {
      this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not release the Lease');
    }
  }

  /** One attempt, as client-go's tryAcquireOrRenew: true when we hold the Lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { kc, lease, identity } = this.options;
    // A request must not outlive the renew deadline, or a hung call would hide a lost Lease.
    const timeoutMs = Math.max(1_000, this.timing.renewDeadlineMs / 2);
    const now = this.clock();
    const ours: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(this.timing.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    try {
      const current = await readLease(kc, lease, timeoutMs);
      if (!current) return this.written(await writeLease(kc, lease, undefined, ours, timeoutMs), now);
      const spec = current.spec ?? {};
      if (!this.observed || JSON.stringify(this.observed.spec) !== JSON.stringify(spec)) {
        this.observed = { spec, resourceVersion: current.metadata.resourceVersion, changedAt: now };
      } else {
        this.observed.resourceVersion = current.metadata.resourceVersion;
      }
      const holder = spec.holderIdentity ?? '';
      const validUntil = this.observed.changedAt + (spec.leaseDurationSeconds ?? 0) * 1000;
      if (holder !== '' && holder !== identity && validUntil > now) return false;
      const renewing = holder === identity;
      const next: LeaseSpec = {
        ...ours,
        acquireTime: renewing ? (spec.acquireTime ?? ours.acquireTime) : ours.acquireTime,
        leaseTransitions: renewing ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      };
      if (!renewing) this.log.info({ previous: holder || undefined }, 'taking over the Lease');
      return this.written(await writeLease(kc, lease, current.metadata.resourceVersion, next, timeoutMs), now);
    } catch (error) {
      this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'leader election attempt failed');
      return false;
    }
  }

  private written(lease: Awaited<ReturnType<typeof writeLease>>, now: number): boolean {
    if (!lease) return false;
    this.observed = { spec: lease.spec ?? {}, resourceVersion: lease.metadata.resourceVersion, changedAt: now };
    return true;
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}
