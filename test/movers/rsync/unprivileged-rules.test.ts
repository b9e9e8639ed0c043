/**
 * The pure rules of the unprivileged rsync mover (issue 20): what rsync's error lines say about
 * files, which of them fail a sync, the message naming unreadable files, nss_wrapper's files and
 * the remote shell that gives ssh (only) the wrapper. The lines are rsync 3.2.7 / 3.5's own.
 */
import { describe, expect, it } from 'vitest';
import { classifyAttempt } from '../../../src/movers/rsync/retry.js';
import { renderGroup, renderPasswd } from '../../../src/movers/rsync/nss-wrapper.js';
import { rsyncRemoteShell } from '../../../src/movers/rsync/ssh-client.js';
import { summarizeRsyncLog } from '../../../src/movers/rsync/summary.js';
import {
  explainUnreadableFiles,
  fileErrorOf,
  tallyFileErrors,
  unreadableReport,
} from '../../../src/movers/rsync/unreadable.js';
import { failureLine } from '../../../machines/mover-output.js';
import { PERMISSIONS_HINT, PRIVILEGED_MOVERS_ANNOTATION } from '../../../src/movers/permissions.js';

const UNREADABLE_FILE = 'rsync: [sender] send_files failed to open "/data/db/table.ibd": Permission denied (13)';
const UNREADABLE_DIR = 'rsync: [sender] opendir "/data/private" failed: Permission denied (13)';
const UNSEARCHABLE = 'rsync: [sender] link_stat "/data/locked/file" failed: Permission denied (13)';
const ROOT_TIMES = 'rsync: [generator] failed to set times on "/data/.": Operation not permitted (1)';
const ROOT_MODE = 'rsync: [generator] failed to set permissions on "/data/.": Operation not permitted (1)';
const ROOT_XATTR =
  'rsync: [receiver] rsync_xal_set: lsetxattr("/data/.","user.origin") failed: Operation not permitted (1)';
const ROOT_ACL = 'rsync: [receiver] set_acl: sys_acl_set_file(/data/., ACL_TYPE_ACCESS): Operation not permitted (1)';
const PARTIAL =
  'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.2.7]';
const NO_SPACE = 'rsync: [receiver] write failed on "/data/big": No space left on device (28)';

describe("rsync's file errors", () => {
  it('tells files the source could not read from attributes the destination could not set', () => {
    expect(fileErrorOf(UNREADABLE_FILE)).toEqual({ kind: 'unreadable', path: '/data/db/table.ibd' });
    expect(fileErrorOf(UNREADABLE_DIR)).toEqual({ kind: 'unreadable', path: '/data/private' });
    expect(fileErrorOf(UNSEARCHABLE)).toEqual({ kind: 'unreadable', path: '/data/locked/file' });
    // rsync before 3.2.4 tagged no role.
    expect(fileErrorOf('rsync: send_files failed to open "/data/a b": Permission denied (13)')).toEqual({
      kind: 'unreadable',
      path: '/data/a b',
    });
    for (const line of [ROOT_TIMES, ROOT_MODE, ROOT_XATTR, ROOT_ACL])
      expect(fileErrorOf(line), line).toEqual({ kind: 'unpreserved', path: '/data/.' });
    expect(fileErrorOf(NO_SPACE)).toEqual({ kind: 'other', line: NO_SPACE });
    // The receiver denied writing is no attribute left unset: the data did not arrive.
    expect(fileErrorOf('rsync: [receiver] mkstemp "/data/.x.abc" failed: Permission denied (13)')?.kind).toBe('other');
    for (const line of [PARTIAL, 'sent 1 bytes  received 2 bytes', 'ssh: connect to host x port 22', ''])
      expect(fileErrorOf(line), line).toBeUndefined();
  });

  it('counts each path once and keeps the first ones', () => {
    const lines = Array.from({ length: 30 }, (_, i) => UNREADABLE_FILE.replace('table.ibd', `t${i}`));
    const errors = tallyFileErrors([...lines, ...lines, ROOT_TIMES, ROOT_MODE].join('\n'), 'uid 999');
    expect(errors.unreadable.count).toBe(30);
    expect(errors.unreadable.paths).toHaveLength(20);
    expect(errors.unpreserved).toEqual({ count: 1, paths: ['/data/.'] });
    expect(errors.other.count).toBe(0);
    expect(unreadableReport(errors)).toBe(
      `rsync as uid 999: could not read files (${PERMISSIONS_HINT}): /data/db/t0; /data/db/t1; /data/db/t2; /data/db/t3; /data/db/t4; and 25 more; the sync failed`,
    );
  });
});

