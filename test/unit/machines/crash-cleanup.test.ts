import { describe, expect, it } from 'vitest';
import { owned, pvc, source, T0, stepAsOperator } from './fixtures.js';

describe('a crash between "complete" and its cleanup', () => {
  it("removes the earlier cycle's mover Job when the next cycle starts, so its pod stops holding the volumes", () => {
    // Cycle 1 finished (status says idle), but its Job and clone survived the operator's crash.
    const first = stepAsOperator(source({ trigger: { manual: 'one' } }), { now: T0, owned: owned() });
    const cycleOne = first.nextPersisted.cycle?.id as string;
    const leftovers = {
      pvcs: [pvc('data'), pvc('scribe-src-db', { cycleId: cycleOne, deleting: true })],
      mover: { phase: 'succeeded' as const, cycleId: cycleOne, attempt: 0 },
    };
    const idle = source(
      { trigger: { manual: 'two' } },
      // As "complete → idle" writes it: the cycle's id stays, its objects are gone from status.
      {
        ...first.nextPersisted,
        state: 'idle',
        cycle: { id: cycleOne },
        lastManualSync: 'one',
        lastSyncTime: new Date(T0).toISOString(),
      },
    );
    const next = stepAsOperator(idle, { now: T0 + 60_000, owned: owned(leftovers) });
    expect(next.state).toBe('snapshotting');
    expect(next.nextPersisted.cycle?.id).not.toBe(cycleOne);
    expect(next.actions).toContainEqual({ type: 'cleanupMover', mover: 'rsync' });
    // Nothing of the user's is touched.
    expect(next.actions.filter((a) => a.type === 'deleteObject').map((a) => a.name)).not.toContain('data');
  });
});
