import { describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import type { OwnedObjects } from '../../../machines/observation.js';
import { QuietSteps } from '../../../src/controller/quiet-steps.js';

const cr = (resourceVersion: string): ScribeCr =>
  ({ kind: 'ReplicationSource', metadata: { name: 'db', namespace: 'ns', resourceVersion }, spec: {} }) as ScribeCr;
const owned = (phase: 'absent' | 'pending'): OwnedObjects => ({ pvcs: {}, snapshots: {}, mover: { phase } });

describe('QuietSteps', () => {
  it('repeats a quiescent step only for the same CR object, an equal observation and a time before its requeueAt', () => {
    const quiet = new QuietSteps();
    const seen = cr('7');
    quiet.remember('k', seen, owned('absent'), 1_000);
    expect(quiet.repeated('k', seen, owned('absent'), 999)).toEqual({ requeueAt: 1_000 });
    expect(quiet.repeated('k', seen, owned('absent'), 1_000), 'its requeueAt has come').toBeUndefined();
    expect(quiet.repeated('k', seen, owned('pending'), 10), 'the observation changed').toBeUndefined();
    expect(quiet.repeated('k', cr('7'), owned('absent'), 10), 'another object of the CR').toBeUndefined();
    expect(quiet.repeated('other', seen, owned('absent'), 10), 'another CR').toBeUndefined();
  });

  it('repeats a step with no requeueAt at any time, and none once forgotten', () => {
    const quiet = new QuietSteps();
    const seen = cr('7');
    quiet.remember('k', seen, owned('absent'), undefined);
    expect(quiet.repeated('k', seen, owned('absent'), Number.MAX_SAFE_INTEGER)).toEqual({ requeueAt: undefined });
    quiet.forget('k');
    expect(quiet.repeated('k', seen, owned('absent'), 0)).toBeUndefined();
  });
});
