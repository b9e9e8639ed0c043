/**
 * The bucket's metadata record is data from outside the volume (issue 21): the rclone destination
 * never follows a symlink out of the volume because of it, and setfacl --restore gets only the
 * record's own checked files. Real files, real setfacl and getfacl.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyRecord } from '../../../src/movers/rclone/apply.js';
import { parseRecord, serializeRecord, type RecordEntry } from '../../../src/movers/rclone/record.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A volume, a directory outside it holding one 0600 file, and a run directory. */
function world() {
  const base = mkdtempSync(join(tmpdir(), 'scribe-record-safety-'));
  dirs.push(base);
  const [volume, outside, run] = ['volume', 'outside', 'run'].map((name) => join(base, name)) as [
    string,
    string,
    string,
  ];
  for (const dir of [volume, outside, run]) mkdirSync(dir);
  writeFileSync(join(outside, 'secret'), 'not the volume’s\n', { mode: 0o600 });
  return { volume, outside, run };
}

const entry = (path: string, type: RecordEntry['type'], extra: Partial<RecordEntry> = {}): RecordEntry => ({
  path,
  type,
  mode: type === 'dir' ? 0o755 : 0o644,
  uid: process.getuid?.() ?? 0,
  gid: process.getgid?.() ?? 0,
  mtimeNs: '1700000000000000000',
  ...extra,
});

const aclOf = (path: string) => execFileSync('getfacl', ['--omit-header', '-n', path], { encoding: 'utf8' });

describe('the rclone metadata record cannot reach outside the volume', () => {
  it('refuses a record that lists an entry beneath one of its symlinks', () => {
    const { outside } = world();
    const text = serializeRecord(
      [entry('.', 'dir'), entry('link', 'symlink', { target: outside }), entry('link/secret', 'file', { mode: 0o666 })],
      '',
      new Date(),
    );
    expect(() => parseRecord(text)).toThrow(/"link\/secret" beneath the symlink "link"/);
  });

  it('refuses an entry the volume reaches through a symlink planted in it, changing nothing outside', () => {
    const { volume, outside, run } = world();
    symlinkSync(outside, join(volume, 'planted'));
    const record = parseRecord(
      serializeRecord(
        [entry('.', 'dir'), entry('planted', 'dir'), entry('planted/secret', 'file', { mode: 0o666 })],
        '',
        new Date(),
      ),
    );
    expect(() => applyRecord(volume, record, run, true)).toThrow(/through the symlink "planted"/);
    expect(statSync(join(outside, 'secret')).mode & 0o777).toBe(0o600);
  });

  it('gives setfacl only the record’s own files: ACLs naming anything else are refused', () => {
    const { volume, outside, run } = world();
    writeFileSync(join(volume, 'data'), 'data\n');
    const before = aclOf(join(outside, 'secret'));
    const foreign = `# file: ../outside/secret\nuser::rw-\nuser:1234:rwx\ngroup::---\nmask::rwx\nother::---\n\n`;
    const record = parseRecord(serializeRecord([entry('.', 'dir'), entry('data', 'file')], foreign, new Date()));
    expect(() => applyRecord(volume, record, run, true)).toThrow(/ACLs name a path it does not list/);
    expect(aclOf(join(outside, 'secret'))).toBe(before);
  });

  it('still applies the ACLs of the record’s own files', () => {
    const { volume, run } = world();
    writeFileSync(join(volume, 'data'), 'data\n');
    const own = `# file: data\nuser::rw-\nuser:1234:r--\ngroup::r--\nmask::r--\nother::r--\n\n`;
    const record = parseRecord(serializeRecord([entry('.', 'dir'), entry('data', 'file')], own, new Date()));
    expect(applyRecord(volume, record, run, true).aclsApplied).toBe(true);
    expect(aclOf(join(volume, 'data'))).toContain('user:1234:r--');
  });
});
