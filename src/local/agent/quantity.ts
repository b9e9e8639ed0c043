/** Kubernetes resource quantities ("10Gi", "1500M", "1e3") as byte counts. */

const SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  m: 1e-3,
};

/** The value of a quantity, rounded up to a whole number; undefined when it does not parse. */
export function quantityToNumber(quantity: string | number | undefined): number | undefined {
  if (typeof quantity === 'number') return Math.ceil(quantity);
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(quantity?.trim() ?? '');
  if (!match) return undefined;
  const factor = SUFFIXES[match[2] ?? ''];
  if (factor === undefined) return undefined;
  return Math.ceil(Number(match[1]) * factor);
}
