/**
 * Recording a run: one dated section per run, appended to bench/history/<year-month>.md: the
 * date, the command, the commit, the machine and versions, an optional note, the total time, and
 * each benchmark's figures. bench/RESULTS.md holds the summary table of the current figures
 * against their goals, each naming the run it comes from; it is edited by hand when a run
 * changes a figure (the record says so when it is written).
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT, seconds } from './common.js';
import { formatMachine, type MachineFacts } from './machine.js';

/** Where the dated runs go. */
export const HISTORY_DIR = join(REPO_ROOT, 'bench', 'history');

/** One benchmark's part of a recorded run. */
export interface RecordedSection {
  title: string;
  /** The command line that reproduces it. */
  command: string;
  text: string;
}

/** One run as recorded. */
export interface RecordedRun {
  started: Date;
  /** The command that was run, e.g. `npm run bench -- --only rsync`. */
  invocation: string;
  machine: MachineFacts;
  note?: string;
  totalMs: number;
  sections: RecordedSection[];
}

/** The checked-out commit, and whether files differ from it: the code a run measured. */
export function checkoutCommit(): string {
  const git = (args: string[]) =>
    execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git(['rev-parse', '--short=7', 'HEAD']);
    const changed = git(['status', '--porcelain', '--untracked-files=no']).split('\n').filter(Boolean).length;
    return changed === 0 ? commit : `${commit} (${changed} tracked file(s) changed in the checkout)`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** The Markdown of one benchmark's section. */
export function formatSection(section: RecordedSection): string {
  return `### ${section.title} (\`${section.command}\`)\n\n${section.text}`;
}

/** The Markdown of a whole run: its header, then each section. */
export function formatRun(run: RecordedRun): string {
  const header = [
    `## ${run.started.toISOString()} — \`${run.invocation}\``,
    '',
    `- Commit: ${checkoutCommit()}`,
    formatMachine(run.machine),
    ...(run.note ? [`- Note: ${run.note}`] : []),
    `- Total time: ${seconds(run.totalMs)}`,
  ].join('\n');
  return `${header}\n\n${run.sections.map(formatSection).join('\n\n')}\n`;
}

/** Appends the run to bench/history/<YYYY-MM>.md (created when the month's first run is recorded); returns its path. */
export function recordRun(run: RecordedRun, dir = HISTORY_DIR): string {
  mkdirSync(dir, { recursive: true });
  const month = run.started.toISOString().slice(0, 7);
  const file = join(dir, `${month}.md`);
  if (!existsSync(file))
    writeFileSync(
      file,
      `# Benchmark runs, ${month}\n\nAppended by the benchmarks (bench/README.md says how to read them); the summary of the current figures is bench/RESULTS.md.\n`,
    );
  appendFileSync(file, `\n${formatRun(run)}`);
  return relative(REPO_ROOT, file);
}
