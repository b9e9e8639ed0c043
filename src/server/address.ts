/** Bind addresses as the flags give them (controller-runtime's conventions), and listening on them. */
import type { Server } from 'node:net';

/** Where a server listens; `host` undefined means every interface. */
export interface BindAddress {
  host: string | undefined;
  port: number;
}

/**
 * Parses ":8443", "0.0.0.0:8443", "127.0.0.1:0" or "[::1]:8443". "0" (or an empty value)
 * means the server is disabled, as with controller-runtime's --metrics-bind-address.
 */
export function parseBindAddress(value: string): BindAddress | undefined {
  const text = value.trim();
  if (text === '' || text === '0') return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!match) throw new Error(`invalid bind address "${value}": expected HOST:PORT, :PORT or 0 to disable`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`invalid bind address "${value}": port out of range`);
  const host = match[1] ?? match[2];
  return { host: host ? host : undefined, port };
}

/** Starts `server` listening on `address` and returns the port it got (useful with port 0). */
export function listen(server: Server, address: BindAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound ? bound.port : address.port);
    });
  });
}

/** Closes `server`, dropping idle keep-alive connections so the close does not wait for them. */
export function close(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
