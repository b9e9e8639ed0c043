/**
 * A mover's entrypoints as real processes, as every mover benchmark starts them: through tsx (as
 * bin/scribe runs them from a checkout) or compiled (bundled by the image's own build,
 * bundleMovers in src/cli/bundle.ts, and started as bin/scribe starts dist/movers/<mover>/*.mjs in
 * the image and the local runtime's mover pods), each with a pod's environment (podEnv).
 */
import { join } from 'node:path';
import { bundleMovers } from '../../src/cli/bundle.js';
import { median, REPO_ROOT, seconds, TSX_LOADER } from './common.js';
import type { Variant } from './mover-bench.js';
import { withPodLogin, type PodLogin } from './pod-login.js';
import { podEnv, start, type Proc } from './processes.js';

/** A mover the image's build bundles. */
type Mover = NonNullable<Parameters<typeof bundleMovers>[1]>[number];

/** Starts one entrypoint of a mover as a process with `env` added to a mover pod's (podEnv). */
export type Launcher = (name: 'source' | 'destination', env: Record<string, string>) => Proc;

/**
 * A launcher of `src/movers/<mover>/{source,destination}` in `variant`; the compiled one bundles
 * the mover's entrypoints side by side into `outdir` first (the rsync destination finds its
 * sibling session.mjs there, as in the image). The destination starts behind `login`'s prefix:
 * the rsync destination runs sshd, whose sessions then log in as in a container (pod-login.ts).
 */
export async function moverLauncher(
  mover: Mover,
  variant: Variant,
  outdir: string,
  login?: PodLogin,
): Promise<Launcher> {
  const argv = (name: 'source' | 'destination', args: string[]) =>
    name === 'destination' && login ? withPodLogin(login, process.execPath, args) : ([process.execPath, args] as const);
  if (variant === 'tsx')
    return (name, env) =>
      start(...argv(name, ['--import', TSX_LOADER, join(REPO_ROOT, 'src/movers', mover, `${name}.ts`)]), {
        cwd: REPO_ROOT,
        env: podEnv(env),
      });
  await bundleMovers(outdir, [mover]);
  return (name, env) => start(...argv(name, [join(outdir, mover, `${name}.mjs`)]), { env: podEnv(env) });
}

/** One launcher per variant. */
export async function moverLaunchers(
  mover: Mover,
  variants: readonly Variant[],
  outdir: string,
  login?: PodLogin,
): Promise<Record<Variant, Launcher>> {
  const launchers: Partial<Record<Variant, Launcher>> = {};
  for (const variant of variants) launchers[variant] = await moverLauncher(mover, variant, outdir, login);
  return launchers as Record<Variant, Launcher>;
}

/**
 * Spawn to exit of the source entrypoint given `env` that stops it at its configuration check,
 * three times: node and module loading, no work. Throws when it does not stop there.
 */
export async function measureStartup(
  launch: Launcher,
  env: Record<string, string>,
  variant: Variant,
  log: (line: string) => void,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const proc = launch('source', env);
    await proc.exited;
    if (!/configuration error/.test(proc.output)) throw new Error(`start-up probe did not stop:\n${proc.output}`);
    times.push(proc.wallMs);
  }
  log(`${variant} entrypoint start-up (stops at a configuration error): ${seconds(median(times))}`);
  return times;
}
