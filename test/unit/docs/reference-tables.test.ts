/**
 * The chart's values and the operator's flags are documented once, in docs/installation.md's two
 * tables; this test keeps those tables true: every value in helm/scribe/values.yaml and every
 * flag of `scribe operator` has a row, and every row names a value or flag that exists.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { operatorCommand } from '../../../src/main.js';

const root = join(import.meta.dirname, '../../..');

/** The first cells of the Markdown table under `heading` (up to the next heading). */
async function firstCells(heading: string): Promise<string[]> {
  const text = await readFile(join(root, 'docs/installation.md'), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  expect(start, `heading ${heading}`).toBeGreaterThan(-1);
  const section = text.slice(start + heading.length + 2).split(/\n#{1,6} /)[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---'))
    .slice(1) // the header row
    .map((line) => line.split(' | ')[0] ?? '');
}

/**
 * The value paths a row's first cell names: `a.b`, `a.b`, `.c` (a sibling of the previous path),
 * `a.{b,c}`, and `a`, `b` (`.x`, `.y`) (each of a and b, as a whole).
 */
function documentedPaths(cell: string): string[] {
  const withoutSuffixes = cell.replace(/\(([^)]*)\)/g, '');
  const paths: string[] = [];
  let previous = '';
  for (const [, token = ''] of withoutSuffixes.matchAll(/`([^`]+)`/g)) {
    const braces = /^(.*)\.\{(.+)\}$/.exec(token);
    if (braces) {
      for (const leaf of (braces[2] ?? '').split(',')) paths.push(`${braces[1]}.${leaf.trim()}`);
      continue;
    }
    const path = token.startsWith('.') ? `${previous.slice(0, previous.lastIndexOf('.'))}${token}` : token;
    paths.push(path);
    previous = path;
  }
  return paths;
}

/** Every key path of a values tree, maps included, e.g. `metrics`, `metrics.tls`, `metrics.tls.caKey`. */
function keyPaths(tree: unknown, prefix = ''): string[] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return [];
  return Object.entries(tree).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...keyPaths(value, path)];
  });
}

describe('docs/installation.md’s reference tables', () => {
  it('reads the shorthand of a row’s first cell', () => {
    expect(documentedPaths('`grafanaDashboard.namespace`, `.labels`, `.annotations`')).toEqual([
      'grafanaDashboard.namespace',
      'grafanaDashboard.labels',
      'grafanaDashboard.annotations',
    ]);
    expect(documentedPaths('`rsync`, `rclone` (`.repository`, `.tag`)')).toEqual(['rsync', 'rclone']);
    expect(documentedPaths('`serviceAccount.{create,name}`')).toEqual(['serviceAccount.create', 'serviceAccount.name']);
  });

  it('has a row for every chart value, and only for values that exist', async () => {
    const values = parse(await readFile(join(root, 'helm/scribe/values.yaml'), 'utf8')) as object;
    const existing = new Set(keyPaths(values));
    const documented = (await firstCells('### Chart values')).flatMap(documentedPaths);
    expect(documented.filter((path) => !existing.has(path))).toEqual([]);
    // A value is covered by its own row or by a row for a map that holds it.
    const covered = (path: string): boolean =>
      documented.some((row) => path === row || path.startsWith(`${row}.`)) ||
      // A map whose every key has a row needs none of its own.
      ([...existing].some((other) => other.startsWith(`${path}.`)) &&
        [...existing].filter((other) => other.startsWith(`${path}.`)).every((child) => covered(child)));
    expect([...existing].filter((path) => !covered(path))).toEqual([]);
  });

  it('has a row for every flag of scribe operator, and only for flags that exist', async () => {
    const flags = operatorCommand().options.map((option) => option.long ?? '');
    const documented = (await firstCells("### The operator's flags")).flatMap((cell) =>
      [...cell.matchAll(/`(--[a-z-]+)/g)].map((match) => match[1] ?? ''),
    );
    expect(documented.filter((flag) => !flags.includes(flag))).toEqual([]);
    expect(flags.filter((flag) => !documented.includes(flag))).toEqual([]);
  });
});
