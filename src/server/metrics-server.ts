/**
 * GET /metrics over HTTPS: the Prometheus text of the operator's registry, for callers the API
 * server says may `get` the non-resource URL /metrics (ClusterRole scribe-metrics-reader),
 * unless authentication is disabled (--metrics-disable-auth, Helm value metrics.disableAuth).
 * With --debug-pages, also the /debug pages, authorized on their own (ClusterRole
 * scribe-debug-reader for the non-resource URL /debug, then `get` on each CR shown); never
 * without authentication.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { close, listen, type BindAddress } from './address.js';
import type { MayGet } from '../inspect/debug.js';
import type { AccessReviewCall, RequestAuthorizer } from './auth.js';
import { requestAccess } from './debug-access.js';
import type { ServingCert } from './tls.js';

/** The /debug pages and how their callers are authorized. */
export interface DebugPages {
  /** Decides who may see /debug at all (the non-resource URL /debug, verb get). */
  authorizer: RequestAuthorizer;
  /** Asks whether the caller may get CRs of a kind in a namespace. */
  accessReview: AccessReviewCall;
  /** Renders a page for a request URL, showing only what `mayGet` allows. */
  handler: (url: string, mayGet: MayGet) => Promise<{ status: number; contentType: string; body: string }>;
}

/** Settings of the metrics server. */
export interface MetricsServerOptions {
  registry: Registry;
  address: BindAddress;
  tls: ServingCert;
  /**
   * Reads the certificate again (a mounted Secret that cert-manager renews); checked every
   * `intervalMs`, and a changed pair is served to new connections.
   */
  reloadTls?: { load: () => Promise<ServingCert>; intervalMs: number } | undefined;
  /** Checks every request; absent when authentication is disabled. */
  authorizer: RequestAuthorizer | undefined;
  /** Serves the /debug state-chart pages (only with an authorizer for /metrics: never unauthenticated). */
  debug?: DebugPages | undefined;
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
/** The non-resource URL RBAC grants for every /debug page (ClusterRole scribe-debug-reader). */
export const DEBUG_PATH = '/debug';

/** Starts the metrics server and resolves once it listens. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<RunningServer> {
  if (options.debug && !options.authorizer) {
    throw new Error('the /debug pages are never served without authentication: enable it, or disable the pages');
  }
  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    serve(options, req, res).catch((error: unknown) => {
      options.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics request failed');
      if (!res.headersSent) reply(res, 500, 'metrics request failed\n');
      else res.destroy();
    });
  });
  const port = await listen(server, options.address);
  options.log.info(
    { port, auth: Boolean(options.authorizer), debug: Boolean(options.debug) },
    'serving metrics over https',
  );
  const stopReloading = options.reloadTls ? reloadTls(server, options.tls, options.reloadTls, options.log) : () => {};
  return {
    port,
    close: () => {
      stopReloading();
      return close(server);
    },
  };
}

/** Polls `load` and swaps the server's certificate when it changed; returns a stop function. */
function reloadTls(
  server: Server,
  initial: ServingCert,
  reload: { load: () => Promise<ServingCert>; intervalMs: number },
  log: Logger,
): () => void {
  let current = initial;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    reload
      .load()
      .then((next) => {
        if (next.cert === current.cert && next.key === current.key) return;
        server.setSecureContext({ cert: next.cert, key: next.key });
        current = next;
        log.info('metrics certificate reloaded');
      })
      // A half-written pair (the Secret is being updated) is tried again at the next tick.
      .catch((error: unknown) =>
        log.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics certificate not reloaded'),
      )
      .finally(() => (busy = false));
  }, reload.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

async function serve(options: MetricsServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://metrics').pathname;
  const isDebug = Boolean(options.debug) && (path === DEBUG_PATH || path.startsWith(`${DEBUG_PATH}/`));
  if (path !== METRICS_PATH && !isDebug) return reply(res, 404, 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed\n');
  if (isDebug && options.debug) {
    const decision = await options.debug.authorizer.authorize(req.headers.authorization);
    if (!decision.allowed) return refuse(options, res, decision);
    const mayGet = requestAccess(options.debug.accessReview, decision.userInfo);
    const page = await options.debug.handler(req.url ?? '/debug', mayGet);
    res.writeHead(page.status, { 'content-type': page.contentType, 'content-security-policy': DEBUG_CSP });
    res.end(req.method === 'HEAD' ? undefined : page.body);
    return;
  }
  if (options.authorizer) {
    const decision = await options.authorizer.authorize(req.headers.authorization);
    if (!decision.allowed) return refuse(options, res, decision);
  }
  const body = await options.registry.metrics();
  res.writeHead(200, { 'content-type': options.registry.contentType });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function refuse(
  options: MetricsServerOptions,
  res: ServerResponse,
  decision: { status: 401 | 403; user?: string; reason: string },
): void {
  options.log.debug({ status: decision.status, user: decision.user, reason: decision.reason }, 'request refused');
  // Say no more than kube-rbac-proxy does: the reason stays in the operator's log.
  reply(res, decision.status, decision.status === 401 ? 'Unauthorized\n' : 'Forbidden\n');
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}
