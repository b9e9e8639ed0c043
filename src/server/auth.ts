/**
 * Authentication and authorization of requests by the API server, as kube-rbac-proxy and
 * controller-runtime's secure metrics do: the bearer token goes to a TokenReview, the user it
 * names to a SubjectAccessReview for the non-resource URL. Both are cached briefly: TokenReview
 * results (positive and negative) by a hash of the token in a bounded LRU, so requests with one
 * bad token, or with many random ones, cannot multiply API calls or grow memory; decisions by
 * the token's hash too, so a Prometheus scraping every 30 s costs two API calls a minute, not
 * two a scrape. Concurrent requests with the same token share one review.
 */
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../kube/rest.js';
import { ExpiringLru } from './lru-cache.js';

/** Who a token belongs to, as the TokenReview says (and a SubjectAccessReview takes). */
export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** What a request may do; an allowed one carries the user, for further reviews. */
export type AuthDecision =
  | { allowed: true; user: string; userInfo: UserInfo }
  | { allowed: false; status: 401 | 403; reason: string; user?: string };

/** What a TokenReview said about a token. */
export type TokenIdentity = { authenticated: true; user: UserInfo } | { authenticated: false; reason: string };

/** The raw TokenReview status for a token (the API call; replaceable to count or fake it). */
export type TokenReviewCall = (
  token: string,
) => Promise<{ authenticated?: boolean; user?: UserInfo; error?: string } | undefined>;

/** What a SubjectAccessReview asks about: a non-resource URL or a resource. */
export type AccessAttributes =
  | { nonResourceAttributes: { path: string; verb: string } }
  | {
      resourceAttributes: { group: string; resource: string; verb: string; namespace?: string; name?: string };
    };

/** The raw SubjectAccessReview status (the API call; replaceable to count it). */
export type AccessReviewCall = (
  user: UserInfo,
  attributes: AccessAttributes,
) => Promise<{ allowed?: boolean; reason?: string } | undefined>;

/** Settings of an Authenticator. */
export interface AuthenticatorOptions {
  /** How long an authenticated token is trusted without asking again (default 30 s). */
  authenticatedTtlMs?: number;
  /** How long a rejected token stays rejected without asking again (default 10 s). */
  rejectedTtlMs?: number;
  /** At most this many tokens are remembered (default 1024). */
  maxEntries?: number;
  clock?: () => number;
  /** The TokenReview call (default: POST tokenreviews to the API server). */
  tokenReview?: TokenReviewCall;
}

/** The TokenReview of the API server, in the shape the Authenticator takes. */
export function apiTokenReview(kc: KubeConfig): TokenReviewCall {
  return async (token) =>
    (
      await kubeRequest<{ status?: { authenticated?: boolean; user?: UserInfo; error?: string } }>(kc, {
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      })
    ).status;
}

/** The SubjectAccessReview of the API server, in the shape the authorizers take. */
export function apiAccessReview(kc: KubeConfig): AccessReviewCall {
  return async (user, attributes) =>
    (
      await kubeRequest<{ status?: { allowed?: boolean; reason?: string } }>(kc, {
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, ...attributes },
        },
      })
    ).status;
}

/** The bearer token of an Authorization header, if it has one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** The cache key of a token: its SHA-256, so no token is kept in memory longer than a request. */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Authenticates bearer tokens with TokenReviews, cached by the token's hash in a bounded LRU. */
export class Authenticator {
  private readonly cache: ExpiringLru<TokenIdentity>;
  private readonly tokenReview: TokenReviewCall;

  constructor(
    kc: KubeConfig,
    private readonly options: AuthenticatorOptions = {},
  ) {
    this.cache = new ExpiringLru({
      maxEntries: options.maxEntries ?? 1024,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.tokenReview = options.tokenReview ?? apiTokenReview(kc);
  }

  /** Tokens remembered now (bounded by maxEntries). */
  get cachedTokens(): number {
    return this.cache.size;
  }

  /** Who `token` belongs to; rejects only when the API server cannot be asked. */
  authenticate(token: string): Promise<TokenIdentity> {
    return this.cache.getOrCompute(
      tokenKey(token),
      async () => {
        const status = await this.tokenReview(token);
        if (status?.authenticated && status.user?.username) return { authenticated: true, user: status.user };
        return { authenticated: false, reason: status?.error || 'token not authenticated' };
      },
      (identity) =>
        identity.authenticated ? (this.options.authenticatedTtlMs ?? 30_000) : (this.options.rejectedTtlMs ?? 10_000),
    );
  }
}

/** Settings of a RequestAuthorizer. */
export interface AuthorizerOptions {
  /** The non-resource URL and verb the SubjectAccessReview asks about. */
  path: string;
  verb: string;
  /** Authenticates tokens; share one between authorizers so a token is reviewed once (default: a new one). */
  authenticator?: Authenticator;
  /** The SubjectAccessReview call (default: the API server's). */
  accessReview?: AccessReviewCall;
  /** How long an allowed decision is reused (default 1 min). */
  allowedTtlMs?: number;
  /** How long a refusal is reused (default 10 s, so a new RoleBinding takes effect soon). */
  deniedTtlMs?: number;
  /** At most this many decisions are remembered (a flood of random tokens cannot grow memory). */
  maxEntries?: number;
  clock?: () => number;
}

/** Decides whether a request's bearer token may `verb` the protected non-resource path. */
export class RequestAuthorizer {
  private readonly decisions: ExpiringLru<AuthDecision>;
  private readonly authenticator: Authenticator;
  private readonly accessReview: AccessReviewCall;

  constructor(
    kc: KubeConfig,
    private readonly options: AuthorizerOptions,
  ) {
    const clock = options.clock ? { clock: options.clock } : {};
    this.decisions = new ExpiringLru({ maxEntries: options.maxEntries ?? 1024, ...clock });
    this.authenticator = options.authenticator ?? new Authenticator(kc, clock);
    this.accessReview = options.accessReview ?? apiAccessReview(kc);
  }

  /** The decision for an Authorization header; rejects only when the API server cannot be asked. */
  async authorize(authorization: string | undefined): Promise<AuthDecision> {
    const token = bearerToken(authorization);
    if (!token) return { allowed: false, status: 401, reason: 'no bearer token' };
    return this.decisions.getOrCompute(
      tokenKey(token),
      () => this.review(token),
      (decision) => (decision.allowed ? (this.options.allowedTtlMs ?? 60_000) : (this.options.deniedTtlMs ?? 10_000)),
    );
  }

  private async review(token: string): Promise<AuthDecision> {
    const identity = await this.authenticator.authenticate(token);
    if (!identity.authenticated) return { allowed: false, status: 401, reason: identity.reason };
    const user = identity.user;
    const username = user.username ?? '';
    const access = await this.accessReview(user, {
      nonResourceAttributes: { path: this.options.path, verb: this.options.verb },
    });
    if (access?.allowed) return { allowed: true, user: username, userInfo: user };
    return {
      allowed: false,
      status: 403,
      user: username,
      reason: access?.reason || `${username} may not ${this.options.verb} ${this.options.path}`,
    };
  }
}
