/**
 * The kubelet's HTTPS endpoint, for the one thing the API server asks of it here:
 * GET /containerLogs/{namespace}/{pod}/{container}, which backs `kubectl logs` and the
 * pods/log subresource. tailLines, limitBytes and previous are honoured; follow answers with
 * the log as it is now.
 *
 * As the kubelet with --client-ca-file: the TLS handshake demands a client certificate issued by
 * the cluster's client CA (the API server's kubelet client certificate), so any other caller, with
 * no certificate or one of another CA, is refused before a request is read. The serving
 * certificate is the node's, from the cluster's signer (serving-certificate.ts), which the API
 * server verifies (--kubelet-certificate-authority).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { KeyPair } from '../pki.js';

/** Finds a container's log file; undefined when the pod or container is unknown here. */
export type LogLocator = (namespace: string, pod: string, container: string, previous: boolean) => string | undefined;

/** A running logs server. */
export interface LogsServer {
  port: number;
  close(): Promise<void>;
}

/** The endpoint's TLS: its serving certificate and the CA its callers' certificates must chain to. */
export interface LogsServerTls extends KeyPair {
  clientCa: string;
}

/** The last `lines` lines of `text` (a trailing newline does not count as a line). */
export function tailLines(text: Buffer, lines: number): Buffer {
  if (lines < 0) return text;
  if (lines === 0) return Buffer.alloc(0);
  let end = text.length;
  if (end > 0 && text[end - 1] === 0x0a) end--;
  let start = end;
  for (let seen = 0; start > 0; start--) {
    if (text[start - 1] === 0x0a && ++seen === lines) break;
  }
  return text.subarray(start);
}

/** Starts the HTTPS server on 127.0.0.1 (port 0 = any free port). */
export async function startLogsServer(options: {
  tls: LogsServerTls;
  port?: number;
  locate: LogLocator;
}): Promise<LogsServer> {
  const { cert, key, clientCa } = options.tls;
  const tls = { cert, key, ca: clientCa, requestCert: true, rejectUnauthorized: true };
  const server: Server = createServer(tls, (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      if (req.method !== 'GET' || parts[0] !== 'containerLogs' || parts.length !== 4) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      const [, namespace = '', pod = '', container = ''] = parts;
      const previous = url.searchParams.get('previous') === 'true';
      const file = options.locate(namespace, pod, container, previous);
      if (!file || !existsSync(file)) {
        const what = previous ? 'previous terminated container' : 'container';
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end(`${what} "${container}" in pod "${pod}" is not available on this node\n`);
        return;
      }
      let body: Buffer = await readFile(file);
      const tail = url.searchParams.get('tailLines');
      if (tail !== null && /^\d+$/.test(tail)) body = tailLines(body, Number(tail));
      const limit = url.searchParams.get('limitBytes');
      if (limit !== null && /^\d+$/.test(limit)) body = body.subarray(0, Number(limit));
      res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    })().catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
