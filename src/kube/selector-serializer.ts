/**
 * What the operator's bundle gives client-node's ListWatch in place of its ObjectSerializer
 * (src/cli/bundle.ts): ListWatch only passes label and field selectors, already strings, through
 * `ObjectSerializer.serialize(selector, 'string')`, which returns a string unchanged.
 */
export const ObjectSerializer = {
  serialize(value: unknown, type: string): unknown {
    if (type !== 'string') throw new Error(`the operator's bundle serializes only strings, not ${type}`);
    return value;
  },
};
