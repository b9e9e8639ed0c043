/**
 * What the operator needs of a mover. A mover is pure (machines/mover.ts: builder + reader); some
 * need one impure step before their objects are created — generating SSH keys, say — which
 * `materialize` performs in the effects adapter.
 */
import type { ScribeCr } from '../../machines/api.js';
import type { KubeObject, Mover } from '../../machines/mover.js';
import type { FieldError } from '../../machines/validate.js';

/** A mover as the operator runs it. */
export interface MoverRuntime extends Mover {
  /**
   * Whether the CR's mover waits for a peer (an rsync destination listening for its source): its
   * silence is waiting, not a stall, so its output is not watched (controller/mover-output.ts).
   */
  waitsForPeer?(cr: ScribeCr): boolean;
  /**
   * Rules of the CR's mover section the CRD cannot say, each naming its field; the operator hands
   * them to the machine with the problems the mover's objects reveal (ObservedMover.problems).
   */
  validate?(cr: ScribeCr): FieldError[];
  /** Fills in what a pure builder cannot make (random keys); called only for objects about to be created. */
  materialize?(objects: KubeObject[]): Promise<KubeObject[]>;
}
