/**
 * The source retries a destination that is not up yet, and fails clearly when the destination
 * dies in the middle of a transfer.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startDestination,
  startEntrypoint,
  sourceEnv,
  tempDir,
  waitUntil,
  writeKeySecrets,
  type RunningProcess,
} from './support/harness.js';
import { bytes } from './support/tree.js';

const cleanup: (() => void)[] = [];
const processes: RunningProcess[] = [];
let work: string;
let keys: { source: string; destination: string };

beforeAll(() => {
  work = tempDir(cleanup);
  keys = writeKeySecrets(work);
});

afterAll(() => {
  processes.forEach((proc) => proc.killTree());
  cleanup.forEach((fn) => fn());
});

function volume(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  return dir;
}

describe('rsync source retries', () => {
  it('reaches a destination that comes up after the source started', { timeout: 60_000 }, async () => {
    const sourceDir = volume('late-source');
    writeFileSync(join(sourceDir, 'file.txt'), 'arrives eventually\n');
    const destDir = volume('late-destination');
    const port = await freePort();

    const source = startEntrypoint(
      'source',
      sourceEnv(keys.source, sourceDir, port, { SCRIBE_RETRY_DEADLINE_SECONDS: '45' }),
    );
    processes.push(source);
    // Nothing listens yet: the source must report a retry before the destination exists. (rsync
    // reports ssh's failure as 255 or as a broken stream, 12, whichever it notices first.)
    await source.waitForOutput(
      /attempt 1 failed \(exit code (12|255): ssh: connect to host 127\.0\.0\.1 port \d+: Connection refused\); retrying/,
      20_000,
    );

    const destination = await startDestination(keys.destination, destDir, { SCRIBE_LISTEN_PORT: String(port) });
    processes.push(destination.proc);
    expect(await source.exited, source.output).toBe(0);
    expect(await destination.proc.exited).toBe(0);
    expect(readdirSync(destDir)).toEqual(['file.txt']);
    expect(source.output).toMatch(/rsync finished in [\d.]+s with exit code 0 after [2-9]\d* attempt\(s\)/);
  });

  it('retries sub-second by default, doubling (issue 27)', { timeout: 60_000 }, async () => {
    const sourceDir = volume('default-policy-source');
    writeFileSync(join(sourceDir, 'file.txt'), 'arrives after a short wait\n');
    const destDir = volume('default-policy-destination');
    const port = await freePort();
    // The harness's quick test policy left out: the entrypoint's own defaults apply.
    const env = sourceEnv(keys.source, sourceDir, port, { SCRIBE_RETRY_DEADLINE_SECONDS: '45' });
    delete env.SCRIBE_RETRY_INITIAL_DELAY_SECONDS;
    delete env.SCRIBE_RETRY_MAX_DELAY_SECONDS;

    const source = startEntrypoint('source', env);
    processes.push(source);
    await source.waitForOutput(/attempt 3 failed \(exit code (12|255): [^\n]*\); retrying in 0\.4s/, 20_000);
    expect(source.output).toMatch(/attempt 1 failed \(exit code (12|255): [^\n]*\); retrying in 0\.1s/);
    expect(source.output).toMatch(/attempt 2 failed \(exit code (12|255): [^\n]*\); retrying in 0\.2s/);

    const destination = await startDestination(keys.destination, destDir, { SCRIBE_LISTEN_PORT: String(port) });
    processes.push(destination.proc);
    expect(await source.exited, source.output).toBe(0);
    expect(await destination.proc.exited).toBe(0);
    expect(readdirSync(destDir)).toEqual(['file.txt']);
  });

  it('fails with a clear message when the destination dies mid-transfer', { timeout: 60_000 }, async () => {
    const sourceDir = volume('dying-source');
    // 8 MiB of incompressible data at 1 MiB/s leaves seconds to kill the destination mid-file.
    writeFileSync(join(sourceDir, 'big.bin'), bytes(42, 8 * 1024 * 1024));
    const destDir = volume('dying-destination');
    const destination = await startDestination(keys.destination, destDir);
    processes.push(destination.proc);

    const source = startEntrypoint(
      'source',
      sourceEnv(keys.source, sourceDir, destination.port, {
        SCRIBE_RSYNC_BWLIMIT: '1024',
        SCRIBE_RETRY_DEADLINE_SECONDS: '3',
      }),
    );
    processes.push(source);
    // rsync writes into a temporary ".big.bin.XXXXXX" next to the target while the file travels.
    await waitUntil(
      () => readdirSync(destDir).some((name) => name.startsWith('.big.bin.')),
      20_000,
      'a partial file on the destination',
      source,
    );
    destination.proc.killTree();

    const code = await source.exited;
    expect(code).not.toBe(0);
    expect(source.output).toMatch(/attempt 1 failed \(exit code (12|255): .*\); retrying/);
    expect(source.output).toMatch(
      /error: gave up after \d+ attempt\(s\) in \d+s \(SCRIBE_RETRY_DEADLINE_SECONDS=3\); last error: exit code (12|255): ssh: connect to host 127\.0\.0\.1 port \d+: Connection refused/,
    );
    expect(source.output).toMatch(new RegExp(`result: synchronization failed with rsync exit code ${code}`));
    expect(readdirSync(destDir)).not.toContain('big.bin');
  });
});
