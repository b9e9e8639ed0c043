/** How the entrypoints end without a transfer: timeouts, signals and configuration errors. */
import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDestination, startEntrypoint, sourceEnv, tempDir, writeKeySecrets } from './support/harness.js';

const cleanup: (() => void)[] = [];
let work: string;
let keys: { source: string; destination: string };
let data: string;

beforeAll(() => {
  work = tempDir(cleanup);
  keys = writeKeySecrets(work);
  data = join(work, 'volume');
  mkdirSync(data);
});
afterAll(() => cleanup.forEach((fn) => fn()));

describe('destination entrypoint', () => {
  it(
    'gives up with 124 when no source reports within SCRIBE_TIMEOUT_SECONDS, and cleans up',
    { timeout: 30_000 },
    async () => {
      const runDir = tempDir(cleanup);
      const destination = await startDestination(keys.destination, data, {
        SCRIBE_TIMEOUT_SECONDS: '1',
        SCRIBE_RUN_DIR: runDir,
      });
      expect(readdirSync(runDir)).toHaveLength(1);
      expect(await destination.proc.exited).toBe(124);
      expect(destination.proc.output).toContain(
        'result: no shutdown from the source within 1s (SCRIBE_TIMEOUT_SECONDS); exit code 124',
      );
      expect(readdirSync(runDir)).toEqual([]);
    },
  );

  it('stops sshd and exits 143 on SIGTERM', { timeout: 30_000 }, async () => {
    const destination = await startDestination(keys.destination, data);
    destination.proc.child.kill('SIGTERM');
    expect(await destination.proc.exited).toBe(143);
    expect(destination.proc.output).toContain('result: stopped by SIGTERM; exit code 143');
    expect(destination.proc.output).toMatch(/sshd: Received signal 15; terminating/);
  });

  it('names a missing key and a missing data directory', { timeout: 30_000 }, async () => {
    const partial = writeKeySecrets(tempDir(cleanup));
    unlinkSync(join(partial.destination, 'source.pub'));
    const missingKey = startEntrypoint('destination', { SCRIBE_KEYS_DIR: partial.destination, SCRIBE_DATA_DIR: data });
    expect(await missingKey.exited).toBe(1);
    expect(missingKey.output).toMatch(
      /cannot read key "source\.pub" at .*source\.pub \(SCRIBE_KEYS_DIR=.*\); the key Secret must hold destination, destination\.pub and source\.pub/,
    );

    const missingData = startEntrypoint('destination', {
      SCRIBE_KEYS_DIR: keys.destination,
      SCRIBE_DATA_DIR: join(work, 'nope'),
    });
    expect(await missingData.exited).toBe(1);
    expect(missingData.output).toMatch(/the data directory .*nope \(SCRIBE_DATA_DIR\) does not exist/);

    const badPort = startEntrypoint('destination', {
      SCRIBE_KEYS_DIR: keys.destination,
      SCRIBE_DATA_DIR: data,
      SCRIBE_LISTEN_PORT: 'ssh',
    });
    expect(await badPort.exited).toBe(1);
    expect(badPort.output).toContain('SCRIBE_LISTEN_PORT must be a number between 1 and 65535, got "ssh"');
  });
});

describe('source entrypoint', () => {
  it('explains configuration errors', { timeout: 30_000 }, async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ SCRIBE_DESTINATION_ADDRESS: '' }, /SCRIBE_DESTINATION_ADDRESS must be set/],
      [{ SCRIBE_DESTINATION_PATH: '/../etc' }, /SCRIBE_DESTINATION_PATH: path "\/\.\.\/etc" must not contain "\.\."/],
      [{ SCRIBE_KEYS_DIR: join(work, 'no-keys') }, /cannot read key "destination\.pub"/],
      [{ SCRIBE_RETRY_DEADLINE_SECONDS: 'soon' }, /SCRIBE_RETRY_DEADLINE_SECONDS must be a number/],
      [
        { SCRIBE_RSYNC: 'rsync-that-does-not-exist' },
        /"rsync-that-does-not-exist" was not found on PATH; install it or set SCRIBE_RSYNC/,
      ],
    ];
    const runDir = tempDir(cleanup);
    for (const [overrides, message] of cases) {
      const source = startEntrypoint(
        'source',
        sourceEnv(keys.source, data, 1, { SCRIBE_RUN_DIR: runDir, ...overrides }),
      );
      expect(await source.exited, JSON.stringify(overrides)).toBe(1);
      expect(source.output).toMatch(message);
      expect(source.output).toContain('scribe rsync source: result: configuration error');
    }
    // Nothing is left behind by a failed start.
    expect(readdirSync(runDir)).toEqual([]);
  });

  it('stops rsync and removes its copy of the key on SIGTERM', { timeout: 30_000 }, async () => {
    const runDir = tempDir(cleanup);
    // Port 1 on loopback refuses: the source sits in its retry loop until stopped.
    const source = startEntrypoint('source', sourceEnv(keys.source, data, 1, { SCRIBE_RUN_DIR: runDir }));
    await source.waitForOutput(/attempt 1 failed/, 20_000);
    expect(readdirSync(runDir)).toHaveLength(1);
    source.child.kill('SIGTERM');
    expect(await source.exited).toBe(143);
    expect(source.output).toContain('result: stopped by SIGTERM');
    expect(readdirSync(runDir)).toEqual([]);
  });
});
