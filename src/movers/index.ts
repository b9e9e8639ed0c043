/** Every mover the operator runs, in one catalog (each mover in its own folder). */
import type { MoverRuntime } from './catalog.js';
import { rsyncMover } from './rsync/mover.js';

export const MOVERS: MoverRuntime[] = [rsyncMover];
