/** Helm from a checkout: the binary scripts/tools.sh builds, and the chart packaged as a repository. */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, toolDir } from './tools.js';

const run = promisify(execFile);

/** The chart's directory in the checkout. */
export const CHART_DIR = join(repoRoot(), 'helm', 'scribe');

/** The helm binary scripts/tools.sh builds (once), so the version is the one the tests use. */
export async function helmBinary(): Promise<string> {
  return join(await toolDir('helm'), 'helm');
}

/** Runs helm with `args` (and extra environment); resolves with its stdout. */
export async function helm(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run(await helmBinary(), args, {
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
  return stdout;
}

/**
 * `helm package` the chart into `outDir` and write the repository's index.yaml there, so the
 * directory served over HTTP(S) at `url` is a chart repository for `helm repo add` (what the
 * seed's `helm repo add backube …` expects). Returns the packaged file.
 */
export async function packageChart(outDir: string, url: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const output = await helm(['package', CHART_DIR, '--destination', outDir]);
  // "Successfully packaged chart and saved it to: DIR/scribe-X.Y.Z.tgz"
  const packaged = output.trim().split(': ').pop();
  if (!packaged?.endsWith('.tgz')) throw new Error(`helm package printed no chart file: ${output}`);
  await helm(['repo', 'index', outDir, '--url', url]);
  return packaged;
}
