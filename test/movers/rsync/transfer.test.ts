/**
 * A volume travels from the source entrypoint to the destination entrypoint over real ssh/sshd
 * and rsync on loopback, arrives identical, and a second sync after edits converges.
 */
import {
  appendFileSync,
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastProgress } from '../../../src/movers/runtime/progress.js';
import { IS_ROOT, startDestination, startEntrypoint, sourceEnv, tempDir, writeKeySecrets } from './support/harness.js';
import {
  aclSnapshot,
  buildTree,
  bytes,
  probeFeatures,
  setTime,
  snapshotTree,
  SPARSE_SIZE,
  tool,
  xattrSnapshot,
} from './support/tree.js';

const cleanup: (() => void)[] = [];
afterAll(() => cleanup.forEach((fn) => fn()));

let work: string;
let keys: { source: string; destination: string };
let features: { acl: boolean; xattr: boolean };

beforeAll(() => {
  work = tempDir(cleanup);
  keys = writeKeySecrets(work);
  features = probeFeatures(work);
});

/**
 * What the full comparison needs, checked rather than assumed: without it a check of ownership,
 * ACLs or xattrs would pass without looking. CI runs these tests as root on a file system with
 * ACLs and user xattrs (see README.md).
 */
function expectFullCheckPossible() {
  expect(IS_ROOT, 'this test must run as root to set and compare file ownership').toBe(true);
  expect(
    features.acl,
    'POSIX ACLs must work in the temporary directory (setfacl/getfacl of the Debian package "acl", a file system with ACLs) to check that they are replicated',
  ).toBe(true);
  expect(
    features.xattr,
    'user extended attributes must work in the temporary directory (setfattr/getfattr of the Debian package "attr", a file system with user xattrs) to check that they are replicated',
  ).toBe(true);
}

/** One sync: a fresh destination (as each iteration's mover Job), then the source; returns both outputs. */
async function sync(sourceDir: string, destDir: string, extra: Record<string, string> = {}) {
  const destination = await startDestination(keys.destination, destDir);
  const source = startEntrypoint(
    'source',
    sourceEnv(keys.source, sourceDir, destination.port, { SCRIBE_PRESERVE_XATTRS: 'true', ...extra }),
  );
  const [sourceCode, destinationCode] = await Promise.all([source.exited, destination.proc.exited]);
  return { sourceCode, destinationCode, sourceOutput: source.output, destinationOutput: destination.proc.output };
}

function expectIdentical(sourceDir: string, destDir: string) {
  // The FIFO depends on the rrsync version and is asserted separately (see expectFifoHandled).
  const ignore = ['lost+found', 'fifo'];
  const expected = snapshotTree(sourceDir, ignore);
  const actual = snapshotTree(destDir, ignore);
  expect(actual).toEqual(expected);
  expect(aclSnapshot(destDir, ignore)).toEqual(aclSnapshot(sourceDir, ignore));
  expect(xattrSnapshot(destDir, ignore)).toEqual(xattrSnapshot(sourceDir, ignore));
}

/**
 * rrsync from rsync >= 3.5.0 (Debian bookworm-security) refuses to create devices and special
 * files in the confined directory (--drop-D), so rsync skips the FIFO with a message; older rrsync
 * let it through. Either way it must not vanish silently or arrive different.
 */
function expectFifoHandled(sourceDir: string, destDir: string, sourceOutput: string) {
  const arrived = snapshotTree(destDir)['fifo'];
  if (arrived === undefined) expect(sourceOutput).toContain('skipping non-regular file "fifo"');
  else expect(arrived).toEqual(snapshotTree(sourceDir)['fifo']);
}

/** The last progress line counts the files rsync's own statistics say it transferred. */
function expectProgressMatchesStats(sourceOutput: string) {
  const progress = lastProgress(sourceOutput);
  const transferred = Number(
    /Number of regular files transferred: ([\d,]+)/.exec(sourceOutput)?.[1]?.replace(/,/g, ''),
  );
  expect(transferred).toBeGreaterThan(0);
  expect(progress?.files).toBe(transferred);
  expect(progress?.bytes).toBeGreaterThan(0);
}

