/** Finds the binaries scripts/tools.sh builds, building them on first use. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The repository root (where package.json lives). */
export function repoRoot(): string {
  return REPO_ROOT;
}

/** Builds (once) and returns the bin directory of a tools/NAME wrapper module. */
export async function toolDir(name: string): Promise<string> {
  const { stdout } = await run('bash', [`${REPO_ROOT}scripts/tools.sh`, 'ensure', name], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const dir = stdout.trim().split('\n').pop();
  if (!dir) throw new Error(`scripts/tools.sh printed no directory for ${name}`);
  return dir;
}

/** Downloads (once) a pinned Go module of tools/NAME and returns its source directory. */
export async function moduleDir(name: string, modulePath: string): Promise<string> {
  const { stdout } = await run('bash', [`${REPO_ROOT}scripts/tools.sh`, 'module-dir', name, modulePath]);
  return stdout.trim();
}
