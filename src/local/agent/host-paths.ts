/**
 * The host paths a pod may mount on this node. The agent runs pods as root on the developer's
 * machine: a hostPath volume (or a PV whose hostPath a claim binds) outside the allowed
 * directories is refused, as a PodSecurityPolicy's allowedHostPaths refused it, with the
 * waiting reason CreateContainerConfigError. By default only the provisioner's volumes (the
 * node's `<dataDir>/volumes`) are allowed: the runtime itself needs nothing else.
 */
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from './env.js';
import { pathWithinBase } from './subpath.js';

/** The allowed list when the node is given none: the directory the provisioner makes PVs in. */
export function defaultAllowedHostPaths(dataDir: string): string[] {
  return [join(resolve(dataDir), 'volumes')];
}

/** `path` with its existing part's symlinks resolved (the rest, still to be created, as written). */
async function realPathOf(path: string): Promise<string> {
  const missing: string[] = [];
  let existing = resolve(path);
  for (;;) {
    const found = await lstat(existing).then(
      () => true,
      () => false,
    );
    if (found) return join(await realpath(existing), ...missing.reverse());
    const parent = dirname(existing);
    if (parent === existing) return join(existing, ...missing.reverse());
    missing.push(basename(existing));
    existing = parent;
  }
}

/**
 * Refuses `path` unless it is inside one of `allowed` both as written and with its symlinks
 * resolved (a symlink a container planted in an allowed directory leads nowhere else).
 */
export async function checkHostPath(path: string, allowed: readonly string[], volumeName: string): Promise<void> {
  const written = resolve(path);
  const real = await realPathOf(written);
  const roots = await Promise.all(allowed.map(async (root) => [resolve(root), await realPathOf(root)] as const));
  const inside = roots.some(([root, realRoot]) => pathWithinBase(written, root) && pathWithinBase(real, realRoot));
  if (!inside) {
    const list = allowed.length ? allowed.join(', ') : 'none';
    throw new ConfigError(
      `volume "${volumeName}": hostPath "${path}" is not allowed on this node (allowed host paths: ${list})`,
    );
  }
}
