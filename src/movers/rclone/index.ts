/** The rclone mover as one module: its descriptor (src/movers/descriptor.ts). */
import type { MoverDescriptor } from '../descriptor.js';
import { explainRcloneExit, rcloneMover } from './mover.js';
import { jobName } from './names.js';
import { RCLONE_SCHEMAS } from './options.js';
import { RCLONE_SUMMARY } from './summary.js';

/** rclone to and from object storage: the source syncs the volume up, the destination back down. */
export const rclone: MoverDescriptor = {
  ...rcloneMover,
  schemas: RCLONE_SCHEMAS,
  // Every rule of spec.rclone is the CRD's.
  validate: () => [],
  names: { job: jobName },
  entrypoints: {
    source: new URL('./source.js', import.meta.url).href,
    destination: new URL('./destination.js', import.meta.url).href,
  },
  bundled: ['source', 'destination'],
  summary: RCLONE_SUMMARY,
  explainExit: explainRcloneExit,
};
