import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../src/local/tools.js';
import { createIn, readDocuments } from '../../support/apply.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.yaml'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

const examplesDir = join(repoRoot(), 'examples');
const files = await yamlFiles(examplesDir);

describe('examples/', () => {
  it('holds the seed examples', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  it.each(files.map((file) => [relative(examplesDir, file), file]))(
    '%s is accepted by the API server',
    async (_, file) => {
      const kc = testKubeConfig();
      const namespace = await testNamespace(kc, 'example');
      const documents = await readDocuments(file);
      expect(documents.length).toBeGreaterThan(0);
      for (const document of documents) {
        const created = await createIn(kc, namespace, document);
        expect(created.metadata?.uid).toBeTruthy();
        expect(created.kind).toBe(document.kind);
      }
    },
  );
});
