/**
 * Issue 20: what the user reads when a mover may not read the volume's files. The restic and
 * rclone failures go through the movers' summaries (the termination message) and the
 * condition's failure line; the way out and the first file must survive both cuts.
 */
import { describe, expect, it } from 'vitest';
import { failureLine } from '../../../machines/mover-output.js';
import {
  listUnreadable,
  PERMISSIONS_HINT,
  PRIVILEGED_MOVERS_ANNOTATION,
  unreadableMessage,
} from '../../../src/movers/permissions.js';
import { summarizeRcloneLog } from '../../../src/movers/rclone/summary.js';
import { explainFailure } from '../../../src/movers/restic/outcome.js';
import { summarizeResticLog } from '../../../src/movers/restic/summary.js';

describe('unreadable files (issue 20)', () => {
  it('the hint names both ways out', () => {
    expect(PERMISSIONS_HINT).toContain('moverSecurityContext');
    expect(PERMISSIONS_HINT).toContain(`${PRIVILEGED_MOVERS_ANNOTATION}: "true"`);
    expect(PRIVILEGED_MOVERS_ANNOTATION).toBe('scribe.backube/privileged-movers');
  });

  it('names each file once, five at most, and counts the rest', () => {
    const problems = [1, 2, 3, 4, 5, 6, 7, 1].map((n) => `open /data/f${n}: permission denied`);
    expect(listUnreadable(problems)).toBe(
      'open /data/f1: permission denied; open /data/f2: permission denied; open /data/f3: permission denied; ' +
        'open /data/f4: permission denied; open /data/f5: permission denied; and 2 more',
    );
    expect(listUnreadable([])).toBeUndefined();
  });

  it("rclone: the condition's line keeps the way out and the first file", () => {
    const message = unreadableMessage(
      'rclone source',
      listUnreadable(['open /data/db/table.ibd: permission denied', 'open /data/db/settings.cnf: permission denied'])!,
      'nothing was sent',
    );
    const log = [
      'scribe rclone source: syncing /data to s3:bucket/path',
      `scribe rclone source: error: ${message}`,
      `scribe rclone source: result: failed: ${message}; exit code 1`,
    ].join('\n');
    const line = failureLine(summarizeRcloneLog(log)) ?? '';
    expect(line).toContain(PERMISSIONS_HINT);
    expect(line).toContain('open /data/db/table.ibd: permission denied');
  });

  it("restic: the condition's line keeps the way out and the first directory, in restic's longest words", () => {
    const error = JSON.stringify({
      message_type: 'error',
      error: { message: 'openfile for readdirnames failed: open /data/db: permission denied' },
      during: 'archival',
      item: 'db',
    });
    const { message } = explainFailure('backup', 3, `${error}\n`, false);
    const log = [`scribe restic backup: error: ${message}`, `scribe restic backup: result: failed: ${message}`].join(
      '\n',
    );
    const line = failureLine(summarizeResticLog(log)) ?? '';
    expect(line).toContain(PERMISSIONS_HINT);
    expect(line).toContain('open /data/db: permission denied');
  });
});
