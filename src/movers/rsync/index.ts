/** The rsync mover as one module: its descriptor (src/movers/descriptor.ts). */
import type { MoverDescriptor } from '../descriptor.js';
import { explainRsyncExit, rsyncMover } from './mover.js';
import { jobName } from './names.js';
import { RSYNC_SCHEMAS } from './options.js';
import { RSYNC_SUMMARY } from './summary.js';
import { validateRsync } from './validate.js';

/** rsync over ssh: the destination listens (sshd behind a Service), the source pushes. */
export const rsync: MoverDescriptor = {
  ...rsyncMover,
  schemas: RSYNC_SCHEMAS,
  validate: validateRsync,
  names: { job: jobName },
  entrypoints: {
    source: new URL('./source.js', import.meta.url).href,
    destination: new URL('./destination.js', import.meta.url).href,
  },
  // The destination's sshd runs the session entrypoint beside it for each connection.
  bundled: ['source', 'destination', 'session'],
  summary: RSYNC_SUMMARY,
  explainExit: explainRsyncExit,
};
