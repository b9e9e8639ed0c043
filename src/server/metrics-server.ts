/**
 * GET /metrics over HTTPS: the Prometheus text of the operator's registry, for callers the API
 * server says may `get` the non-resource URL /metrics (ClusterRole scribe-metrics-reader),
 * unless authentication is disabled (--metrics-disable-auth, Helm value metrics.disableAuth).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { close, listen, type BindAddress } from './address.js';
import type { RequestAuthorizer } from './auth.js';
import type { ServingCert } from './tls.js';

/** Settings of the metrics server. */
export interface MetricsServerOptions {
  registry: Registry;
  address: BindAddress;
  tls: ServingCert;
  /** Checks every request; absent when authentication is disabled. */
  authorizer: RequestAuthorizer | undefined;
  /** Serves the /debug state-chart pages, behind the same authentication as /metrics. */
  debug?: ((url: string) => Promise<{ status: number; contentType: string; body: string }>) | undefined;
  log: Logger;
}

/** The debug pages run one inline script and style; nothing may load from elsewhere. */
const DEBUG_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'";

/** A running HTTP(S) server. */
export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** The path the metrics are served on, and the non-resource URL RBAC grants. */
export const METRICS_PATH = '/metrics';

/** Starts the metrics server and resolves once it listens. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<RunningServer> {
  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    serve(options, req, res).catch((error: unknown) => {
      options.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics request failed');
      if (!res.headersSent) reply(res, 500, 'metrics request failed\n');
      else res.destroy();
    });
  });
  const port = await listen(server, options.address);
  options.log.info({ port, auth: Boolean(options.authorizer) }, 'serving metrics over https');
  return { port, close: () => close(server) };
}

async function serve(options: MetricsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://metrics').pathname;
  const isDebug = Boolean(options.debug) && (path === '/debug' || path.startsWith('/debug/'));
  if (path !== METRICS_PATH && !isDebug) return reply(res, 404, 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed\n');
  if (options.authorizer) {
    const decision = await options.authorizer.authorize(req.headers.authorization);
    if (!decision.allowed) {
      options.log.debug({ status: decision.status, user: decision.user, reason: decision.reason }, 'scrape refused');
      // Say no more than kube-rbac-proxy does: the reason stays in the operator's log.
      return reply(res, decision.status, decision.status === 401 ? 'Unauthorized\n' : 'Forbidden\n');
    }
  }
  if (isDebug && options.debug) {
    const page = await options.debug(req.url ?? '/debug');
    res.writeHead(page.status, { 'content-type': page.contentType, 'content-security-policy': DEBUG_CSP });
    res.end(req.method === 'HEAD' ? undefined : page.body);
    return;
  }
  const body = await options.registry.metrics();
  res.writeHead(200, { 'content-type': options.registry.contentType });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}
