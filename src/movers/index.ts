/** Every mover the operator runs, in one catalog (each mover in its own folder). */
import type { MoverRuntime } from './catalog.js';
import { rcloneMover } from './rclone/mover.js';
import { resticMover } from './restic/mover.js';
import { rsyncMover } from './rsync/mover.js';

export const MOVERS: MoverRuntime[] = [rsyncMover, rcloneMover, resticMover];
