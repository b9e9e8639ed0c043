/** The copy mover's destination: the store into the volume. */
import { runCopy } from './run.js';

await runCopy('destination');
