/** Progress lines of the movers (what `kubectl scribe sync` reads) and rsync's itemized lines. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  lastProgress,
  PROGRESS_TAIL_LINES,
  progressLine,
  ProgressMeter,
  REPORT_EVERY_LINES,
} from '../../../src/movers/runtime/progress.js';
import { sentFilePath, unescapeRsyncName } from '../../../src/movers/rsync/itemize.js';

describe('progress lines', () => {
  it('read back what was written, the last one winning, wherever they sit in a log', () => {
    const progress = fc.record({
      files: fc.nat(),
      bytes: fc.nat(),
      elapsedSeconds: fc.integer({ min: 0, max: 10_000_000 }).map((tenths) => tenths / 10),
    });
    fc.assert(
      fc.property(fc.array(progress, { minLength: 1, maxLength: 5 }), fc.string(), (all, noise) => {
        const log = all.map((p) => `${noise.replace(/scribe progress:/g, '')}\n${progressLine(p)}\n`).join('');
        expect(lastProgress(log)).toEqual(all[all.length - 1]);
      }),
    );
    expect(lastProgress('no progress here\n')).toBeUndefined();
  });

  it('a meter counts files and bytes, reports on its interval and once more when stopped', async () => {
    const lines: string[] = [];
    let now = 1_000;
    const meter = new ProgressMeter(
      (line) => lines.push(line),
      10,
      () => now,
    ).start();
    meter.add(100);
    meter.add(50);
    now += 2_500;
    await expect.poll(() => lines.length).toBeGreaterThan(0);
    expect(lastProgress(lines.join('\n'))).toEqual({ files: 2, bytes: 150, elapsedSeconds: 2.5 });
    meter.add(1);
    expect(meter.stop()).toEqual({ files: 3, bytes: 151, elapsedSeconds: 2.5 });
    const count = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(lines.length).toBe(count);
  });

  it('a meter takes running totals from a tool that reports them (restic), never going down', () => {
    const lines: string[] = [];
    let now = 0;
    const meter = new ProgressMeter(
      (line) => lines.push(line),
      3_600_000,
      () => now,
    );
    meter.set(3, 4096);
    meter.set(10, 1_000_000);
    meter.set(7, 500); // a stale report changes nothing
    now = 1_500;
    expect(meter.stop()).toEqual({ files: 10, bytes: 1_000_000, elapsedSeconds: 1.5 });
    expect(lines).toEqual(['scribe progress: files=10 bytes=1000000 elapsed=1.5']);

    // Totals and single files mix: add counts on top of the last totals.
    const mixed = new ProgressMeter(() => undefined, 3_600_000);
    mixed.set(2, 200);
    mixed.add(50);
    expect(mixed.stop()).toMatchObject({ files: 3, bytes: 250 });
  });

  it('reports after REPORT_EVERY_LINES lines of output, so a bounded log tail holds a line', () => {
    const log: string[] = [];
    const meter = new ProgressMeter((line) => log.push(line), 3_600_000);
    for (let i = 0; i < 3 * REPORT_EVERY_LINES; i++) {
      log.push(`<f+++++++++ file-${i}`);
      meter.add(1);
      meter.observeLine();
    }
    expect(PROGRESS_TAIL_LINES).toBeGreaterThan(REPORT_EVERY_LINES);
    expect(lastProgress(log.slice(-PROGRESS_TAIL_LINES).join('\n'))?.files).toBe(3 * REPORT_EVERY_LINES);
  });
});

describe("rsync's itemized changes", () => {
  it('name the files sent, and nothing else', () => {
    expect(sentFilePath('<f+++++++++ docs/a.txt')).toBe('docs/a.txt');
    expect(sentFilePath('<f.st...... db/data file')).toBe('db/data file');
    for (const other of [
      'cd+++++++++ docs/',
      'cL+++++++++ link -> target',
      'hf+++++++++ hard => docs/a.txt',
      '*deleting   old.txt',
      '.d..t...... ./',
      'Number of files: 12',
      '>f+++++++++ received-not-sent',
    ])
      expect(sentFilePath(other), other).toBeUndefined();
  });

  it("undo rsync's octal escapes as UTF-8", () => {
    expect(unescapeRsyncName('caf\\#303\\#251.txt')).toBe('café.txt');
    expect(unescapeRsyncName('line\\#012break')).toBe('line\nbreak');
    expect(unescapeRsyncName('plain')).toBe('plain');
  });
});
