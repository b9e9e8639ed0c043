/**
 * The image's movers: `npm run build` bundles each mover entrypoint into
 * dist/movers/<mover>/<entrypoint>.mjs (src/cli/bundle.ts) and bin/scribe runs that file for
 * `scribe mover <mover>-<entrypoint>`. Built here into an empty directory with only bin/scribe
 * beside it (no node_modules, no sources, so nothing but the bundles can run), an rsync
 * destination and source sync a directory: a dependency a bundle misses, a destination that
 * cannot find its ssh session entrypoint beside it, or bin/scribe not choosing the bundle fails it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleMovers } from '../../src/cli/bundle.js';
import { repoRoot } from '../../src/local/tools.js';
import {
  destinationEnv,
  freePort,
  RunningProcess,
  sourceEnv,
  tempDir,
  toolPath,
  writeKeySecrets,
} from './rsync/support/harness.js';

const cleanup: (() => void)[] = [];
afterAll(() => cleanup.forEach((fn) => fn()));

describe('the bundled movers', () => {
  it(
    'bin/scribe runs each mover from its bundle: an rsync sync with nothing but the bundles',
    { timeout: 120_000 },
    async () => {
      const work = tempDir(cleanup);
      const app = join(work, 'app');
      mkdirSync(join(app, 'bin'), { recursive: true });
      copyFileSync(join(repoRoot(), 'bin', 'scribe'), join(app, 'bin', 'scribe'));
      await bundleMovers(join(app, 'dist', 'movers'));
      const keys = writeKeySecrets(work);
      const source = join(work, 'source');
      const destination = join(work, 'destination');
      mkdirSync(source);
      mkdirSync(destination);
      writeFileSync(join(source, 'file'), 'through the bundles\n');

      const scribe = (mover: string, env: Record<string, string>) =>
        new RunningProcess(
          spawn(join(app, 'bin', 'scribe'), ['mover', mover], {
            env: { PATH: toolPath(), ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
        );
      const port = await freePort();
      const receiver = scribe('rsync-destination', destinationEnv(keys.destination, destination, port));
      await receiver.waitForOutput(/ready on port/, 20_000);
      // bin/scribe execs node on the bundle (one pid).
      const cmdline = readFileSync(`/proc/${receiver.child.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline[1]).toBe(join(app, 'dist', 'movers', 'rsync', 'destination.mjs'));

      const sender = scribe('rsync-source', sourceEnv(keys.source, source, port));
      const [sent, received] = await Promise.all([sender.exited, receiver.exited]);
      expect(sent, sender.output).toBe(0);
      expect(received, receiver.output).toBe(0);
      expect(readFileSync(join(destination, 'file'), 'utf8')).toBe('through the bundles\n');
      // The result came over the handshake, which the destination's session entrypoint (session.mjs) took.
      expect(sender.output).toContain('the destination acknowledged exit code 0');
    },
  );
});
