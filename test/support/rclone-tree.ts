/**
 * Comparing a tree that went through rclone with the original: equal but for mtimes, which the
 * rclone mover restores to about the microsecond (float seconds through Node's utimes), so each
 * is allowed 2 µs either way (cutting both to whole microseconds can still differ by one).
 */
import { expect } from 'vitest';
import type { snapshotTree } from '../movers/rsync/support/tree.js';

type Tree = ReturnType<typeof snapshotTree>;

/** Expects `actual` to be an rclone copy of `expected`. */
export function expectRcloneCopy(actual: Tree, expected: Tree): void {
  const withoutTimes = (tree: Tree) =>
    Object.fromEntries(Object.entries(tree).map(([path, { mtimeNs: _mtime, ...rest }]) => [path, rest]));
  expect(withoutTimes(actual)).toEqual(withoutTimes(expected));
  const offBy = (path: string) => {
    const [a, e] = [actual[path]?.mtimeNs, expected[path]?.mtimeNs];
    return a === undefined || e === undefined ? 0n : BigInt(a) - BigInt(e);
  };
  const off = Object.keys(expected).filter((path) => offBy(path) > 2000n || offBy(path) < -2000n);
  expect(off.map((path) => `${path}: ${offBy(path)} ns`)).toEqual([]);
}
