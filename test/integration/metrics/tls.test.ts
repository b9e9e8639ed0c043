/**
 * The metrics server serves the certificate it is given (metrics.tls.secretName mounted as
 * --metrics-cert-dir: tls.crt and tls.key of a CA-signed pair, as cert-manager writes them),
 * verifiable as the chart's ServiceMonitor verifies it (the Secret's ca.crt and the Service's
 * DNS name), and a renewed pair written in place is served without a restart.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootLogger } from '../../../src/log.js';
import { waitFor } from '../../../src/local/processes.js';
import { ScribeMetrics } from '../../../src/metrics/registry.js';
import { METRICS_PATH, startMetricsServer, type RunningServer } from '../../../src/server/metrics-server.js';
import { readCertDir, servingCert } from '../../../src/server/tls.js';
import { scrape } from './support.js';

const run = promisify(execFile);
const log = rootLogger.child({ test: 'metrics-tls' });
const SERVER_NAME = 'scribe-metrics.scribe-system.svc';

/** A throwaway CA (ca.crt, ca.key) in `dir`. */
async function makeCa(dir: string): Promise<void> {
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=scribe-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
  ]);
}

/** Issues tls.crt and tls.key in `dir` for the metrics Service's name, signed by the CA there. */
async function issue(dir: string): Promise<string> {
  await run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=scribe-metrics',
    '-keyout',
    join(dir, 'next.key'),
    '-out',
    join(dir, 'next.csr'),
  ]);
  await writeFile(join(dir, 'ext.cnf'), `subjectAltName=DNS:${SERVER_NAME},IP:127.0.0.1\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    join(dir, 'next.csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-set_serial',
    `0x${Date.now().toString(16)}`,
    '-days',
    '1',
    '-extfile',
    join(dir, 'ext.cnf'),
    '-out',
    join(dir, 'next.crt'),
  ]);
  // The key first, then the certificate, as a renewal lands (a mismatched pair is skipped meanwhile).
  await writeFile(join(dir, 'tls.key'), await readFile(join(dir, 'next.key')));
  const cert = await readFile(join(dir, 'next.crt'), 'utf8');
  await writeFile(join(dir, 'tls.crt'), cert);
  return cert;
}

/** The certificate the server presents, verified against `ca` for `servername`. */
function presented(
  port: number,
  ca: string,
  servername: string,
): Promise<{ authorized: boolean; error?: string; fingerprint256?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername, rejectUnauthorized: false }, () => {
      const fingerprint256 = socket.getPeerCertificate().fingerprint256;
      const error = socket.authorizationError ? String(socket.authorizationError) : undefined;
      resolve({ authorized: socket.authorized, fingerprint256, ...(error ? { error } : {}) });
      socket.end();
    });
    socket.on('error', (error) => resolve({ authorized: false, error: error.message }));
  });
}

describe('the metrics server with a given certificate', () => {
  let dir: string;
  let ca: string;
  let first: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scribe-metrics-tls-'));
    await makeCa(dir);
    ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    first = await issue(dir);
    server = await startMetricsServer({
      registry: new ScribeMetrics().registry,
      address: { host: '127.0.0.1', port: 0 },
      tls: await servingCert(dir),
      reloadTls: { load: () => readCertDir(dir), intervalMs: 50 },
      authorizer: undefined,
      log,
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("presents tls.crt, which verifies with the Secret's CA for the Service's DNS name", async () => {
    const answer = await presented(server.port, ca, SERVER_NAME);
    expect(answer).toEqual({ authorized: true, fingerprint256: new X509Certificate(first).fingerprint256 });
    // A name the certificate does not carry fails verification: the check is real.
    const wrongName = await presented(server.port, ca, 'elsewhere.example');
    expect(wrongName.authorized).toBe(false);
    // And the endpoint answers over it (authentication disabled in this test).
    const scraped = await scrape(`https://127.0.0.1:${server.port}${METRICS_PATH}`);
    expect(scraped.status).toBe(200);
  });

  it('serves a renewed certificate written in place without a restart', async () => {
    const renewed = await issue(dir);
    const expected = new X509Certificate(renewed).fingerprint256;
    expect(expected).not.toBe(new X509Certificate(first).fingerprint256);
    await waitFor('the renewed certificate served', async () => {
      const answer = await presented(server.port, ca, SERVER_NAME);
      return answer.authorized && answer.fingerprint256 === expected;
    });
  });
});
