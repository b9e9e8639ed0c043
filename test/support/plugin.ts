/**
 * Helpers for end-to-end tests of the kubectl-scribe plugin: the bundled file built once into a
 * temp directory, run as a child process, and kubeconfigs with the seed's two contexts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { bundlePlugin } from '../../src/plugin/bundle.js';

/** Builds the bundle (as `npm run build:plugin` does) into a fresh temp directory. */
export async function buildPluginBundle(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'scribe-plugin-bundle-'));
  return bundlePlugin(join(dir, 'kubectl-scribe'));
}

/** The outcome of one plugin run. */
export interface PluginRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the bundled plugin with arguments, in `cwd`, with extra environment. */
export function runPlugin(
  bundle: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<PluginRun> {
  return new Promise((resolve) => {
    execFile(
      bundle,
      args,
      { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 240_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

type Kubeconfig = {
  clusters: { name: string; cluster: object }[];
  users: { name: string; user: object }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  'current-context'?: string;
};

/**
 * A kubeconfig with the seed's cross-cluster contexts, `sourceuser` on cluster
 * `api-source-com:6443` and `destuser` on `destination123`, both pointing at the one local API
 * server, each with its own default namespace. The current context is neither of them.
 */
export async function twoContextKubeconfig(
  kubeconfigPath: string,
  dir: string,
  namespaces: { source: string; dest: string },
): Promise<string> {
  const base = parse(await readFile(kubeconfigPath, 'utf8')) as Kubeconfig;
  const cluster = base.clusters[0]?.cluster;
  const user = base.users[0];
  if (!cluster || !user) throw new Error(`${kubeconfigPath} has no cluster or user`);
  const merged: Kubeconfig = {
    ...base,
    clusters: [...base.clusters, { name: 'api-source-com:6443', cluster }, { name: 'destination123', cluster }],
    contexts: [
      ...base.contexts,
      {
        name: 'sourceuser',
        context: { cluster: 'api-source-com:6443', user: user.name, namespace: namespaces.source },
      },
      { name: 'destuser', context: { cluster: 'destination123', user: user.name, namespace: namespaces.dest } },
    ],
  };
  const path = join(dir, 'kubeconfig-two-contexts');
  await writeFile(path, stringify(merged), { mode: 0o600 });
  return path;
}
