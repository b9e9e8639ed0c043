import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE, imageFor } from '../../../src/movers/job.js';

describe('mover images', () => {
  it("uses the chart's per-mover image when set, else the common one", () => {
    const env = { SCRIBE_RSYNC_IMAGE: 'registry.example/rsync:1', SCRIBE_RESTIC_IMAGE: '' };
    expect(imageFor('rsync', env)).toBe('registry.example/rsync:1');
    expect(imageFor('restic', env)).toBe(DEFAULT_IMAGE);
    expect(imageFor('rclone', env)).toBe(DEFAULT_IMAGE);
  });
});
