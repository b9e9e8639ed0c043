/**
 * A TCP relay on loopback whose bandwidth a test can turn down and up again: movers reach the
 * S3 server through it, so a transfer that takes a second on loopback can be made to last long
 * enough to be interrupted in the middle. One budget is shared by every connection and both
 * directions; an unlimited link relays bytes as they come. (S3 signatures cover the Host header
 * the client sent, which the relay passes through unchanged, so the server accepts them.)
 */
import { createServer, connect, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/** A running relay. */
export interface SlowLink {
  /** host:port to connect to instead of the target. */
  address: string;
  /** Bytes per second across all connections; Infinity (the start) means no limit. */
  setRate(bytesPerSecond: number): void;
  close(): Promise<void>;
}

/** Starts a relay from a free loopback port to `target` (host:port). */
export async function startSlowLink(target: string): Promise<SlowLink> {
  const [targetHost = '127.0.0.1', targetPort = ''] = target.split(/:(?=\d+$)/);
  let rate = Number.POSITIVE_INFINITY;
  // When the link is next free: every chunk reserves its transmission time after the previous one.
  let freeAt = 0;
  const delayFor = (bytes: number) => {
    if (!Number.isFinite(rate)) return 0;
    const now = Date.now();
    freeAt = Math.max(freeAt, now) + (bytes / rate) * 1000;
    return freeAt - now;
  };
  const throttle = () =>
    new Transform({
      transform(chunk: Buffer, _encoding, done: TransformCallback) {
        const wait = delayFor(chunk.length);
        if (wait <= 0) done(null, chunk);
        else setTimeout(() => done(null, chunk), wait);
      },
    });
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect(Number(targetPort), targetHost);
    track(client);
    track(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(throttle()).pipe(upstream);
    upstream.pipe(throttle()).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    setRate(bytesPerSecond: number) {
      rate = bytesPerSecond;
      freeAt = 0;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
