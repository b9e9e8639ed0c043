/**
 * A small JSON REST client over a KubeConfig. client-node's typed APIs turn timestamps into
 * Date objects while its watches deliver plain JSON; Scribe works on plain JSON everywhere, so
 * reads and writes go through here and objects look the same whether listed or watched.
 */
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

/** An error answer of the API server, with its HTTP status and Status reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** True when `error` is an API answer with this HTTP status. */
export function isStatus(error: unknown, status: number): boolean {
  return error instanceof ApiError && error.status === status;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** Options of one request. */
export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  patchType?: PatchType;
  /** Return the body as text instead of parsing JSON (logs). */
  text?: boolean;
  timeoutMs?: number;
}

/** The TLS material of a request: an agent serves only requests with the same. */
type TlsMaterial = RequestOptions['ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'][];

/** One agent per TLS identity the process has used: a handful at most (one per cluster and user). */
const agents: Array<{ material: TlsMaterial; agent: Agent }> = [];

/**
 * The keep-alive agent for the TLS material in `options` (CA, client certificate, verification).
 * The material is compared byte for byte with that of the agents made so far, instead of being
 * hashed on every request (a request's options carry fresh Buffers each time).
 */
function sharedAgent(options: RequestOptions): Agent {
  const material: TlsMaterial = [
    options.ca,
    options.cert,
    options.key,
    options.pfx,
    options.passphrase,
    options.rejectUnauthorized,
    options.servername,
  ];
  const known = agents.find((entry) => material.every((item, i) => sameMaterial(item, entry.material[i])));
  if (known) return known.agent;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 32,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    pfx: options.pfx,
    passphrase: options.passphrase,
    rejectUnauthorized: options.rejectUnauthorized,
    servername: options.servername,
  });
  agents.push({ material, agent });
  return agent;
}

/** Equal TLS material: the same value, or Buffers (or arrays of them) with the same bytes. */
function sameMaterial(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameMaterial(x, b[i]));
  return false;
}

/** Sends one request and returns the parsed JSON body. */
export async function kubeRequest<T = unknown>(kc: KubeConfig, spec: RequestSpec): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in kubeconfig');
  const url = new URL(cluster.server.replace(/\/$/, '') + spec.path);
  for (const [key, value] of Object.entries(spec.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const options: RequestOptions = {
    method: spec.method,
    headers: { accept: 'application/json' },
    timeout: spec.timeoutMs ?? 30_000,
  };
  await kc.applyToHTTPSOptions(options);
  // client-node makes a new https.Agent per request: a TLS handshake and a fresh CA context
  // each time (most of the operator's CPU at scale). One keep-alive agent per TLS identity.
  if (url.protocol === 'https:') options.agent = sharedAgent(options);
  let payload: string | undefined;
  if (spec.body !== undefined) {
    payload = typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body);
    options.headers = {
      ...options.headers,
      'content-type': spec.method === 'PATCH' ? PATCH_CONTENT_TYPES[spec.patchType ?? 'merge'] : 'application/json',
      'content-length': Buffer.byteLength(payload),
    };
  }
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<T>((resolve, reject) => {
    const req = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          if (spec.text) return resolve(text as T);
          try {
            return resolve((text ? JSON.parse(text) : {}) as T);
          } catch {
            return reject(new ApiError(status, 'BadResponse', `unparseable answer from ${spec.path}`));
          }
        }
        let reason = res.statusMessage ?? 'Error';
        let message = text || reason;
        let details: unknown;
        try {
          const parsed = JSON.parse(text) as { reason?: string; message?: string; details?: unknown };
          reason = parsed.reason ?? reason;
          message = parsed.message ?? message;
          details = parsed.details;
        } catch {
          // not a Status object: keep the raw text
        }
        reject(new ApiError(status, reason, `${spec.method} ${spec.path}: ${message}`, details));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${spec.method} ${spec.path}: timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
