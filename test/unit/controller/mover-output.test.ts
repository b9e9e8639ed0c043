import { describe, expect, it } from 'vitest';
import { readOutput } from '../../../src/controller/mover-output.js';

describe("a running mover's output, for the stall rule", () => {
  it('ignores the clock of progress lines: the same counts are no progress', () => {
    const before = readOutput('restic backup\nscribe progress: files=3 bytes=100 elapsed=5.0\n');
    const after = readOutput('restic backup\nscribe progress: files=3 bytes=100 elapsed=65.0\n');
    expect(after?.fingerprint).toBe(before?.fingerprint);
    expect(after?.line).toBe('restic backup');
  });

  it('counts moved bytes or a new line of the tool as progress', () => {
    const base = readOutput('a\nscribe progress: files=3 bytes=100 elapsed=5.0')?.fingerprint;
    expect(readOutput('a\nscribe progress: files=3 bytes=101 elapsed=9.0')?.fingerprint).not.toBe(base);
    expect(readOutput('a\nb\nscribe progress: files=3 bytes=100 elapsed=9.0')?.fingerprint).not.toBe(base);
  });

  it('shows the last line that is not a progress line, else the progress line; nothing for an empty log', () => {
    expect(readOutput('connecting to 10.0.0.1\nretrying after 2s: connection refused\n')?.line).toBe(
      'retrying after 2s: connection refused',
    );
    expect(readOutput('scribe progress: files=0 bytes=0 elapsed=60.0')?.line).toBe(
      'scribe progress: files=0 bytes=0 elapsed=60.0',
    );
    expect(readOutput('\n\n')).toBeUndefined();
  });
});
