/**
 * The source waits, before its first attempt, for the destination's sshd to answer: a TCP
 * connection that receives the server's SSH identification line ("SSH-2.0-…", which an SSH server
 * sends first), looked for every few tens of milliseconds in this process. A destination between
 * two cycles listens again within a second or two; without this wait the attempt's ssh and rsync
 * started, failed on a refused (or, behind a proxy, at once closed) connection and were started
 * again after the back-off, a few tenths of a second of the sync each time. The wait is bounded
 * (FIRST_ATTEMPT_WAIT_SECONDS); when it ends unanswered the attempt runs anyway, ssh says what is
 * wrong as before, and the retries keep their back-off (retry.ts).
 */
import { connect } from 'node:net';

/**
 * The longest wait before the first attempt: the gap of a destination between two cycles
 * (0.4–2.3 s from one mover pod's end to the next one's sshd, at load 20, bench/cycle-tail.ts).
 */
export const FIRST_ATTEMPT_WAIT_SECONDS = 3;

/** How the wait ended. */
export interface DestinationWait {
  /** Whether an SSH identification line arrived. */
  answered: boolean;
  /** Time spent waiting, in milliseconds. */
  waitedMs: number;
  /** Why the last look found no answer (e.g. "Connection refused"); absent when the first answered. */
  lastMiss?: string;
}

/** Options of waitForSsh. */
export interface DestinationWaitOptions {
  /** Pause between two looks (50 ms). */
  intervalMs?: number;
  /** Longest wait for one look's connection and identification line (5 s). */
  lookTimeoutMs?: number;
  /** Called with the reason of each look that found no answer. */
  onMiss?: (reason: string) => void;
}

/** The shortest look (see waitForSsh). */
const MIN_LOOK_MS = 250;

/** Errno codes in the words ssh and strerror use, which the rest of the mover's messages use too. */
const ERRNO_WORDS: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
};

/** Looks once: resolves undefined when the server identified itself as SSH, else why not. */
function lookOnce(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let received = '';
    let settled = false;
    const socket = connect({ host, port });
    const finish = (miss: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(miss);
    };
    const timer = setTimeout(() => finish(`no SSH identification within ${timeoutMs} ms`), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.startsWith('SSH-')) finish(undefined);
      else if (received.length >= 4) finish(`the server at port ${port} is not an SSH server`);
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish(ERRNO_WORDS[error.code ?? ''] ?? error.code ?? error.message),
    );
    // A proxy in front of a destination that is not listening yet accepts, then closes.
    socket.on('close', () => finish('Connection closed without an SSH identification'));
  });
}

/** Waits up to `timeoutMs` for an SSH server to answer at host:port (see the module comment). */
export async function waitForSsh(
  host: string,
  port: number,
  timeoutMs: number,
  options: DestinationWaitOptions = {},
): Promise<DestinationWait> {
  const started = Date.now();
  const intervalMs = options.intervalMs ?? 50;
  let lastMiss: string | undefined;
  for (;;) {
    const remaining = timeoutMs - (Date.now() - started);
    // A look gets at least MIN_LOOK_MS, so that the last one before the bound can still see an
    // identification line arrive (the bound may pass by that much).
    const miss = await lookOnce(host, port, Math.max(MIN_LOOK_MS, Math.min(options.lookTimeoutMs ?? 5000, remaining)));
    if (miss === undefined)
      return { answered: true, waitedMs: Date.now() - started, ...(lastMiss ? { lastMiss } : {}) };
    lastMiss = miss;
    options.onMiss?.(miss);
    if (Date.now() - started + intervalMs >= timeoutMs)
      return { answered: false, waitedMs: Date.now() - started, lastMiss };
    await new Promise((resume) => setTimeout(resume, intervalMs));
  }
}
