/** The copy mover's source: the volume into the store. */
import { runCopy } from './run.js';

await runCopy('source');
