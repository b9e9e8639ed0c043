/** Kubernetes resource quantities ("10Gi", "1500M", "1e3") as whole numbers, for the local agent. */
import { quantityBytes } from '../../../machines/validate.js';

/** The value of a quantity, rounded up to a whole number; undefined when it does not parse. */
export function quantityToNumber(quantity: string | number | undefined): number | undefined {
  const value = quantityBytes(quantity);
  return value === undefined ? undefined : Math.ceil(value);
}
