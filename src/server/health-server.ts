/**
 * /healthz and /readyz on their own plain-HTTP port for the kubelet's probes: healthz while the
 * process serves at all, readyz while `ready()` says so (caches synced, or a standby waiting
 * for the Lease).
 */
import { createServer } from 'node:http';
import type { Logger } from '../log.js';
import { close, listen, type BindAddress } from './address.js';
import type { RunningServer } from './metrics-server.js';

/** Settings of the probe server. */
export interface HealthServerOptions {
  address: BindAddress;
  ready: () => boolean;
  log: Logger;
}

/** Starts the probe server and resolves once it listens. */
export async function startHealthServer(options: HealthServerOptions): Promise<RunningServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://probe').pathname;
    const ok = path === '/healthz' || path === '/livez' ? true : path === '/readyz' ? options.ready() : undefined;
    const status = ok === undefined ? 404 : ok ? 200 : 503;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(ok === undefined ? 'not found\n' : ok ? 'ok\n' : 'not ready\n');
  });
  const port = await listen(server, options.address);
  options.log.info({ port }, 'serving /healthz and /readyz');
  return { port, close: () => close(server) };
}
