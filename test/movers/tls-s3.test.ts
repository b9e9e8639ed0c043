/**
 * MinIO serving TLS with a private CA (src/local/s3.ts, test/support/tls.ts), and the restic and
 * rclone entrypoints trusting it through customCA's SCRIBE_CUSTOM_CA (--cacert, --ca-cert), and
 * failing with a clear message without it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../src/local/s3.js';
import { toolDir } from '../../src/local/tools.js';
import { makeTestPki, type TestPki } from '../support/tls.js';
import { runEntrypoint, summaryOf, tempDir } from './restic/support/movers.js';

const cleanup: (() => void)[] = [];
let s3: S3Server;
let pki: TestPki;
let work: string;
let restic: string;
let rclone: string;

beforeAll(async () => {
  restic = join(await toolDir('restic'), 'restic');
  rclone = join(await toolDir('rclone'), 'rclone');
  pki = makeTestPki();
  s3 = await startS3Server({ tls: { certificate: pki.certificate, privateKey: pki.privateKey, ca: pki.ca } });
  await s3.createBucket('tls');
  work = tempDir(cleanup, 'scribe-tls-s3-');
  writeFileSync(join(work, 'ca.crt'), pki.ca);
}, 300_000);
afterAll(async () => {
  await s3?.stop();
  cleanup.forEach((fn) => fn());
});

function dataDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('restic and rclone against MinIO with a private CA', () => {
  it('serves https', () => expect(s3.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/));

  it('restic backs up and restores with the CA, and fails naming the certificate without it', async () => {
    const source = dataDir('restic-src');
    writeFileSync(join(source, 'file.txt'), 'over tls\n');
    const env = {
      RESTIC_REPOSITORY: `s3:${s3.endpoint}/tls/restic`,
      RESTIC_PASSWORD: 'tls-password',
      AWS_ACCESS_KEY_ID: s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
      SCRIBE_CACHE_DIR: join(work, 'restic-cache'),
      SCRIBE_RESTIC: restic,
      SCRIBE_REPOSITORY_TIMEOUT_SECONDS: '20',
    };
    const without = await runEntrypoint('restic', 'source', { ...env, SCRIBE_DATA_DIR: source });
    expect(without.code).not.toBe(0);
    expect(summaryOf(without.output)).toMatch(
      /TLS certificate is not trusted \(x509: certificate signed by unknown authority\).*set customCA/,
    );
    const backup = await runEntrypoint('restic', 'source', {
      ...env,
      SCRIBE_DATA_DIR: source,
      SCRIBE_CUSTOM_CA: join(work, 'ca.crt'),
    });
    expect(backup.code, backup.output).toBe(0);
    const target = dataDir('restic-dst');
    const restore = await runEntrypoint('restic', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: target,
      SCRIBE_CUSTOM_CA: join(work, 'ca.crt'),
    });
    expect(restore.code, restore.output).toBe(0);
  });

  it('rclone syncs both ways with the CA, and fails at once naming customCA without it', async () => {
    const source = dataDir('rclone-src');
    writeFileSync(join(source, 'file.txt'), 'over tls\n');
    const conf = join(work, 'rclone.conf');
    writeFileSync(
      conf,
      [
        '[store]',
        'type = s3',
        'provider = Minio',
        'env_auth = false',
        `access_key_id = ${s3.accessKey}`,
        `secret_access_key = ${s3.secretKey}`,
        `endpoint = ${s3.endpoint}`,
        '',
      ].join('\n'),
    );
    const env = {
      SCRIBE_RCLONE_CONFIG: conf,
      SCRIBE_RCLONE_CONFIG_SECTION: 'store',
      SCRIBE_RCLONE_DEST_PATH: 'tls/rclone',
      SCRIBE_RCLONE: rclone,
      SCRIBE_RUN_DIR: work,
    };
    // rclone's S3 back end retries a refused handshake for minutes; the first contact does not.
    const started = Date.now();
    const without = await runEntrypoint('rclone', 'source', { ...env, SCRIBE_DATA_DIR: source });
    expect(without.code).not.toBe(0);
    expect(summaryOf(without.output)).toMatch(
      /TLS certificate is not trusted \(x509: certificate signed by unknown authority\).*set customCA/,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    const sync = await runEntrypoint('rclone', 'source', {
      ...env,
      SCRIBE_DATA_DIR: source,
      SCRIBE_CUSTOM_CA: join(work, 'ca.crt'),
    });
    expect(sync.code, sync.output).toBe(0);
    const target = dataDir('rclone-dst');
    const back = await runEntrypoint('rclone', 'destination', {
      ...env,
      SCRIBE_DATA_DIR: target,
      SCRIBE_CUSTOM_CA: join(work, 'ca.crt'),
    });
    expect(back.code, back.output).toBe(0);
    expect(readFileSync(join(target, 'file.txt'), 'utf8')).toBe('over tls\n');
  });
});
