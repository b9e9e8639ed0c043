/** The rclone mover's pure modules: remote paths, argument lists, the metadata record, the summary. */
import fc from 'fast-check';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadArgs, remotePath, uploadArgs } from '../../../src/movers/rclone/args.js';
import { configSecrets, configSections } from '../../../src/movers/rclone/config.js';
import {
  comparePaths,
  isSafeRelativePath,
  parseRecord,
  serializeRecord,
  type RecordEntry,
} from '../../../src/movers/rclone/record.js';
import { copiedFile, volumeFileSize } from '../../../src/movers/rclone/progress.js';
import { summarizeRcloneLog } from '../../../src/movers/rclone/summary.js';

describe('remote and arguments', () => {
  it('builds <section>:<destPath> and refuses escapes', () => {
    expect(remotePath('aws-s3-bucket', 'scribe-test-bucket')).toBe('aws-s3-bucket:scribe-test-bucket');
    expect(remotePath('s3', '/bucket/dir')).toBe('s3:bucket/dir');
    expect(() => remotePath('s3', '')).toThrow(/must name a bucket/);
    expect(() => remotePath('s3', 'b/../c')).toThrow(/without/);
    expect(() => remotePath('a:b', 'x')).toThrow(/not an rclone remote name/);
  });

  it('syncs with --links, excluding lost+found and the record both ways', () => {
    const config = { configFile: '/run/rclone.conf', remote: 's3:b/p', dataDir: '/data' };
    for (const args of [uploadArgs(config), downloadArgs(config)]) {
      expect(args).toEqual(expect.arrayContaining(['--links', '--config', '/run/rclone.conf']));
      expect(args.join(' ')).toContain('--exclude /lost+found/** --exclude /.scribe-rclone-metadata.json');
    }
    expect(uploadArgs(config).slice(0, 3)).toEqual(['sync', '/data', 's3:b/p']);
    expect(downloadArgs(config).slice(0, 3)).toEqual(['sync', 's3:b/p', '/data']);
  });

  it('reads sections and secrets of rclone.conf', () => {
    const text = '[a]\ntype = s3\naccess_key_id = AKIA1234\nsecret_access_key = s3cr3t-value\nregion = eu\n[b c]\n';
    expect(configSections(text)).toEqual(['a', 'b c']);
    expect(configSecrets(text)).toEqual(['AKIA1234', 's3cr3t-value']);
  });
});

describe('metadata record', () => {
  const entry = (path: string): RecordEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: '1' });

  it('round-trips and orders directories before their contents', () => {
    const text = serializeRecord([entry('b'), entry('a/z'), entry('.'), entry('a')], '', new Date(0));
    expect(parseRecord(text).entries.map((e) => e.path)).toEqual(['.', 'a', 'a/z', 'b']);
  });

  it('orders any set of paths parents first', () => {
    const segment = fc.constantFrom('a', 'b', 'a-b', 'a.b', 'z');
    fc.assert(
      fc.property(fc.array(fc.array(segment, { minLength: 1, maxLength: 4 }), { maxLength: 20 }), (paths) => {
        const sorted = paths.map((p) => p.join('/')).sort(comparePaths);
        sorted.forEach((path, i) => {
          const parent = path.split('/').slice(0, -1).join('/');
          if (parent !== '' && sorted.includes(parent)) expect(sorted.indexOf(parent)).toBeLessThan(i);
        });
      }),
    );
  });

  it('refuses unsafe paths and foreign documents', () => {
    expect(isSafeRelativePath('../etc')).toBe(false);
    expect(isSafeRelativePath('/etc')).toBe(false);
    expect(isSafeRelativePath('a//b')).toBe(false);
    const bad = serializeRecord([entry('x')], null, new Date(0)).replace('"x"', '"../x"');
    expect(() => parseRecord(bad)).toThrow(/unsafe path/);
    expect(() => parseRecord('{"format":"other"}')).toThrow(/not a version 1/);
    expect(() => parseRecord('nope')).toThrow(/not JSON/);
  });

  it('carries extended attributes of listed entries only, user.* and security.capability (issue 20)', () => {
    const attrs = { x: { 'user.a': 'dGVzdA==', 'security.capability': '' } };
    const record = parseRecord(serializeRecord([entry('.'), entry('x')], '', new Date(0), attrs));
    expect(record.xattrs).toEqual(attrs);
    // A record of an earlier version has none: null, nothing to change.
    const older = JSON.parse(serializeRecord([entry('x')], '', new Date(0))) as Record<string, unknown>;
    delete older.xattrs;
    expect(parseRecord(JSON.stringify(older)).xattrs).toBeNull();
    const bad = (xattrs: unknown) => {
      const text = JSON.parse(serializeRecord([entry('x')], '', new Date(0))) as Record<string, unknown>;
      return () => parseRecord(JSON.stringify({ ...text, xattrs }));
    };
    expect(bad({ y: { 'user.a': '' } })).toThrow(/unlisted path/);
    expect(bad({ x: { 'trusted.a': '' } })).toThrow(/malformed extended attributes for x/);
    expect(bad({ x: { 'user.a': 'not base64!' } })).toThrow(/malformed/);
    expect(bad([])).toThrow(/malformed/);
  });
});

