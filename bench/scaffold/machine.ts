/** Facts about the machine and the tool versions, for RESULTS.md. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { toolDir } from '../../src/local/tools.js';
import { toolPath } from './processes.js';

/** What the results were measured on. */
export interface MachineFacts {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  loadAverage: string;
  kernel: string;
  versions: Record<string, string>;
}

function firstLine(command: string, args: string[]): string {
  try {
    const out = execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: toolPath() },
    });
    return out.split('\n')[0]?.trim() ?? '';
  } catch (error) {
    // ssh -V prints to stderr.
    const stderr = (error as { stderr?: string }).stderr ?? '';
    return stderr.split('\n')[0]?.trim() || 'unknown';
  }
}

/** `ssh -V` prints its version on stderr. */
function sshVersion(): string {
  const result = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return `${result.stderr ?? ''}${result.stdout ?? ''}`.trim() || 'unknown';
}

/** Reads the machine's facts; `kubernetes` builds nothing (it asks for the already-built directory). */
export async function machineFacts(options: { kubernetes: boolean }): Promise<MachineFacts> {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1]) cpuModel = match[1].trim();
  } catch {
    // not Linux
  }
  const versions: Record<string, string> = {
    node: process.version,
    rsync: firstLine('rsync', ['--version']).replace(/^rsync\s+/, ''),
    openssh: sshVersion(),
  };
  if (options.kubernetes) {
    try {
      versions.kubernetes = firstLine(join(await toolDir('kubernetes'), 'kube-apiserver'), ['--version']);
      versions.etcd = firstLine(join(await toolDir('etcd'), 'etcd'), ['--version']);
    } catch (error) {
      versions.kubernetes = `unknown (${String(error)})`;
    }
  }
  return {
    cpus: cpus().length,
    cpuModel,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: loadavg()
      .map((l) => l.toFixed(2))
      .join(', '),
    kernel: firstLine('uname', ['-sr']),
    versions,
  };
}

/** The facts as Markdown bullet lines. */
export function formatMachine(facts: MachineFacts): string {
  return [
    `- Machine: ${facts.cpus} CPUs (${facts.cpuModel}), ${facts.memoryGiB} GiB memory, ${facts.kernel}; load average at start ${facts.loadAverage}`,
    `- Versions: ${Object.entries(facts.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join('; ')}`,
  ].join('\n');
}
