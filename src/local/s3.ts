/**
 * A real S3 server on loopback for the restic and rclone movers' tests and the local runtime:
 * MinIO built from its Go module (tools/minio), on a free port, with random credentials and its
 * data in a temporary directory. Stopping it waits for the process and removes what it created.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProcess, waitFor } from './processes.js';
import { toolDir } from './tools.js';

/** A running S3 server. */
export interface S3Server {
  /** http://127.0.0.1:PORT, or https:// when started with `tls`. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** Where the server keeps its objects (a bucket is a directory of it). */
  dataDir: string;
  logFile: string;
  /** Creates a bucket (through the S3 API, as a client would). */
  createBucket(name: string): Promise<void>;
  /** Stops the server and removes its temporary directory (not a `dir` that was passed in). */
  stop(): Promise<void>;
}

/** Options of startS3Server. */
export interface S3ServerOptions {
  /** Directory for the data and the log; a temporary one (removed on stop) when absent. */
  dir?: string;
  /** Log file; `<dir>/minio.log` when absent. */
  log?: string;
  /** How long to wait for the server to come up. */
  timeoutMs?: number;
  /**
   * Serve HTTPS with this certificate (PEM, for 127.0.0.1) and key; `ca` is what clients (the
   * readiness check, createBucket) trust. MinIO reads them from --certs-dir.
   */
  tls?: { certificate: string; privateKey: string; ca: string };
}

/** Starts MinIO on 127.0.0.1 with a free port and random credentials. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const bin = join(await toolDir('minio'), 'minio');
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'scribe-s3-'));
  const dataDir = join(dir, 'data');
  const configDir = join(dir, 'config');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(configDir, { recursive: true });
  const certsDir = join(dir, 'certs');
  if (options.tls) {
    mkdirSync(certsDir, { recursive: true });
    writeFileSync(join(certsDir, 'public.crt'), options.tls.certificate);
    writeFileSync(join(certsDir, 'private.key'), options.tls.privateKey, { mode: 0o600 });
  }
  const ca = options.tls?.ca;
  const accessKey = `scribe${randomBytes(6).toString('hex')}`;
  const secretKey = randomBytes(24).toString('base64url');
  const port = await freePort();
  const endpoint = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const logFile = options.log ?? join(dir, 'minio.log');
  const proc = startProcess(
    'minio',
    bin,
    [
      'server',
      '--quiet',
      '--address',
      `127.0.0.1:${port}`,
      '--console-address',
      `127.0.0.1:${await freePort()}`,
      '--config-dir',
      configDir,
      ...(options.tls ? ['--certs-dir', certsDir] : []),
      dataDir,
    ],
    logFile,
    {
      ...process.env,
      MINIO_ROOT_USER: accessKey,
      MINIO_ROOT_PASSWORD: secretKey,
      // No phoning home, no update checks, no browser console: a test server on loopback.
      MINIO_UPDATE: 'off',
      MINIO_BROWSER: 'off',
      MINIO_CI_CD: '1',
    },
  );
  const stop = async () => {
    await proc.stop();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `MinIO on ${endpoint} (log ${logFile})`,
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`minio exited with code ${proc.child.exitCode}`);
        if (!(await send(new URL('/minio/health/ready', endpoint), 'GET', {}, ca)).ok) return false;
        // Ready can come before the credentials are: a signed request may still get 503
        // "Server not initialized" for a moment. Ready means a client's first call succeeds.
        return (await s3Get(endpoint, accessKey, secretKey, '/', ca)).ok;
      },
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 100 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    endpoint,
    accessKey,
    secretKey,
    dataDir,
    logFile,
    createBucket: (name) => createBucket(endpoint, accessKey, secretKey, name, ca),
    stop,
  };
}

/** A signed GET (ListBuckets for "/"), as any S3 client's first call. */
function s3Get(
  endpoint: string,
  accessKey: string,
  secretKey: string,
  path: string,
  ca?: string,
): Promise<{ ok: boolean; status: number; text: string }> {
  const url = new URL(path, endpoint);
  const headers = signV4({ method: 'GET', url, accessKey, secretKey, region: 'us-east-1', now: new Date() });
  return send(url, 'GET', headers, ca);
}

/** One request with an empty body over HTTP, or HTTPS trusting `ca` (fetch cannot be given a CA). */
function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  ca?: string,
): Promise<{ ok: boolean; status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const options = { method, headers, ...(ca ? { ca } : {}) };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, text: Buffer.concat(chunks).toString() });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Creates a bucket on any S3 endpoint with the given credentials (a signed PUT, as a client would). */
export async function createBucket(
  endpoint: string,
  accessKey: string,
  secretKey: string,
  bucket: string,
  ca?: string,
): Promise<void> {
  const url = new URL(`/${bucket}`, endpoint);
  const headers = signV4({ method: 'PUT', url, accessKey, secretKey, region: 'us-east-1', now: new Date() });
  const response = await send(url, 'PUT', headers, ca);
  if (!response.ok) throw new Error(`creating bucket ${bucket} failed: ${response.status} ${response.text}`);
}

/** The headers of an S3 request with an empty body, signed with SigV4. */
function signV4(request: {
  method: string;
  url: URL;
  accessKey: string;
  secretKey: string;
  region: string;
  now: Date;
}): Record<string, string> {
  const amzDate = request.now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = createHash('sha256').update('').digest('hex');
  const headers: Record<string, string> = {
    host: request.url.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  };
  const signedHeaders = Object.keys(headers).sort().join(';');
  const canonical = [
    request.method,
    request.url.pathname,
    '',
    ...Object.keys(headers)
      .sort()
      .map((name) => `${name}:${headers[name]}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${request.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${request.secretKey}`, day), request.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
  const { host: _host, ...sent } = headers;
  return {
    ...sent,
    authorization: `AWS4-HMAC-SHA256 Credential=${request.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}