describe('progress from the log', () => {
  it("names the file of each of rclone's Copied lines, and nothing else", () => {
    const at = '2024/06/10 12:00:00 INFO  : ';
    expect(copiedFile(`${at}docs/a.txt: Copied (new)`)).toEqual({ source: 'docs/a.txt', destination: 'docs/a.txt' });
    expect(copiedFile(`${at}db/data file: Copied (replaced existing)`)?.source).toBe('db/data file');
    expect(copiedFile(`${at}big.bin: Multi-thread Copied (new)`)?.source).toBe('big.bin');
    expect(copiedFile(`2024/06/10 12:00:00.123456 INFO  : x: y.txt: Copied (Rcat, new)`)?.source).toBe('x: y.txt');
    expect(copiedFile(`${at}a: Copied (server-side copy) to: b`)).toEqual({ source: 'a', destination: 'b' });
    expect(copiedFile('INFO  : link.rclonelink: Copied (new)')?.source).toBe('link.rclonelink');
    for (const other of [
      `${at}docs: Set directory modification time (using DirSetModTime)`,
      `${at}old.txt: Deleted`,
      `${at}a.txt: Updated modification time in destination`,
      `${at}`,
      'Transferred:            3 / 3, 100%',
      '2024/06/10 12:00:00 ERROR : a.txt: Failed to copy: Copied (new)',
      'scribe rclone source: syncing /data to s3:b',
    ])
      expect(copiedFile(other), other).toBeUndefined();
  });

  it("sizes a file as it is in the volume; a .rclonelink is its symlink's target length", () => {
    const root = mkdtempSync(join(tmpdir(), 'scribe-rclone-progress-'));
    try {
      writeFileSync(join(root, 'a.bin'), Buffer.alloc(1234));
      symlinkSync('a.bin', join(root, 'link'));
      writeFileSync(join(root, 'real.rclonelink'), 'xyz');
      expect(volumeFileSize(root, 'a.bin')).toBe(1234);
      expect(volumeFileSize(root, 'link.rclonelink')).toBe('a.bin'.length);
      expect(volumeFileSize(root, 'real.rclonelink')).toBe(3);
      expect(volumeFileSize(root, 'gone.txt')).toBe(0);
      expect(volumeFileSize(root, 'gone.rclonelink')).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('summary', () => {
  it('keeps the final statistics, errors and result, without timestamps or file names', () => {
    const log = [
      '2024/06/10 12:00:00 INFO  : docs/a.txt: Copied (new)',
      'Transferred:   \t    1.000 KiB / 1.000 KiB, 100%, 0 B/s, ETA -',
      'Transferred:            3 / 3, 100%',
      'Elapsed time:         0.2s',
      '2024/06/10 12:00:01 ERROR : something failed',
      'scribe rclone source: record uploaded: 5 entries, 0 with ACLs',
      'scribe rclone source: result: synchronized 5 entries to s3:b; exit code 0',
    ].join('\n');
    expect(summarizeRcloneLog(log)).toBe(
      [
        'Transferred:   ?    1.000 KiB / 1.000 KiB, 100%, 0 B/s, ETA -',
        'Transferred:            3 / 3, 100%',
        'Elapsed time:         0.2s',
        'ERROR : something failed',
        'scribe rclone source: record uploaded: 5 entries, 0 with ACLs',
        'scribe rclone source: result: synchronized 5 entries to s3:b; exit code 0',
      ].join('\n'),
    );
  });
});
