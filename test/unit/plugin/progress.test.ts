/** How `kubectl scribe sync` words a mover's progress. */
import { describe, expect, it } from 'vitest';
import { describeProgress, formatBytes } from '../../../src/plugin/mover-progress.js';

describe('mover progress as sync prints it', () => {
  it('writes sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });

  it('takes the rate over the last interval of the same pod, else the average since the start', () => {
    const first = { pod: 'a', files: 1, bytes: 10 * 1024 * 1024, elapsedSeconds: 5 };
    expect(describeProgress(first)).toBe('1 file, 10.0 MiB, 2.0 MiB/s, mover running 5s');
    const later = { pod: 'a', files: 3, bytes: 30 * 1024 * 1024, elapsedSeconds: 10 };
    expect(describeProgress(later, first)).toBe('3 files, 30.0 MiB, 4.0 MiB/s, mover running 10s');
    // A retry's new pod starts counting again: no rate across pods.
    const retried = { pod: 'b', files: 0, bytes: 0, elapsedSeconds: 0 };
    expect(describeProgress(retried, later)).toBe('0 files, 0 B, rate not known yet, mover running 0s');
  });
});
