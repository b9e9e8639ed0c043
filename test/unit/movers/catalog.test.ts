/**
 * Issue 22: each mover is one module and everything else comes from the catalog: the CRDs'
 * mover sections and "exactly one mover" rule, `scribe mover`'s entrypoints, the image's bundles,
 * bin/scribe. No mover folder imports from another's, and no mover spec is cast away.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NON_MOVER_SPEC_FIELDS } from '../../../machines/mover.js';
import { KINDS, MOVER_SCHEMAS } from '../../../src/api/index.js';
import { MOVER_ENTRYPOINTS } from '../../../src/cli/bundle.js';
import { catalogWith, MOVERS, moverCommands } from '../../../src/movers/index.js';
import { copy } from '../../movers/copy/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const kinds = MOVERS.map((m) => m.kind);

/** Every .ts file under `dir`. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tsFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the mover catalog', () => {
  it('ships rsync, rclone and restic, each with the schemas of its own kind', () => {
    expect(kinds).toEqual(['rsync', 'rclone', 'restic']);
    expect(MOVERS.map((m) => m.schemas.kind)).toEqual(kinds);
    expect(MOVER_SCHEMAS.map((s) => s.kind)).toEqual(kinds);
  });

  it("gives the CRDs a section per mover and an 'exactly one mover' rule naming them all", () => {
    for (const definition of KINDS) {
      const spec = definition.spec as unknown as {
        properties: Record<string, unknown>;
        'x-kubernetes-validations': Array<{ rule: string; message: string }>;
      };
      for (const kind of kinds) expect(Object.keys(spec.properties)).toContain(kind);
      const [rule] = spec['x-kubernetes-validations'];
      expect(rule).toEqual({
        rule: '[has(self.rsync), has(self.rclone), has(self.restic), has(self.external)].filter(x, x).size() == 1',
        message: 'exactly one of spec.rsync, spec.rclone, spec.restic or spec.external must be set',
      });
      // What the machines take for a mover's section is everything else (machines/mover.ts).
      const common = Object.keys(spec.properties).filter((field) => !kinds.includes(field));
      expect(NON_MOVER_SPEC_FIELDS).toEqual(expect.arrayContaining(common));
    }
  });

  it("gives `scribe mover` each mover's two entrypoints, whose modules exist", () => {
    const commands = moverCommands();
    expect(Object.keys(commands)).toEqual(kinds.flatMap((k) => [`${k}-source`, `${k}-destination`]));
    for (const url of Object.values(commands)) {
      const file = fileURLToPath(url).replace(/\.js$/, '.ts');
      expect(statSync(file).isFile(), file).toBe(true);
    }
  });

  it('gives the image a bundle per entrypoint, and bin/scribe runs any of them', () => {
    expect(MOVER_ENTRYPOINTS).toEqual({
      rsync: ['source', 'destination', 'session'],
      rclone: ['source', 'destination'],
      restic: ['source', 'destination'],
    });
    const pattern = /=~ \^\(([^)]*)\)-\(source\|destination\)\$/.exec(readFileSync(join(root, 'bin/scribe'), 'utf8'));
    const name = new RegExp(`^${pattern?.[1] ?? 'unreadable'}$`);
    for (const kind of [...kinds, copy.kind]) expect(kind).toMatch(name);
    expect('../x').not.toMatch(name);
  });

  it('takes a mover defined elsewhere only under a new, lower-case kind that is no spec field', () => {
    expect(catalogWith(copy).map((m) => m.kind)).toEqual([...kinds, 'copy']);
    expect(MOVERS.map((m) => m.kind)).toEqual(kinds);
    expect(() => catalogWith(copy, copy)).toThrow(/"copy" is taken/);
    expect(() => catalogWith({ ...copy, kind: 'trigger', schemas: { ...copy.schemas, kind: 'trigger' } })).toThrow(
      /spec field/,
    );
    expect(() => catalogWith({ ...copy, kind: 'Copy' })).toThrow(/lower-case/);
  });

  it("no mover folder imports from another mover's folder", () => {
    for (const kind of kinds) {
      for (const file of tsFiles(join(root, 'src/movers', kind))) {
        const imports = [...readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1] ?? '');
        const others = imports.filter((path) => kinds.some((other) => other !== kind && path.includes(`/${other}/`)));
        expect(others, file).toEqual([]);
      }
    }
  });

  it('no mover spec is cast to Record<string, unknown> in src/ or machines/', () => {
    const casts = [...tsFiles(join(root, 'src')), ...tsFiles(join(root, 'machines'))].flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => /spec\b[^;]*as Record<string, unknown>/.test(line))
        .map((line) => `${file}: ${line.trim()}`),
    );
    expect(casts).toEqual([]);
  });
});
