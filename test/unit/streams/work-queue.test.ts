import { describe, expect, it } from 'vitest';
import { KeyedWorkQueue } from '../../../src/streams/work-queue.js';

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('KeyedWorkQueue', () => {
  it('runs one handler per key at a time and coalesces a burst into one extra run', async () => {
    const runs: string[] = [];
    let active = 0;
    let maxActiveForA = 0;
    const first = gate();
    const queue = new KeyedWorkQueue<string>(async (key) => {
      runs.push(key);
      if (key === 'a') {
        active++;
        maxActiveForA = Math.max(maxActiveForA, active);
        if (runs.filter((k) => k === 'a').length === 1) await first.opened;
        active--;
      }
    });
    queue.add('a');
    for (let i = 0; i < 50; i++) queue.add('a'); // a burst while the first run is held
    queue.add('b');
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toEqual(['a', 'b']); // b is not blocked by a
    first.open();
    await queue.whenIdle();
    expect(runs.filter((k) => k === 'a')).toHaveLength(2);
    expect(maxActiveForA).toBe(1);
  });

  it('reports handler errors and keeps serving other keys', async () => {
    const queue = new KeyedWorkQueue<string>(async (key) => {
      if (key === 'bad') throw new Error('boom');
    });
    const results: Array<{ key: string; error?: unknown }> = [];
    queue.results$.subscribe((r) => results.push(r));
    queue.add('bad');
    queue.add('good');
    await queue.whenIdle();
    expect(results.map((r) => [r.key, r.error instanceof Error ? r.error.message : undefined])).toEqual([
      ['bad', 'boom'],
      ['good', undefined],
    ]);
  });

  it('limits how many keys run at once', async () => {
    let active = 0;
    let peak = 0;
    const release = gate();
    const queue = new KeyedWorkQueue<string>(
      async () => {
        active++;
        peak = Math.max(peak, active);
        await release.opened;
        active--;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 10; i++) queue.add(`k${i}`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(active).toBe(3);
    release.open();
    await queue.whenIdle();
    expect(peak).toBe(3);
  });

  it('runs urgent keys before the waiting normal ones, each key once', async () => {
    const runs: string[] = [];
    const release = gate();
    const queue = new KeyedWorkQueue<string>(
      async (key) => {
        runs.push(key);
        if (key === 'busy') await release.opened;
      },
      { concurrency: 1 },
    );
    queue.add('busy'); // holds the only worker while the others queue up
    for (const key of ['n1', 'n2', 'n3']) queue.add(key);
    queue.add('u1', { urgent: true });
    queue.add('n2', { urgent: true }); // waiting in the normal lane: moves up, runs once
    queue.add('u1'); // already urgent: a plain add changes nothing
    release.open();
    await queue.whenIdle();
    expect(runs).toEqual(['busy', 'u1', 'n2', 'n1', 'n3']);
  });

  it('re-runs a key marked urgent while it ran in the urgent lane', async () => {
    const runs: string[] = [];
    const release = gate();
    const queue = new KeyedWorkQueue<string>(
      async (key) => {
        runs.push(key);
        if (key === 'a' && runs.length === 1) await release.opened;
      },
      { concurrency: 1 },
    );
    queue.add('a');
    queue.add('b');
    queue.add('a', { urgent: true }); // while 'a' runs
    release.open();
    await queue.whenIdle();
    expect(runs).toEqual(['a', 'a', 'b']);
  });

  it('holds the normal lane from the first urgent key waiting until the last one ran', async () => {
    const held: boolean[] = [];
    const release = gate();
    const queue = new KeyedWorkQueue<string>(
      async (key) => {
        if (key === 'n1') await release.opened;
      },
      { concurrency: 1 },
    );
    queue.urgentHold$.subscribe((value) => held.push(value));
    queue.add('n1'); // a normal key holds the only worker
    queue.add('u1', { urgent: true });
    queue.add('u2', { urgent: true });
    expect(held).toEqual([false, true]);
    release.open();
    await queue.whenIdle();
    // Held through u1 and u2 (running counts too), released after u2: one change each way.
    expect(held).toEqual([false, true, false]);
    queue.add('n2'); // normal work alone holds nothing
    await queue.whenIdle();
    expect(held).toEqual([false, true, false]);
  });

  it('runs one normal key at a time while an urgent one runs, all of them once it is through', async () => {
    const runs: string[] = [];
    const urgentGate = gate();
    const normalGate = gate();
    const queue = new KeyedWorkQueue<string>(
      async (key) => {
        runs.push(key);
        await (key === 'u1' ? urgentGate.opened : normalGate.opened);
      },
      { concurrency: 4 },
    );
    queue.add('u1', { urgent: true });
    for (const key of ['n1', 'n2', 'n3']) queue.add(key);
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toEqual(['u1', 'n1']); // workers are free, but the normal lane yields
    urgentGate.open();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toEqual(['u1', 'n1', 'n2', 'n3']); // n1 still runs: the hold is over
    normalGate.open();
    await queue.whenIdle();
  });

  it('holds the normal lane for its quiet time after the last urgent run', async () => {
    const quietMs = 60;
    let urgentEnded = 0;
    let normalStarted = 0;
    const queue = new KeyedWorkQueue<string>(
      async (key) => {
        if (key === 'u1') urgentEnded = performance.now();
        else normalStarted = performance.now();
      },
      { urgentHold: { quietMs, heldConcurrency: 0 } },
    );
    const held: boolean[] = [];
    queue.urgentHold$.subscribe((value) => held.push(value));
    queue.add('u1', { urgent: true });
    queue.add('n1');
    await queue.whenIdle();
    // The queue reads its own clock after the urgent run returned: at least quietMs after this one.
    expect(normalStarted - urgentEnded).toBeGreaterThanOrEqual(quietMs);
    expect(held).toEqual([false, true, false]);
  });

  it('keeps the normal lane going, one key at a time, through a hold that does not end', async () => {
    let normalRunning = 0;
    let normalPeak = 0;
    const queue = new KeyedWorkQueue<string>(
      async (key) => {
        if (key.startsWith('u')) return;
        normalRunning++;
        normalPeak = Math.max(normalPeak, normalRunning);
        await new Promise((resolve) => setImmediate(resolve));
        normalRunning--;
      },
      { urgentHold: { quietMs: 60_000, heldConcurrency: 1 } },
    );
    const held: boolean[] = [];
    queue.urgentHold$.subscribe((value) => held.push(value));
    queue.add('u1', { urgent: true });
    for (let i = 0; i < 5; i++) queue.add(`n${i}`);
    await queue.whenIdle(); // all five ran while the hold went on
    expect(normalPeak).toBe(1);
    expect(held).toEqual([false, true]);
    await queue.stop();
  });

  it('runs a key again at the time its run asked for, and a run that asks for none cancels the timer', async () => {
    const runs: number[] = [];
    let answer: number | undefined = Date.now() + 30;
    const queue = new KeyedWorkQueue<string>(async () => {
      runs.push(Date.now());
      const requeueAt = answer;
      answer = undefined;
      return { requeueAt };
    });
    const again = new Promise<void>((resolve) => queue.results$.subscribe(() => runs.length === 2 && resolve()));
    queue.add('a');
    await queue.whenIdle();
    expect(queue.requeuedAt('a')).toBeDefined();
    await again;
    expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(25);
    await queue.whenIdle();
    expect(queue.requeuedAt('a')).toBeUndefined(); // the second run asked for nothing
    expect(queue.timerCount).toBe(0);
    await queue.stop();
  });

  it('backs a failing key off, doubling per failure, and forgets the failures once it succeeds', async () => {
    let now = 1_000_000;
    let failing = 3;
    const retries: Array<number | undefined> = [];
    const queue = new KeyedWorkQueue<string>(
      async () => {
        if (failing-- > 0) throw new Error('API server down');
        return {};
      },
      // Delays far longer than the test: its own adds are the only runs.
      { backoff: { initialMs: 100_000, maxMs: 250_000 }, clock: () => now },
    );
    queue.results$.subscribe((r) => retries.push(r.retryInMs));
    for (let i = 0; i < 4; i++) {
      queue.add('a');
      await queue.whenIdle();
      if (i < 3) expect(queue.requeuedAt('a')).toBe(now + [100_000, 200_000, 250_000][i]!);
      now += 1;
    }
    expect(retries).toEqual([100_000, 200_000, 250_000, undefined]);
    expect(queue.requeuedAt('a')).toBeUndefined();
    failing = 1;
    queue.add('a');
    await queue.whenIdle();
    expect(retries.at(-1)).toBe(100_000); // the back-off starts again from the first delay
    await queue.stop();
  });
});
