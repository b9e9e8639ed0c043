/**
 * The status summary of rsync output: real rsync runs (a local transfer with the mover's flags,
 * a failed connection over ssh), plus properties that hold for any log.
 */
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsyncArgs } from '../../../src/movers/rsync/ssh-client.js';
import { DEFAULT_SUMMARY_BYTES, summarizeRsyncLog } from '../../../src/movers/rsync/summary.js';
import { freePort, run, tempDir, toolPath } from './support/harness.js';

const cleanup: (() => void)[] = [];
let work: string;
const env = () => ({ ...process.env, PATH: toolPath(), LANG: 'C' });

beforeAll(() => {
  work = tempDir(cleanup);
  mkdirSync(join(work, 'src/dir'), { recursive: true });
  writeFileSync(join(work, 'src/a.txt'), 'alpha\n');
  writeFileSync(join(work, 'src/dir/b.txt'), 'beta\n'.repeat(1000));
  writeFileSync(join(work, 'src/secret-name-of-a-file'), 'x');
});
afterAll(() => cleanup.forEach((fn) => fn()));

/** The mover's rsync flags (without the remote shell and the operands). */
function moverFlags(): string[] {
  const args = rsyncArgs({ sshCommand: 'ssh', dataDir: '/data', address: 'h', subPath: '.', preserveXattrs: false });
  return args.slice(0, args.indexOf('-e'));
}

describe('summarizeRsyncLog on real rsync output', () => {
  it('keeps the statistics of a transfer and leaves out file names', async () => {
    const first = await run('rsync', [...moverFlags(), `${work}/src/`, `${work}/dst/`], env());
    expect(first.code, first.output).toBe(0);
    const summary = summarizeRsyncLog(
      `${first.output}\nscribe rsync source: rsync finished in 0.4s with exit code 0 after 1 attempt(s)\nscribe rsync source: result: synchronization succeeded\n`,
    );
    const lines = summary.split('\n');
    expect(lines[0]).toBe('scribe rsync source: result: synchronization succeeded');
    expect(lines[1]).toBe('scribe rsync source: rsync finished in 0.4s with exit code 0 after 1 attempt(s)');
    expect(summary).toMatch(/^Number of files: 5 \(reg: 3, dir: 2\)$/m);
    expect(summary).toMatch(/^Number of regular files transferred: 3$/m);
    expect(summary).toMatch(/^Number of deleted files: 0$/m);
    expect(summary).toMatch(/^Total file size: [\d.]+K? bytes$/m);
    expect(summary).toMatch(/^sent [\d.,]+[KMG]? bytes {2}received [\d.,]+[KMG]? bytes {2}[\d.,]+[KMG]? bytes\/sec$/m);
    expect(summary).toMatch(/^total size is [\d.,]+[KMG]? {2}speedup is [\d.,]+$/m);
    expect(summary).not.toContain('secret-name-of-a-file');
    expect(summary).not.toMatch(/^[<>ch.*][fdLDS]/m);

    // A deletion on the next run shows up in the counts.
    unlinkSync(join(work, 'src/a.txt'));
    const second = await run('rsync', [...moverFlags(), `${work}/src/`, `${work}/dst/`], env());
    expect(summarizeRsyncLog(second.output)).toMatch(/^Number of deleted files: 1 \(reg: 1\)$/m);
  });

  it('keeps the error lines of a failed connection', async () => {
    const closedPort = await freePort();
    const failed = await run(
      'rsync',
      [...moverFlags(), '-e', `ssh -F /dev/null -o BatchMode=yes -p ${closedPort}`, `${work}/src/`, '127.0.0.1:.'],
      env(),
    );
    // rsync reports ssh's failure as 255 or as a broken stream (12), whichever it notices first.
    expect([12, 255]).toContain(failed.code);
    const result = `scribe rsync source: result: synchronization failed with rsync exit code ${failed.code}`;
    const summary = summarizeRsyncLog(`${failed.output}\n${result}\n`);
    expect(summary.split('\n')).toEqual([
      result,
      `ssh: connect to host 127.0.0.1 port ${closedPort}: Connection refused`,
      'rsync: connection unexpectedly closed (0 bytes received so far) [sender]',
      expect.stringMatching(/^rsync error: .* \(code (12|255)\) at io\.c\(\d+\) \[sender=[\d.]+\]$/),
    ]);
  });

  it('keeps the last attempt when a transfer was retried', () => {
    const log = [
      'Number of regular files transferred: 1',
      'rsync error: error in rsync protocol data stream (code 12) at io.c(232) [sender=3.2.7]',
      'Number of regular files transferred: 7',
      'scribe rsync source: result: synchronization succeeded',
    ].join('\n');
    expect(summarizeRsyncLog(log)).toContain('Number of regular files transferred: 7');
    expect(summarizeRsyncLog(log)).not.toContain('transferred: 1');
  });
});

const statLine = fc.constantFrom(
  'Number of files: 12 (reg: 10, dir: 2)',
  'Number of regular files transferred: 3',
  'Number of deleted files: 1',
  'Total file size: 1.23M bytes',
  'sent 1.23K bytes  received 35 bytes  2.53K bytes/sec',
  'total size is 1.23M  speedup is 965.38',
);
const errorLine = fc
  .string({ maxLength: 300 })
  .chain((text) =>
    fc.constantFrom(`rsync: ${text}`, `rsync error: ${text}`, `ssh: ${text}`, `scribe rsync source: error: ${text}`),
  );
const otherLine = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.constantFrom(
    '>f+++++++++ some/file',
    '-----BEGIN OPENSSH PRIVATE KEY-----',
    `b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW${'Q'.repeat(30)}`,
  ),
  fc.string({ maxLength: 60 }).map((t) => `scribe rsync source: result: ${t}`),
);
const logArb = fc.array(fc.oneof(statLine, errorLine, otherLine), { maxLength: 60 }).map((lines) => lines.join('\n'));

describe('summarizeRsyncLog properties', () => {
  it('stays within its byte budget', () => {
    fc.assert(
      fc.property(logArb, fc.integer({ min: 0, max: 4096 }), (log, budget) => {
        expect(Buffer.byteLength(summarizeRsyncLog(log, budget), 'utf8')).toBeLessThanOrEqual(budget);
        expect(Buffer.byteLength(summarizeRsyncLog(log), 'utf8')).toBeLessThanOrEqual(DEFAULT_SUMMARY_BYTES);
      }),
    );
  });

  it('is unchanged by summarizing a log that already ends with its summary', () => {
    fc.assert(
      fc.property(logArb, (log) => {
        const summary = summarizeRsyncLog(log);
        expect(summarizeRsyncLog(`${log}\n${summary}`)).toBe(summary);
      }),
    );
  });

  it('never carries key material', () => {
    fc.assert(
      fc.property(logArb, (log) => {
        const summary = summarizeRsyncLog(log);
        expect(summary).not.toContain('PRIVATE KEY');
        expect(summary).not.toMatch(/[A-Za-z0-9+/]{60,}/);
      }),
    );
  });
});
