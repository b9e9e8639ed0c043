/**
 * Authentication and authorization of scrapes by the API server, as kube-rbac-proxy and
 * controller-runtime's secure metrics do: the bearer token goes to a TokenReview, the user it
 * names to a SubjectAccessReview for the non-resource URL. Decisions are cached briefly by a
 * hash of the token, so a Prometheus scraping every 30 s costs two API calls a minute, not two
 * a scrape; concurrent requests with the same token share one review.
 */
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../kube/rest.js';

/** What a request may do. */
export type AuthDecision =
  { allowed: true; user: string } | { allowed: false; status: 401 | 403; reason: string; user?: string };

/** Settings of a RequestAuthorizer. */
export interface AuthorizerOptions {
  /** The non-resource URL and verb the SubjectAccessReview asks about. */
  path: string;
  verb: string;
  /** How long an allowed decision is reused (default 1 min). */
  allowedTtlMs?: number;
  /** How long a refusal is reused (default 10 s, so a new RoleBinding takes effect soon). */
  deniedTtlMs?: number;
  /** At most this many tokens are remembered (a flood of random tokens cannot grow memory). */
  maxEntries?: number;
  clock?: () => number;
}

interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** Decides whether a request's bearer token may GET the protected path. */
export class RequestAuthorizer {
  private readonly cache = new Map<string, { decision: AuthDecision; expires: number }>();
  private readonly pending = new Map<string, Promise<AuthDecision>>();
  private readonly clock: () => number;

  constructor(
    private readonly kc: KubeConfig,
    private readonly options: AuthorizerOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  /** The decision for an Authorization header; rejects only when the API server cannot be asked. */
  async authorize(authorization: string | undefined): Promise<AuthDecision> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!token) return { allowed: false, status: 401, reason: 'no bearer token' };
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.cache.get(key);
    if (cached && cached.expires > this.clock()) return cached.decision;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const review = this.review(token)
      .then((decision) => {
        this.remember(key, decision);
        return decision;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, review);
    return review;
  }

  private async review(token: string): Promise<AuthDecision> {
    const tokenReview = await kubeRequest<{ status?: { authenticated?: boolean; user?: UserInfo; error?: string } }>(
      this.kc,
      {
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      },
    );
    const user = tokenReview.status?.user;
    if (!tokenReview.status?.authenticated || !user?.username) {
      return { allowed: false, status: 401, reason: tokenReview.status?.error ?? 'token not authenticated' };
    }
    const access = await kubeRequest<{ status?: { allowed?: boolean; reason?: string } }>(this.kc, {
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          uid: user.uid,
          groups: user.groups,
          extra: user.extra,
          nonResourceAttributes: { path: this.options.path, verb: this.options.verb },
        },
      },
    });
    if (access.status?.allowed) return { allowed: true, user: user.username };
    return {
      allowed: false,
      status: 403,
      user: user.username,
      reason: access.status?.reason || `${user.username} may not ${this.options.verb} ${this.options.path}`,
    };
  }

  private remember(key: string, decision: AuthDecision): void {
    const ttl = decision.allowed ? (this.options.allowedTtlMs ?? 60_000) : (this.options.deniedTtlMs ?? 10_000);
    const now = this.clock();
    if (this.cache.size >= (this.options.maxEntries ?? 1024)) {
      for (const [k, entry] of this.cache) if (entry.expires <= now) this.cache.delete(k);
      // Still full: drop the oldest entry (Maps iterate in insertion order).
      const oldest = this.cache.keys().next();
      if (this.cache.size >= (this.options.maxEntries ?? 1024) && !oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, { decision, expires: now + ttl });
  }
}
