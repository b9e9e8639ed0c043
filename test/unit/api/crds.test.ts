import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCrdFiles } from '../../../src/api/render.js';
import { toStructural } from '../../../src/api/crd.js';
import { repoRoot } from '../../../src/local/tools.js';

describe('generated CRDs', () => {
  it.each(renderCrdFiles())('%s matches src/api (run `npm run crds` after changing the API)', async (path, text) => {
    const onDisk = await readFile(join(repoRoot(), path), 'utf8');
    expect(onDisk).toBe(text);
  });

  it('turns TypeBox records into additionalProperties and drops TypeBox keys', () => {
    const schema = toStructural({
      type: 'object',
      $id: 'x',
      patternProperties: { '^(.*)$': { type: 'string' } },
      properties: {},
      required: [],
    });
    expect(schema).toEqual({ type: 'object', properties: {}, additionalProperties: { type: 'string' } });
  });
});
