/**
 * The benchmark scaffold's own logic: the flags every benchmark command shares, a recorded run's
 * text, and CPU and RSS read from /proc (bench/scaffold/).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { takeSharedFlags } from '../../../bench/scaffold/benchmark.js';
import { processUsage, procStat } from '../../../bench/scaffold/proc.js';
import { recordRun } from '../../../bench/scaffold/record.js';

describe('takeSharedFlags', () => {
  it('takes --smoke, --no-record and --note off and leaves the benchmark its own flags', () => {
    const { mode, rest } = takeSharedFlags(['--size-mib', '20', '--note', 'shared machine', '--no-record', '--keep']);
    expect(mode).toEqual({ smoke: false, record: false, note: 'shared machine' });
    expect(rest).toEqual(['--size-mib', '20', '--keep']);
  });

  it('records by default, and never a smoke run', () => {
    expect(takeSharedFlags([]).mode.record).toBe(true);
    const { mode, rest } = takeSharedFlags(['--smoke', '--note=x']);
    expect(mode).toEqual({ smoke: true, record: false, note: 'x' });
    expect(rest).toEqual([]);
  });
});

describe('recordRun', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it("appends a dated run with its command, commit, machine and sections to the month's file", () => {
    dir = mkdtempSync(join(tmpdir(), 'scribe-bench-record-'));
    const run = {
      started: new Date('2026-12-07T06:00:00Z'),
      invocation: 'npm run bench:rsync -- --runs 1',
      machine: { cpus: 2, cpuModel: 'test', memoryGiB: 1, loadAverage: '0', kernel: 'Linux', versions: { node: 'v0' } },
      totalMs: 1500,
      sections: [{ title: 'rsync mover vs raw rsync', command: 'npm run bench:rsync -- --runs 1', text: 'FIGURES' }],
    };
    recordRun(run, dir);
    recordRun({ ...run, note: 'second' }, dir);
    const text = readFileSync(join(dir, '2026-12.md'), 'utf8');
    expect(text.match(/^# Benchmark runs, 2026-12$/gm)).toHaveLength(1);
    expect(text.match(/^## 2026-12-07T06:00:00.000Z — `npm run bench:rsync -- --runs 1`$/gm)).toHaveLength(2);
    expect(text).toMatch(/^- Commit: [0-9a-f]{7}/m);
    expect(text).toContain('- Note: second');
    expect(text).toContain('### rsync mover vs raw rsync (`npm run bench:rsync -- --runs 1`)\n\nFIGURES');
  });
});

describe('/proc readings', () => {
  it("reads a busy child's CPU and RSS, and refuses a process that is gone", async () => {
    const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 400; while (Date.now() < end);']);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let busiest = 0;
    let largest = 0;
    while (child.exitCode === null) {
      // Read while it runs (an exited child not yet reaped reads as a zombie: no RSS).
      const stat = procStat(child.pid);
      busiest = Math.max(busiest, stat?.cpuMs ?? 0);
      largest = Math.max(largest, stat?.rss ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await exited;
    expect(busiest).toBeGreaterThan(0);
    expect(largest).toBeGreaterThan(1024 * 1024);
    expect(() => processUsage(child.pid)).toThrow(/gone/);
  });
});
