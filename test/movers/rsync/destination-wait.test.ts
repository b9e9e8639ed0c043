import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { waitForSsh } from '../../../src/movers/rsync/destination-wait.js';

// The source's wait for the destination's sshd (src/movers/rsync/destination-wait.ts), against
// real sockets on the loopback: a server that comes up late, a proxy that accepts before its
// backend listens, and nothing at all.

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((done) => server.close(done));
});

/** A free loopback port, nothing listening on it any more. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  await new Promise((done) => server.close(done));
  return port;
}

function listen(port: number, onConnection: (socket: Socket) => void): Promise<void> {
  const server = createServer((socket) => {
    // The waiting side closes its looks at once; that is no error of this server's.
    socket.on('error', () => {});
    onConnection(socket);
  });
  servers.push(server);
  return new Promise((done) => server.listen(port, '127.0.0.1', done));
}

const sshServer = (port: number) => listen(port, (socket) => socket.end('SSH-2.0-OpenSSH_9.2p1\r\n'));

describe('the rsync source waits for the destination to answer', () => {
  it('returns at once when sshd answers', async () => {
    const port = await closedPort();
    await sshServer(port);
    const answer = await waitForSsh('127.0.0.1', port, 5000);
    expect(answer).toMatchObject({ answered: true });
    expect(answer.lastMiss).toBeUndefined();
  });

  it('waits, in the same attempt, for a destination that starts listening later', async () => {
    const port = await closedPort();
    let misses = 0;
    const answer = await waitForSsh('127.0.0.1', port, 20_000, {
      // The destination comes up after the source found it refusing twice.
      onMiss: (reason) => {
        expect(reason).toBe('Connection refused');
        if (++misses === 2) void sshServer(port);
      },
    });
    expect(answer).toMatchObject({ answered: true, lastMiss: 'Connection refused' });
    expect(misses).toBeGreaterThanOrEqual(2);
  });

  it('does not take a proxy that accepts and closes for the destination', async () => {
    const port = await closedPort();
    await listen(port, (socket) => socket.destroy());
    const answer = await waitForSsh('127.0.0.1', port, 400);
    expect(answer).toMatchObject({ answered: false, lastMiss: 'Connection closed without an SSH identification' });
  });

  it('gives up after its bound, saying why', async () => {
    const port = await closedPort();
    const started = Date.now();
    const answer = await waitForSsh('127.0.0.1', port, 300);
    expect(answer).toMatchObject({ answered: false, lastMiss: 'Connection refused' });
    expect(answer.waitedMs).toBeLessThan(2000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('does not take another protocol for sshd', async () => {
    const port = await closedPort();
    await listen(port, (socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const answer = await waitForSsh('127.0.0.1', port, 300);
    expect(answer).toMatchObject({ answered: false, lastMiss: `the server at port ${port} is not an SSH server` });
  });
});
