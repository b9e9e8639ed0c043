/**
 * The end-of-transfer handshake between an ssh session on the destination and the destination
 * entrypoint: a Unix socket in the entrypoint's private run directory. The session (running the
 * source's `shutdown <code>`) writes one line, `shutdown <code> <its pid>`; the entrypoint notes
 * which session it was, answers "ok" and exits with that code once the session's ssh connection
 * has closed, so the source learns that its result arrived before the destination goes away.
 */
import { createConnection, createServer, type Server } from 'node:net';
import type { Readable } from 'node:stream';
import { parseExitCode } from './remote-command.js';

/** A code a session delivered, with what `identify` said about that session. */
export interface Delivery<T> {
  exitCode: number;
  session: T;
}

/** A listening handshake socket; `delivered` settles with the first code a session delivers. */
export interface HandshakeListener<T> {
  delivered: Promise<Delivery<T>>;
  close(): Promise<void>;
}

/**
 * Listens on `socketPath` for `shutdown <code> [<pid>]` lines. `identify` is called with the
 * session's pid (undefined when the line has none) while the session still waits for the answer,
 * so it can look at the live session (its ssh connection) before that session may exit.
 */
export async function listenForShutdown<T = undefined>(
  socketPath: string,
  identify: (sessionPid: number | undefined) => T = () => undefined as T,
): Promise<HandshakeListener<T>> {
  let deliver: (delivery: Delivery<T>) => void = () => undefined;
  const delivered = new Promise<Delivery<T>>((resolve) => (deliver = resolve));
  const server: Server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > 64) return void socket.destroy();
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      const line = parseHandshakeLine(buffer.slice(0, newline));
      if (line === undefined) return void socket.end('error malformed handshake\n');
      const delivery = { exitCode: line.exitCode, session: identify(line.pid) };
      socket.end('ok\n', () => deliver(delivery));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    delivered,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The line a session writes to the entrypoint: `shutdown <code>`, optionally followed by its pid. */
export function handshakeLine(code: number, pid?: number): string {
  return pid === undefined ? `shutdown ${code}\n` : `shutdown ${code} ${pid}\n`;
}

/** Parses a handshake line (without its newline); undefined when it is malformed. */
export function parseHandshakeLine(line: string): { exitCode: number; pid?: number } | undefined {
  const match = /^shutdown (\S+)(?: ([1-9]\d{0,9}))?$/.exec(line);
  const exitCode = parseExitCode(match?.[1]);
  if (match === null || exitCode === undefined) return undefined;
  return match[2] === undefined ? { exitCode } : { exitCode, pid: Number(match[2]) };
}

/**
 * Delivers `code` to the entrypoint listening on `socketPath`, naming the session by `pid` (the
 * entrypoint then waits for that session's ssh connection to close); resolves once it acknowledged.
 */
export function sendShutdown(socketPath: string, code: number, pid?: number, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let reply = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error('the destination did not acknowledge the shutdown in time')),
    );
    socket.on('connect', () => socket.write(handshakeLine(code, pid)));
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
