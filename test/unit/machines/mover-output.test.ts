import { describe, expect, it } from 'vitest';
import { failureLine, withFailureLine } from '../../../machines/mover-output.js';
import { step } from '../../../machines/step.js';
import { owned, pvc, source, T0, stepAsOperator } from './fixtures.js';

describe("a failed mover's output in its condition (data safety, point 7)", () => {
  it('picks the last line that names an error, else the last line', () => {
    const output =
      'scribe restic source: opening repository\nFatal: unable to open config file: connection refused\ndone';
    expect(failureLine(output)).toBe('Fatal: unable to open config file: connection refused');
    expect(failureLine('first\nsecond\n\n')).toBe('second');
    expect(failureLine('')).toBeUndefined();
    expect(failureLine(undefined)).toBeUndefined();
    expect(failureLine(`error: ${'x'.repeat(1000)}`)?.length).toBe(300);
  });

  it('adds the line to the message once', () => {
    expect(withFailureLine('mover exited with code 1', 'Fatal: wrong password')).toBe(
      'mover exited with code 1: Fatal: wrong password',
    );
    expect(withFailureLine('restic: Fatal: wrong password (exit 12)', 'Fatal: wrong password')).toBe(
      'restic: Fatal: wrong password (exit 12)',
    );
  });

  it("puts the mover's error line in Synchronizing, Reconciled and the Warning as soon as the attempt fails", () => {
    const cr = source({ rsync: { copyMethod: 'None', address: 'dest.example.com', sshKeys: 'keys' } });
    const started = stepAsOperator(cr, { now: T0, owned: owned({ pvcs: [pvc('data')] }) });
    const id = started.nextPersisted.cycle?.id ?? '';
    const failed = step(
      { ...cr, status: started.nextPersisted },
      {
        now: T0 + 1000,
        owned: owned({
          pvcs: [pvc('data')],
          mover: {
            phase: 'failed',
            cycleId: id,
            attempt: 0,
            message: 'mover exited with code 1: restic failed',
            logs: 'scribe restic source: starting\nFatal: repository s3:http://127.0.0.1:1/b: dial tcp: connection refused',
          },
        }),
      },
    );
    const line = 'Fatal: repository s3:http://127.0.0.1:1/b: dial tcp: connection refused';
    for (const type of ['Synchronizing', 'Reconciled'])
      expect(failed.nextPersisted.conditions?.find((c) => c.type === type)?.message).toContain(line);
    const warning = failed.actions.find((a) => a.type === 'emitEvent' && a.eventType === 'Warning');
    expect(warning).toMatchObject({ reason: 'TransferFailed', message: expect.stringContaining(line) });
  });
});
