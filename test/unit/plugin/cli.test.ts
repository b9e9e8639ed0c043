import { describe, expect, it } from 'vitest';
import { parseKindName } from '../../../src/inspect/kinds.js';
import { parseTimeout } from '../../../src/plugin/kube.js';
import { manualToken } from '../../../src/plugin/progress.js';
import { renderStatusTable } from '../../../src/plugin/status-table.js';
import type { ScribeCr } from '../../../machines/api.js';

describe('command-line parsing', () => {
  it('reads <kind>/<name> in kubectl forms', () => {
    expect(parseKindName('replicationsource/a')).toEqual({ kind: 'ReplicationSource', name: 'a' });
    expect(parseKindName('rsrc/a')).toEqual({ kind: 'ReplicationSource', name: 'a' });
    expect(parseKindName('ReplicationDestinations.scribe.backube/b')).toEqual({
      kind: 'ReplicationDestination',
      name: 'b',
    });
    expect(parseKindName('rd/b').kind).toBe('ReplicationDestination');
    expect(() => parseKindName('pod/x')).toThrow(/is not <kind>\/<name>/);
    expect(() => parseKindName('rs')).toThrow(/is not <kind>\/<name>/);
  });

  it('reads timeouts', () => {
    expect(parseTimeout('90')).toBe(90_000);
    expect(parseTimeout('90s')).toBe(90_000);
    expect(parseTimeout('1m30s')).toBe(90_000);
    expect(parseTimeout('1h')).toBe(3_600_000);
    expect(() => parseTimeout('soon')).toThrow(/--timeout "soon"/);
  });

  it('makes distinct manual tokens within one second', () => {
    expect(manualToken(Date.UTC(2024, 0, 2, 3, 4, 5, 6))).toBe('kubectl-scribe-20240102030405-006');
    expect(manualToken(1000)).not.toBe(manualToken(1001));
  });
});

describe('status table', () => {
  const cr = (kind: string, ns: string, name: string, status: object) =>
    ({ apiVersion: 'scribe.backube/v1alpha1', kind, metadata: { name, namespace: ns }, spec: {}, status }) as ScribeCr;

  it('lists kind, name, state, last sync, duration, next sync and last result', () => {
    const table = renderStatusTable(
      [
        cr('ReplicationSource', 'a', 'src', {
          state: 'idle',
          lastSyncTime: '2024-01-01T00:00:00Z',
          lastSyncDuration: '3.2s',
          nextSyncTime: '2024-01-01T00:03:00Z',
          latestMoverStatus: { result: 'Successful' },
        }),
        cr('ReplicationDestination', 'a', 'dst', { state: 'moving' }),
      ],
      false,
    );
    const [header, first, second] = table.trimEnd().split('\n');
    expect(header).toMatch(/^KIND\s+NAME\s+STATE\s+LAST SYNC\s+DURATION\s+NEXT SYNC\s+LAST RESULT$/);
    expect(first).toMatch(/^ReplicationDestination\s+dst\s+moving\s+<none>/);
    expect(second).toMatch(
      /^ReplicationSource\s+src\s+idle\s+2024-01-01T00:00:00Z\s+3.2s\s+2024-01-01T00:03:00Z\s+Successful$/,
    );
    expect(renderStatusTable([cr('ReplicationSource', 'b', 'x', {})], true)).toMatch(/^NAMESPACE\s+KIND/);
    expect(renderStatusTable([], false)).toMatch(/No ReplicationSources/);
  });
});