describe('which partial transfers fail (classifyAttempt)', () => {
  it('fails for good on a file the source could not read, naming it (not as a refused key)', () => {
    const verdict = classifyAttempt(23, [UNREADABLE_FILE, ROOT_TIMES, PARTIAL].join('\n'));
    expect(verdict).toEqual({
      outcome: 'fatal',
      reason: `rsync: could not read files (${PERMISSIONS_HINT}): /data/db/table.ibd; the sync failed`,
    });
  });

  it('succeeds with a warning when the only errors are attributes of entries the destination does not own', () => {
    const verdict = classifyAttempt(23, [ROOT_TIMES, ROOT_MODE, ROOT_ACL, PARTIAL].join('\n'));
    expect(verdict.outcome).toBe('success');
    expect(verdict.outcome === 'success' && verdict.warning).toMatch(/1 entry it does not own.*: \/data\/\.$/);
  });

  it('fails when anything else went wrong beside them', () => {
    expect(classifyAttempt(23, [ROOT_TIMES, NO_SPACE, PARTIAL].join('\n')).outcome).toBe('fatal');
    // Other exit codes than 23 are never excused by attributes.
    expect(classifyAttempt(11, [ROOT_TIMES].join('\n')).outcome).toBe('fatal');
  });

  it('judges by the whole run when given its tally, not by the tail alone', () => {
    const early = tallyFileErrors(UNREADABLE_FILE);
    expect(classifyAttempt(23, `${ROOT_TIMES}\n${PARTIAL}`, early).outcome).toBe('fatal');
  });

  it("still reads ssh's refusal of the key as one", () => {
    expect(classifyAttempt(255, 'root@10.0.0.1: Permission denied (publickey).')).toMatchObject({
      outcome: 'fatal',
      reason: expect.stringMatching(/refused the source's key/),
    });
  });
});

describe('the message for unreadable files (explainUnreadableFiles)', () => {
  const report = unreadableReport(tallyFileErrors([UNREADABLE_FILE, UNREADABLE_DIR].join('\n'), 'uid 65534'));
  const log = [
    UNREADABLE_FILE,
    UNREADABLE_DIR,
    ROOT_TIMES,
    PARTIAL,
    'scribe rsync source: rsync finished in 1.2s with exit code 23 after 1 attempt(s)',
    `scribe rsync source: error: ${report}`,
    'scribe rsync source: result: synchronization failed with rsync exit code 23',
  ].join('\n');

  it("the condition's line keeps the way out and the first file, through the summary", () => {
    const line = failureLine(summarizeRsyncLog(log)) ?? '';
    expect(line).toContain(PERMISSIONS_HINT);
    expect(line).toContain('/data/db/table.ibd');
    expect(line).toContain('rsync as uid 65534');
  });

  it("says the ways out first, then the files and whom the mover ran as, from the source's report", () => {
    const message = explainUnreadableFiles(summarizeRsyncLog(log));
    expect(message).toBe(
      `rsync as uid 65534: could not read files (${PERMISSIONS_HINT}): /data/db/table.ibd; /data/private; the sync failed`,
    );
    expect(message).toMatch(/moverSecurityContext/);
    expect(message).toContain(`${PRIVILEGED_MOVERS_ANNOTATION}: "true"`);
  });

  it("reads rsync's own lines when the source's report is missing (a log cut short)", () => {
    expect(explainUnreadableFiles([UNREADABLE_FILE, UNREADABLE_DIR, PARTIAL].join('\n'))).toBe(
      `rsync: could not read files (${PERMISSIONS_HINT}): /data/db/table.ibd; /data/private; the sync failed`,
    );
  });

  it('says nothing for other failures', () => {
    expect(explainUnreadableFiles([ROOT_TIMES, NO_SPACE, PARTIAL].join('\n'))).toBeUndefined();
    expect(explainUnreadableFiles('root@10.0.0.1: Permission denied (publickey).')).toBeUndefined();
  });
});

describe('nss_wrapper files and the remote shell', () => {
  it('writes passwd and group entries, refusing fields that would break them', () => {
    expect(
      renderPasswd([{ name: 'root', uid: 999, gid: 999, gecos: 'Scribe', home: '/tmp/run', shell: '/bin/sh' }]),
    ).toBe('root:x:999:999:Scribe:/tmp/run:/bin/sh\n');
    expect(() => renderPasswd([{ name: 'a', uid: 1, gid: 1, gecos: '', home: '/a:b', shell: '/bin/sh' }])).toThrow();
    expect(renderGroup([999, 999, 1000], { 1000: 'app' })).toBe('scribe-999:x:999:\napp:x:1000:\n');
  });

  it('runs ssh through env with the variables only when asked', () => {
    expect(rsyncRemoteShell('/usr/bin/ssh', '/tmp/r/ssh_config')).toBe('/usr/bin/ssh -F /tmp/r/ssh_config');
    expect(
      rsyncRemoteShell('/usr/bin/ssh', '/tmp/r/ssh_config', {
        command: '/usr/bin/env',
        variables: { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libnss_wrapper.so', NSS_WRAPPER_PASSWD: '/tmp/r x/passwd' },
      }),
    ).toBe(
      "/usr/bin/env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so 'NSS_WRAPPER_PASSWD=/tmp/r x/passwd' /usr/bin/ssh -F /tmp/r/ssh_config",
    );
  });
});
