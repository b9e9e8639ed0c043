/**
 * The end-of-transfer handshake between an ssh session on the destination and the destination
 * entrypoint: a Unix socket in the entrypoint's private run directory. The session (running the
 * source's `shutdown <code>`) writes one line, the entrypoint answers "ok" and then exits with
 * that code, so the source learns that its result arrived before the destination goes away.
 */
import { createConnection, createServer, type Server } from 'node:net';
import type { Readable } from 'node:stream';
import { parseExitCode } from './remote-command.js';

/** A listening handshake socket; `exitCode` settles with the first code a session delivers. */
export interface HandshakeListener {
  exitCode: Promise<number>;
  close(): Promise<void>;
}

/** Listens on `socketPath` for `shutdown <code>` lines. */
export async function listenForShutdown(socketPath: string): Promise<HandshakeListener> {
  let deliver: (code: number) => void = () => undefined;
  const exitCode = new Promise<number>((resolve) => (deliver = resolve));
  const server: Server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > 64) return void socket.destroy();
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      const code = parseExitCode(/^shutdown (.*)$/.exec(buffer.slice(0, newline))?.[1]);
      if (code === undefined) return void socket.end('error malformed handshake\n');
      socket.end('ok\n', () => deliver(code));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    exitCode,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Delivers `code` to the entrypoint listening on `socketPath`; resolves once it acknowledged. */
export function sendShutdown(socketPath: string, code: number, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let reply = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error('the destination did not acknowledge the shutdown in time')),
    );
    socket.on('connect', () => socket.write(`shutdown ${code}\n`));
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('error', reject);
    socket.on('close', () =>
      reply.startsWith('ok')
        ? resolve()
        : reject(new Error(`the destination rejected the shutdown: ${reply.trim() || 'no reply'}`)),
    );
  });
}

/**
 * Reads the exit code of a `shutdown -` session: one line holding 0-255, within 8 bytes. Rejects
 * when the stream ends first (the source went away without a result) or sends anything else.
 */
export function readExitCodeLine(input: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const finish = (outcome: () => void) => {
      input.removeAllListeners('data').removeAllListeners('end').removeAllListeners('error');
      input.destroy();
      outcome();
    };
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0 && buffer.length <= 8) return;
      const code = newline < 0 ? undefined : parseExitCode(buffer.slice(0, newline));
      finish(() => (code !== undefined ? resolve(code) : reject(new Error('the source sent no valid exit code'))));
    });
    input.on('end', () => finish(() => reject(new Error('the source closed the handshake without a result'))));
    input.on('error', (error) => finish(() => reject(error)));
  });
}
