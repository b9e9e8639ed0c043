/**
 * Redaction, one table (issue 21): every secret variable restic documents (and rclone's config
 * password), and every secret option of rclone.conf, is kept out of what a mover prints (its
 * log), its summary (the termination message, status.latestMoverStatus.logs) and the operator's
 * condition and Event text built from them. Each row runs the real tool so that it echoes the
 * secret back in its error (restic opening a repository path that holds it, rclone making a
 * directory named after it), the mover's own error line repeats it verbatim and URL-encoded, and
 * the operator reads the Job as it would from the cluster.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ScribeCr } from '../../machines/api.js';
import type { KubeObject } from '../../machines/mover.js';
import { withFailureLine } from '../../machines/mover-output.js';
import { rcloneSourceName } from '../../src/movers/rclone/names.js';
import { resticSourceName } from '../../src/movers/restic/names.js';
import { toolDir } from '../../src/local/tools.js';
import { REDACTED, SECRET_OPTIONS, SECRET_VARIABLES } from '../../src/movers/runtime/redact.js';
import { RcloneSession } from '../../src/movers/rclone/session.js';
import { rcloneMover } from '../../src/movers/rclone/mover.js';
import { ResticSession } from '../../src/movers/restic/session.js';
import { resticMover } from '../../src/movers/restic/mover.js';
import type { MoverRuntime } from '../../src/movers/catalog.js';

let restic: string;
let rclone: string;
let dir: string;
beforeAll(async () => {
  restic = join(await toolDir('restic'), 'restic');
  rclone = join(await toolDir('rclone'), 'rclone');
  dir = mkdtempSync(join(tmpdir(), 'scribe-redaction-'));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A secret a tool would print back: no `/` (it becomes a path component), `+`, `=` and `&` that URL-encoding changes. */
function secretFor(row: string): string {
  return `Sk${randomBytes(9).toString('base64url')}+${row.length}=v&x`;
}

/** What a run left: its printed output and its termination message. */
async function capture(run: (terminationLog: string) => Promise<number>): Promise<{ out: string; summary: string }> {
  const terminationLog = join(dir, `termination-${randomBytes(4).toString('hex')}`);
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  const previous = process.env.SCRIBE_TERMINATION_LOG;
  process.env.SCRIBE_TERMINATION_LOG = terminationLog;
  try {
    const code = await run(terminationLog);
    expect(code).not.toBe(0);
  } finally {
    spy.mockRestore();
    if (previous === undefined) delete process.env.SCRIBE_TERMINATION_LOG;
    else process.env.SCRIBE_TERMINATION_LOG = previous;
  }
  return { out: written.join(''), summary: readFileSync(terminationLog, 'utf8') };
}

/** What the operator makes of a failed Job whose pod ended with `summary`: condition/Event text and latestMoverStatus.logs. */
function operatorView(mover: MoverRuntime, cr: ScribeCr, jobName: string, summary: string): string[] {
  const objects = [
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: jobName, uid: 'job-uid', labels: { 'scribe.backube/cycle': '1-20260101000000' } },
      status: { conditions: [{ type: 'Failed', status: 'True' }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${jobName}-x`, ownerReferences: [{ uid: 'job-uid' }] },
      status: { phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 1, message: summary } } }] },
    },
  ] as unknown as KubeObject[];
  const observed = mover.read(cr, objects);
  expect(observed.phase).toBe('failed');
  const message = 'message' in observed ? (observed.message ?? '') : '';
  const logs = 'logs' in observed ? (observed.logs ?? '') : '';
  expect(logs).not.toBe('');
  return [withFailureLine(message, logs), logs];
}

function expectClean(texts: string[], secret: string): void {
  for (const text of texts) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  }
}

const cr = (section: object): ScribeCr =>
  ({
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationSource',
    metadata: { name: 'db', namespace: 'ns' },
    spec: { sourcePVC: 'data', ...section },
  }) as unknown as ScribeCr;

describe('restic: secret variables stay out of logs, summary, status and Events', () => {
  it.each(SECRET_VARIABLES.map((name) => [name]))('%s', async (name) => {
    const secret = secretFor(name);
    const repository = join(dir, 'no-repository', secret);
    const env = { RESTIC_PASSWORD: 'unused-password', [name]: secret, RESTIC_REPOSITORY: repository };
    const session = new ResticSession('backup', env);
    const { out, summary } = await capture(() =>
      session.run(async () => {
        session.log(`the back end said: ${secret} (${encodeURIComponent(secret)})`);
        await session.restic(
          { restic, repositoryTimeoutMs: 30_000, dataDir: dir, cacheDir: join(dir, 'cache'), host: 'scribe' },
          'open repository',
          ['snapshots', '--no-cache'],
        );
        return 'unreachable';
      }),
    );
    // The tool did echo it: the row would fail if redaction did not happen.
    expect(out).toContain(REDACTED);
    expect(out).toContain('no-repository');
    const view = operatorView(resticMover, cr({ restic: { repository: 'repo' } }), resticSourceName('db'), summary);
    expectClean([out, summary, ...view], secret);
  });

  it('an Azure SAS in a URL loses its signature even when not in the environment', async () => {
    const session = new ResticSession('backup', {});
    const { out, summary } = await capture(() =>
      session.run(() =>
        Promise.reject(new Error('GET https://acct.blob.core.windows.net/c?sv=2024-01-01&sp=rl&sig=AbC%2Fd3f')),
      ),
    );
    expectClean([out, summary], 'AbC%2Fd3f');
    expect(summary).toContain('sig=[redacted]');
  });
});

describe('rclone: secret options of rclone.conf and variables stay out of logs, summary, status and Events', () => {
  const rows = [
    ...SECRET_OPTIONS.map((option) => ({ option, variable: undefined })),
    ...SECRET_VARIABLES.map((variable) => ({ option: undefined, variable })),
  ];
  it.each(rows.map((row) => [row.option ?? row.variable, row] as const))('%s', async (_name, row) => {
    const secret = secretFor(row.option ?? row.variable ?? '');
    const configText = `[remote]\ntype = local\n${row.option ? `${row.option} = ${secret}\n` : ''}`;
    const session = new RcloneSession('source', row.variable ? { [row.variable]: secret } : {});
    const config = {
      dataDir: dir,
      configSource: join(dir, 'rclone.conf'),
      configText,
      section: 'remote',
      remote: 'remote:/proc',
      runDir: dir,
      rclone,
    };
    const { out, summary } = await capture(() =>
      session.run(async () => {
        const { configFile } = session.prepare(config);
        session.log(`the back end said: ${secret} (${encodeURIComponent(secret)})`);
        await session.rclone(config, 'mkdir', [
          'mkdir',
          '--config',
          configFile,
          '--retries',
          '1',
          `remote:/proc/${secret}`,
        ]);
        return 'made';
      }),
    );
    expect(out).toContain(REDACTED);
    expect(out).toContain('mkdir /proc/');
    const view = operatorView(
      rcloneMover,
      cr({ rclone: { rcloneConfig: 'conf', rcloneConfigSection: 'remote', rcloneDestPath: 'b' } }),
      rcloneSourceName('db'),
      summary,
    );
    expectClean([out, summary, ...view], secret);
  });
});
