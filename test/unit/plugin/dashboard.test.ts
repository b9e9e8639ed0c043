import { request } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { serveDashboard } from '../../../src/plugin/dashboard.js';
import type { Cluster } from '../../../src/plugin/kube.js';

/** A cluster nothing answers for: whatever needs the API server fails, the rest must not. */
function unreachableCluster(): Cluster {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'u', token: 'a-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, context: 'x', clusterName: 'c', namespace: 'default' };
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('kubectl scribe dashboard', () => {
  it('listens on loopback only and answers only loopback host names, GET only', async () => {
    const dashboard = await serveDashboard(unreachableCluster());
    try {
      expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/debug$/);
      const root = dashboard.url.replace(/\/debug$/, '/');
      const port = new URL(dashboard.url).port;
      // A page of another site resolving its name to 127.0.0.1 (DNS rebinding) is refused.
      expect((await get(dashboard.url, { host: `attacker.example:${port}` })).status).toBe(403);
      expect((await get(dashboard.url, { host: `localhost:${port}` }, 'POST')).status).toBe(405);
      const redirect = await get(root);
      expect(redirect.status).toBe(302);
      expect(redirect.headers.location).toBe('/debug');
      // With the API server out of reach the page says so, with the cause, and the server stays up.
      const failed = await get(dashboard.url, { host: `localhost:${port}` });
      expect(failed.status).toBe(502);
      expect(failed.body).toMatch(/^reading from the cluster failed: .*ECONNREFUSED/);
      expect(failed.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect((await get(dashboard.url)).status).toBe(502);
    } finally {
      await dashboard.close();
    }
  });
});
