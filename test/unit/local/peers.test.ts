/**
 * Who is at the other end of a loopback connection (peers.ts), with real processes: a process
 * whose command line is `runc --root R ...` starts a child that connects, as a container's
 * process descends from its `runc run`; a plain process of the host connects too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { peerRuncRoot, procNetEndpoint, runcRootOf, socketInode } from '../../../src/local/agent/peers.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('peers', () => {
  it('spells endpoints as /proc/net/tcp does and finds a socket inode', () => {
    expect(procNetEndpoint('127.0.0.1', 8080)).toBe('0100007F:1F90');
    expect(procNetEndpoint('127.200.3.4', 22)).toBe('0403C87F:0016');
    expect(() => procNetEndpoint('::1', 22)).toThrow(/not an IPv4 address/);
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:9C40 0403C87F:0016 01 00000000:00000000 00:00000000 00000000     0        0 424242 1 0 20 4 30 10 -1',
    ].join('\n');
    expect(socketInode(table, '0100007F:9C40', '0403C87F:0016')).toBe('424242');
    expect(socketInode(table, '0100007F:9C41', '0403C87F:0016')).toBeUndefined();
    expect(runcRootOf(['/usr/sbin/runc', '--root', '/n/runc', 'run', 'x'])).toBe('/n/runc');
    expect(runcRootOf(['/usr/bin/node', '--root', '/n/runc'])).toBeUndefined();
  });

  it("names the runc root of a container-like process's connection, and none for the host's", async () => {
    const accepted: Socket[] = [];
    const waiting: ((s: Socket) => void)[] = [];
    const server = createServer((socket) => {
      const next = waiting.shift();
      if (next) next(socket);
      else accepted.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const nextConnection = () =>
      new Promise<Socket>((resolve) => {
        const ready = accepted.shift();
        if (ready) resolve(ready);
        else waiting.push(resolve);
      });
    const dir = await mkdtemp(join(tmpdir(), 'scribe-peers-'));
    const connect = join(dir, 'connect.js');
    await writeFile(connect, `require('net').connect(${port}, '127.0.0.1'); setInterval(() => {}, 1000);`);
    // "runc": a parent whose command line is runc's, with a child that connects.
    const parent = join(dir, 'parent.js');
    await writeFile(
      parent,
      `require('child_process').spawn(process.execPath, [${JSON.stringify(connect)}], { stdio: 'inherit' }); setInterval(() => {}, 1000);`,
    );
    try {
      children.push(
        spawn(process.execPath, [parent, '--root', '/nodes/b/runc', 'run', 'pod'], {
          argv0: '/usr/sbin/runc',
          stdio: 'ignore',
        }),
      );
      const fromContainer = await nextConnection();
      const endpoints = (s: Socket) =>
        [
          { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 },
          { address: s.localAddress ?? '', port: s.localPort ?? 0 },
        ] as const;
      expect(await peerRuncRoot(...endpoints(fromContainer))).toBe('/nodes/b/runc');

      children.push(spawn(process.execPath, [connect], { stdio: 'ignore' }));
      const fromHost = await nextConnection();
      expect(await peerRuncRoot(...endpoints(fromHost))).toBeUndefined();
    } finally {
      for (const s of accepted) s.destroy();
      server.close();
    }
  });
});
