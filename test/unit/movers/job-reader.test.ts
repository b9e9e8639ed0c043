/** How a mover Job's progress is read from the caches (src/movers/job.ts, readMoverJob). */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../machines/mover.js';
import { readMoverJob } from '../../../src/movers/job.js';

const job = (conditions: Array<{ type: string; status: string }> = []): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: {
    name: 'mover',
    uid: 'job-1',
    labels: { 'scribe.backube/cycle': 'c1', 'scribe.backube/attempt': '2' },
  } as KubeObject['metadata'],
  status: { conditions },
});
const pod = (phase: string, exitCode?: number): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'mover-x', ownerReferences: [{ uid: 'job-1' }] } as KubeObject['metadata'],
  status: {
    phase,
    containerStatuses: [
      { state: exitCode === undefined ? { running: {} } : { terminated: { exitCode, message: 'sent 3 files' } } },
    ],
  },
});
const explain = () => 'meaning';

describe("a mover Job's progress", () => {
  it('is success as soon as its pod exited 0, before the Job controller says Complete', () => {
    expect(readMoverJob('mover', [job(), pod('Succeeded', 0)], explain)).toEqual({
      phase: 'succeeded',
      cycleId: 'c1',
      attempt: 2,
      logs: 'sent 3 files',
    });
  });

  it('is running while its pod runs, and failed only when the Job says so', () => {
    expect(readMoverJob('mover', [job(), pod('Running')], explain).phase).toBe('running');
    expect(readMoverJob('mover', [job(), pod('Failed', 12)], explain).phase).toBe('pending');
    const failed = readMoverJob('mover', [job([{ type: 'Failed', status: 'True' }]), pod('Failed', 12)], explain);
    expect(failed).toMatchObject({ phase: 'failed', message: 'mover exited with code 12: meaning' });
  });

  it('is success when the Job says Complete', () => {
    expect(readMoverJob('mover', [job([{ type: 'Complete', status: 'True' }])], explain).phase).toBe('succeeded');
  });
});
