import { describe, expect, it } from 'vitest';
import { eventName } from '../../../src/kube/events.js';

const SUFFIX = '0123456789abcdef';
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('eventName', () => {
  it('is the object name, a dot and the suffix when that fits', () => {
    expect(eventName('database-source', SUFFIX)).toBe(`database-source.${SUFFIX}`);
  });

  it('shortens a name at the 253-character limit so the Event name is still valid', () => {
    const name = eventName('a'.repeat(253), SUFFIX);
    expect(name).toHaveLength(253);
    expect(name.endsWith(`.${SUFFIX}`)).toBe(true);
    expect(name).toMatch(DNS_SUBDOMAIN);
  });

  it('never leaves the shortened name ending in "-" or "."', () => {
    for (const filler of ['-', '.', '-.', '.-']) {
      const object = `${'b'.repeat(230)}${filler.repeat(20)}`.slice(0, 253);
      const name = eventName(object, SUFFIX);
      expect(name.length).toBeLessThanOrEqual(253);
      expect(name).toMatch(DNS_SUBDOMAIN);
    }
  });
});