describe('rsync mover transfer', () => {
  it('delivers a volume identically, then converges after edits and deletions', { timeout: 120_000 }, async () => {
    const sourceDir = join(work, 'source-volume');
    const destDir = join(work, 'destination-volume');
    expectFullCheckPossible();
    mkdirSync(sourceDir);
    mkdirSync(destDir);
    buildTree(sourceDir, { owners: true, acl: true, xattr: true });
    // The comparison must have something to compare: the tree really holds what it claims.
    const built = snapshotTree(sourceDir);
    expect(built['docs/hard-original']?.hardLinks).toEqual([
      'docs/hard-original',
      'docs/nested/hard-third',
      'hard-second',
    ]);
    expect(built['setuid-tool']?.mode).toBe('4755');
    expect(built['link-absolute-dangling']?.target).toBe('/nonexistent/absolute/target');
    expect(built['small.txt']?.uid).toBe(1234);
    expect(built['docs']?.gid).toBe(2000);
    expect(Object.keys(aclSnapshot(sourceDir))).toEqual(expect.arrayContaining(['small.txt', 'shared', 'docs/nested']));
    expect(Object.keys(xattrSnapshot(sourceDir))).toEqual(expect.arrayContaining(['small.txt', 'docs']));
    // The destination volume's own lost+found must survive --delete.
    mkdirSync(join(destDir, 'lost+found'));

    const first = await sync(sourceDir, destDir);
    expect(first.sourceCode, first.sourceOutput).toBe(0);
    expect(first.destinationCode, first.destinationOutput).toBe(0);
    expectIdentical(sourceDir, destDir);
    expect(lstatSync(join(destDir, 'lost+found')).isDirectory()).toBe(true);
    expect(() => lstatSync(join(destDir, 'lost+found/#1234'))).toThrow();
    expectFifoHandled(sourceDir, destDir, first.sourceOutput);
    // -S keeps the hole: far fewer blocks than the apparent size.
    expect(lstatSync(join(destDir, 'sparse.img')).blocks * 512).toBeLessThan(SPARSE_SIZE / 16);
    expect(first.sourceOutput).toMatch(
      /scribe rsync source: summary:\n[\s\S]*Number of regular files transferred: \d+/,
    );
    expect(first.destinationOutput).toMatch(/result: the source reported success; exit code 0/);
    // It ended once the connection that delivered the result had closed (not before, not by a timeout).
    expect(first.destinationOutput).not.toMatch(/cannot tell which ssh connection|connection was still open/);
    // The result went over the session opened beside the transfer, not a connection of its own.
    expect(first.sourceOutput).toContain('the destination acknowledged exit code 0 over the handshake session');
    expect(first.sourceOutput).not.toContain('telling the destination the result failed');
    expectProgressMatchesStats(first.sourceOutput);

    // Edits of every kind, then a second sync.
    const s = (...parts: string[]) => join(sourceDir, ...parts);
    writeFileSync(s('small.txt'), 'hello again, volume\n');
    appendFileSync(s('docs/random-1MiB.bin'), bytes(9, 100));
    rmSync(s('docs/nested/deeper'), { recursive: true });
    unlinkSync(s('empty'));
    unlinkSync(s('hard-second'));
    unlinkSync(s('link-relative'));
    symlinkSync('docs/random-1MiB.bin', s('link-relative'));
    rmSync(s('empty-dir'), { recursive: true });
    writeFileSync(s('empty-dir'), 'a file where a directory was\n');
    renameSync(s('script.sh'), s('renamed-script.sh'));
    chmodSync(s('private/secret.db'), 0o640);
    linkSync(s('docs/random-1MiB.bin'), s('private/new-hard-link'));
    writeFileSync(s('new-file'), bytes(10, 50_000));
    lchownSync(s('docs/nested/odd-size.bin'), 3333, 4444);
    tool('setfacl', ['-x', 'g:5678', s('small.txt')]);
    tool('setfattr', ['-x', 'user.scribe.dir', s('docs')]);
    let t = 1_700_000_000.5;
    for (const path of ['small.txt', 'docs/random-1MiB.bin', 'docs/nested', 'docs', 'private', '.'])
      setTime(s(path), (t += 61.25));

    const second = await sync(sourceDir, destDir);
    expect(second.sourceCode, second.sourceOutput).toBe(0);
    expect(second.destinationCode, second.destinationOutput).toBe(0);
    expectIdentical(sourceDir, destDir);
    for (const gone of ['docs/nested/deeper', 'empty', 'hard-second', 'script.sh'])
      expect(() => lstatSync(join(destDir, gone)), gone).toThrow();
    expect(second.sourceOutput).toMatch(/Number of deleted files: [1-9]/);
    expectProgressMatchesStats(second.sourceOutput);
  });

  it('delivers changes made within the second of the last sync (times compared to the nanosecond)', async () => {
    const sourceDir = join(work, 'subsecond-source');
    const destDir = join(work, 'subsecond-destination');
    mkdirSync(join(sourceDir, 'dir'), { recursive: true });
    mkdirSync(destDir);
    const s = (...parts: string[]) => join(sourceDir, ...parts);
    writeFileSync(s('counter'), 'value 1\n');
    writeFileSync(s('dir', 'inside'), 'unchanged\n');
    // Times within one whole second: the fractions are all that changes between the syncs.
    const withinSecond = (fractions: Record<string, number>) => {
      for (const [path, fraction] of Object.entries(fractions)) setTime(s(path), 1_700_000_000 + fraction);
    };
    withinSecond({ counter: 0.1, dir: 0.1, '.': 0.1 });
    const first = await sync(sourceDir, destDir);
    expect(first.sourceCode, first.sourceOutput).toBe(0);
    expectIdentical(sourceDir, destDir);
    // One ssh connection per sync: rsync's session and the handshake share it (sshd logs each login).
    expect(first.destinationOutput.match(/Accepted publickey/g), first.destinationOutput).toHaveLength(1);

    // Same size, same whole second: rsync's default quick check took these for unchanged.
    writeFileSync(s('counter'), 'value 2\n');
    withinSecond({ counter: 0.6, dir: 0.7, '.': 0.8 });
    const next = await sync(sourceDir, destDir);
    expect(next.sourceCode, next.sourceOutput).toBe(0);
    expectIdentical(sourceDir, destDir);
  });

  it('syncs without a shared connection when the run directory is too deep for a control socket', async () => {
    const sourceDir = join(work, 'deep-run-source');
    const destDir = join(work, 'deep-run-destination');
    mkdirSync(sourceDir);
    mkdirSync(destDir);
    writeFileSync(join(sourceDir, 'file'), 'contents\n');
    // Unix socket paths have at most 107 bytes; ssh fails outright on a longer ControlPath.
    const runDir = join(work, 'r'.repeat(100));
    mkdirSync(runDir);
    const result = await sync(sourceDir, destDir, { SCRIBE_RUN_DIR: runDir });
    expect(result.sourceCode, result.sourceOutput).toBe(0);
    expect(result.sourceOutput).toContain('too long for a shared ssh connection');
    expectIdentical(sourceDir, destDir);
    // Two logins then: the handshake session's and rsync's own.
    expect(result.destinationOutput.match(/Accepted publickey/g), result.destinationOutput).toHaveLength(2);
  });

  it("writes into the seed's sub-path of the destination volume, creating it", { timeout: 60_000 }, async () => {
    const sourceDir = join(work, 'subpath-source');
    const destDir = join(work, 'subpath-destination');
    mkdirSync(sourceDir);
    mkdirSync(destDir);
    writeFileSync(join(sourceDir, 'a.txt'), 'in a sub-path\n');
    writeFileSync(join(destDir, 'outside.txt'), 'must stay\n');

    const result = await sync(sourceDir, destDir, { SCRIBE_DESTINATION_PATH: '/apps/db/' });
    expect(result.sourceCode, result.sourceOutput).toBe(0);
    expect(snapshotTree(join(destDir, 'apps/db'))['a.txt']?.sha256).toBe(snapshotTree(sourceDir)['a.txt']?.sha256);
    expect(lstatSync(join(destDir, 'outside.txt')).isFile()).toBe(true);
  });
});
