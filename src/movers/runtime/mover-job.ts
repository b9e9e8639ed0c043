/**
 * What every mover's descriptor says alike about its one Job (pure): the Job as a temporary
 * object of the cycle, a failed run's message led by the field to fix, and a pod that cannot
 * start for want of a Secret as a problem of the field naming it.
 */
import type { ObjectRef } from '../../../machines/mover.js';
import type { ObservedMover } from '../../../machines/observation.js';

/** A spec field to fix, and why. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The mover Job `name` as an object the cycle makes and removes. */
export function moverJobRef(name: string): ObjectRef {
  return { apiVersion: 'batch/v1', kind: 'Job', name };
}

/**
 * A failed mover as `explain` reads it: its message led by the field to fix, when the output
 * tells which; anything else as observed.
 */
export function withExplainedFailure(
  observed: ObservedMover,
  explain: (failed: ObservedMover) => FieldProblem | undefined,
): ObservedMover {
  if (observed.phase !== 'failed') return observed;
  const explained = explain(observed);
  return explained
    ? { ...observed, message: `${explained.field}: ${explained.message} (${observed.message})` }
    : observed;
}

/**
 * The kubelet's CreateContainerConfigError message as a problem of `field` when it is about
 * the Secret `secret` that field names (the Secret does not exist).
 */
export function missingSecret(field: string, secret: string): (message: string) => FieldProblem[] {
  return (message) =>
    message.includes(secret) ? [{ field, message: `Secret "${secret}" does not exist (${message})` }] : [];
}
