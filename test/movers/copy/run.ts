/**
 * Both copy entrypoints: `cp -a` from one directory into another through the shared mover
 * runtime (its session, process runner, summary engine and termination message).
 */
import { requiredEnv } from '../../../src/movers/runtime/env.js';
import { runTool } from '../../../src/movers/runtime/process.js';
import { MoverFailure, MoverSession } from '../../../src/movers/runtime/session.js';
import { lastErrorLine } from '../../../src/movers/runtime/summary.js';
import { COPY_SUMMARY } from './summary.js';

/** Runs one side and exits with its code: the source copies the volume into the store, the destination back. */
export async function runCopy(side: 'source' | 'destination', env: NodeJS.ProcessEnv = process.env): Promise<never> {
  const session = new MoverSession({
    prefix: `scribe copy ${side}`,
    env,
    summary: COPY_SUMMARY,
    stopSignal: 'SIGTERM',
  });
  const code = await session.run(async () => {
    const data = requiredEnv(env, 'SCRIBE_DATA_DIR');
    const store = requiredEnv(env, 'SCRIBE_STORE_DIR');
    const [from, to] = side === 'source' ? [data, store] : [store, data];
    const copied = await runTool('cp', ['-a', `${from}/.`, `${to}/`], { env, redact: session.redact });
    session.record(copied.stdout, copied.stderr);
    if (copied.status !== 0)
      throw new MoverFailure(`cp -a failed with exit code ${copied.status}: ${lastErrorLine(copied.stderr)}`);
    session.log(`copied ${from} to ${to}`);
    return 'copied';
  });
  process.exit(code);
}
