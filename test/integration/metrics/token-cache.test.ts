/**
 * TokenReview results are cached by a hash of the token in a bounded LRU, against the real API
 * server: requests with one bad token (or one good one) make one TokenReview, shared by the
 * /metrics and /debug authorizers, and a flood of distinct tokens cannot grow the cache.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootLogger } from '../../../src/log.js';
import { ScribeMetrics } from '../../../src/metrics/registry.js';
import { apiTokenReview, Authenticator, RequestAuthorizer, type TokenReviewCall } from '../../../src/server/auth.js';
import {
  DEBUG_PATH,
  METRICS_PATH,
  startMetricsServer,
  type RunningServer,
} from '../../../src/server/metrics-server.js';
import { selfSignedCert, type ServingCert } from '../../../src/server/tls.js';
import { testKubeConfig } from '../../support/cluster.js';
import { scrape } from './support.js';

const log = rootLogger.child({ test: 'token-cache' });

describe('the TokenReview cache', () => {
  const kc = testKubeConfig();
  const real = apiTokenReview(kc);
  let reviews: string[] = [];
  const counting: TokenReviewCall = (token) => {
    reviews.push(token);
    return real(token);
  };
  let tls: ServingCert;
  let server: RunningServer;
  let base: string;

  beforeAll(async () => {
    tls = await selfSignedCert(['localhost'], ['127.0.0.1']);
    const authenticator = new Authenticator(kc, { tokenReview: counting });
    server = await startMetricsServer({
      registry: new ScribeMetrics().registry,
      address: { host: '127.0.0.1', port: 0 },
      tls,
      authorizer: new RequestAuthorizer(kc, { path: METRICS_PATH, verb: 'get', authenticator }),
      debug: {
        authorizer: new RequestAuthorizer(kc, { path: DEBUG_PATH, verb: 'get', authenticator }),
        accessReview: () => Promise.resolve({ allowed: false }),
        handler: () => Promise.resolve({ status: 200, contentType: 'text/plain', body: 'page\n' }),
      },
      log,
    });
    base = `https://127.0.0.1:${server.port}`;
  });
  afterAll(() => server?.close());

  it('100 requests with the same bad token make one TokenReview, for /metrics and /debug together', async () => {
    reviews = [];
    const token = `bad-${randomBytes(8).toString('hex')}`;
    // 50 at once (they share the review in flight), then 50 one after another (the cached answer).
    const concurrent = await Promise.all(
      Array.from({ length: 50 }, (_, i) => scrape(`${base}${i % 2 ? METRICS_PATH : DEBUG_PATH}`, token, tls.cert)),
    );
    const sequential: number[] = [];
    for (let i = 0; i < 50; i++) {
      sequential.push((await scrape(`${base}${i % 2 ? METRICS_PATH : DEBUG_PATH}`, token, tls.cert)).status);
    }
    expect(concurrent.map((answer) => answer.status)).toEqual(Array(50).fill(401));
    expect(sequential).toEqual(Array(50).fill(401));
    expect(reviews).toEqual([token]);
  });

  it('is bounded: distinct tokens evict the least recently used, each reviewed when it comes back', async () => {
    reviews = [];
    const authenticator = new Authenticator(kc, { tokenReview: counting, maxEntries: 5 });
    const tokens = Array.from({ length: 20 }, (_, i) => `flood-${i}-${randomBytes(4).toString('hex')}`);
    for (const token of tokens) {
      expect(await authenticator.authenticate(token)).toMatchObject({ authenticated: false });
      expect(authenticator.cachedTokens).toBeLessThanOrEqual(5);
    }
    expect(reviews).toHaveLength(20);
    expect(authenticator.cachedTokens).toBe(5);
    // The five most recent are remembered; the first was evicted and is asked again.
    for (const token of tokens.slice(-5)) await authenticator.authenticate(token);
    expect(reviews).toHaveLength(20);
    await authenticator.authenticate(tokens[0] ?? '');
    expect(reviews).toHaveLength(21);
    expect(authenticator.cachedTokens).toBe(5);
  });
});
