/**
 * The catalog: every mover Scribe ships, each one module (src/movers/<name>/index.ts). The CRDs'
 * mover sections, the "exactly one mover" rule, `scribe mover`'s entrypoints, the image's
 * bundles and the operator's movers all come from here; adding a mover is adding its module to
 * this list (machines/README.md, "Adding a mover").
 */
import { NON_MOVER_SPEC_FIELDS } from '../../machines/mover.js';
import type { MoverDescriptor, MoverSide } from './descriptor.js';
import { rclone } from './rclone/index.js';
import { restic } from './restic/index.js';
import { rsync } from './rsync/index.js';

export type { MoverDescriptor, MoverSide } from './descriptor.js';

/** The movers Scribe ships. */
export const MOVERS: readonly MoverDescriptor[] = [rsync, rclone, restic];

/**
 * The catalog with `extra` movers added after the shipped ones: how a mover defined elsewhere
 * (a test's) joins without changing this one. A kind must be new, a lower-case name that is not
 * a common spec field.
 */
export function catalogWith(...extra: readonly MoverDescriptor[]): readonly MoverDescriptor[] {
  const catalog = [...MOVERS];
  for (const mover of extra) {
    if (!/^[a-z][a-z0-9]*$/.test(mover.kind)) throw new Error(`mover kind "${mover.kind}" is not a lower-case name`);
    if ((NON_MOVER_SPEC_FIELDS as readonly string[]).includes(mover.kind))
      throw new Error(`mover kind "${mover.kind}" is a spec field of its own`);
    if (catalog.some((m) => m.kind === mover.kind)) throw new Error(`mover kind "${mover.kind}" is taken`);
    if (mover.schemas.kind !== mover.kind)
      throw new Error(`mover "${mover.kind}" has the schemas of "${mover.schemas.kind}"`);
    catalog.push(mover);
  }
  return catalog;
}

/** `scribe mover <kind>-<side>`'s entrypoints of a catalog, by name: each one's module URL. */
export function moverCommands(catalog: readonly MoverDescriptor[] = MOVERS): Record<string, string> {
  const sides: MoverSide[] = ['source', 'destination'];
  return Object.fromEntries(catalog.flatMap((m) => sides.map((side) => [`${m.kind}-${side}`, m.entrypoints[side]])));
}
