/** The restic mover as one module: its descriptor (src/movers/descriptor.ts). */
import type { MoverDescriptor } from '../descriptor.js';
import { explainResticExit, resticMover } from './mover.js';
import { jobName } from './names.js';
import { RESTIC_SCHEMAS } from './options.js';
import { RESTIC_SUMMARY } from './summary.js';

/** restic backups: the source backs the volume up into a repository, the destination restores it. */
export const restic: MoverDescriptor = {
  ...resticMover,
  schemas: RESTIC_SCHEMAS,
  // Every rule of spec.restic is the CRD's.
  validate: () => [],
  names: { job: jobName },
  entrypoints: {
    source: new URL('./source.js', import.meta.url).href,
    destination: new URL('./destination.js', import.meta.url).href,
  },
  bundled: ['source', 'destination'],
  summary: RESTIC_SUMMARY,
  explainExit: explainResticExit,
};
