import { describe, expect, it } from 'vitest';
import type { ScribeStatus } from '../../../machines/api.js';
import { rehydrate } from '../../../machines/rehydrate.js';
import { step } from '../../../machines/step.js';
import { statusMergePatch } from '../../../machines/actions.js';
import { owned, pvc, source, T0 } from './fixtures.js';

const id = '4-20240101000030';
const cycle = { id, attempt: 0, objects: { volume: 'scribe-src-db', pitPvc: 'scribe-src-db' } };
const started: ScribeStatus = {
  lastSyncStartTime: '2024-01-01T00:00:30Z',
  lastSyncTime: '2023-12-31T00:00:00Z',
  cycle,
};
const pit = pvc('scribe-src-db', { cycleId: id });

describe('rehydration (facts win)', () => {
  it('keeps a stored state the facts allow', () => {
    expect(rehydrate(source({}, { ...started, state: 'moving' }), owned({ pvcs: [pvc('data'), pit] }))).toEqual({
      state: 'moving',
    });
  });

  it('stored moving but no cycle objects: re-derived as idle, and the journal records the correction', () => {
    const cr = source(
      { trigger: { manual: 'a' } },
      { state: 'moving', lastSyncTime: '2024-01-01T00:00:00Z', lastManualSync: 'a' },
    );
    expect(rehydrate(cr, owned()).state).toBe('idle');
    const r = step(cr, { now: T0, owned: owned() });
    expect(r.state).toBe('idle');
    const journal = r.nextPersisted.journal ?? [];
    expect(journal.at(-1)).toMatchObject({ event: 'rehydrate', from: 'moving', to: 'idle' });
  });

  it('stored snapshotting while the mover already works for this cycle: resumes in moving without a duplicate Job or Event', () => {
    const cr = source({ trigger: {} }, { ...started, state: 'snapshotting' });
    const world = owned({ pvcs: [pvc('data'), pit], mover: { phase: 'running', cycleId: id, attempt: 0 } });
    const r = step(cr, { now: T0 + 5000, owned: world });
    expect(r.state).toBe('moving');
    expect(r.actions.filter((a) => a.type === 'emitEvent')).toEqual([]);
    expect(r.actions.filter((a) => a.type === 'ensureMover')).toEqual([
      { type: 'ensureMover', mover: 'rsync', cycleId: id, attempt: 0, volume: 'scribe-src-db' },
    ]);
  });

  it('a restarted operator in moving asks again for the same Job (same cycle and attempt), nothing new', () => {
    const cr = source({ trigger: {} }, { ...started, state: 'moving' });
    const world = owned({ pvcs: [pvc('data'), pit], mover: { phase: 'running', cycleId: id, attempt: 0 } });
    const r = step(cr, { now: T0 + 5000, owned: world });
    expect(r.state).toBe('moving');
    expect(r.nextPersisted.cycle).toEqual(cycle);
    expect(r.actions.filter((a) => a.type === 'ensurePvc')).toEqual([]);
  });

  it('an unknown stored state is re-derived from the facts', () => {
    const r = rehydrate(
      source({}, { ...started, state: 'Syncing' }),
      owned({ pvcs: [pvc('data'), pit], mover: { phase: 'succeeded', cycleId: id, attempt: 0 } }),
    );
    expect(r.state).toBe('preserving');
    expect(r.correction).toMatch(/Syncing/);
  });

  it('a recorded completion means cleanup is what remains', () => {
    const done = { ...started, lastSyncTime: '2024-01-01T00:01:00Z', state: 'moving' };
    expect(rehydrate(source({}, done), owned({ pvcs: [pvc('data'), pit] })).state).toBe('complete');
  });

  it('failed without a retry time is not a fact: re-derived', () => {
    expect(rehydrate(source({}, { ...started, state: 'failed' }), owned({ pvcs: [pvc('data'), pit] })).state).toBe(
      'moving',
    );
  });

  it('a new CR starts fresh', () => {
    expect(rehydrate(source(), owned())).toEqual({ state: 'idle', fresh: true });
  });
});

describe('statusMergePatch', () => {
  it('sets changed keys and nulls dropped ones', () => {
    expect(statusMergePatch({ a: 1, b: { c: 2, d: 3 }, e: 'x' }, { a: 1, b: { c: 2 }, f: [1] })).toEqual({
      b: { d: null },
      e: null,
      f: [1],
    });
  });
});
