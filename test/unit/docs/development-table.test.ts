/**
 * The README's development section and docs/development.md name npm scripts and test projects;
 * this test keeps them true: every `npm run X` of the docs is a script of package.json, every
 * project they name (tables and `--project X`) is one of vitest.config.ts with the folders it
 * really includes, and the README's table lists every project.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import vitestConfig from '../../../vitest.config.js';
import { readRepoFile, root, section, tableRows } from './markdown.js';

interface Project {
  test: { name: string; include: string[] };
}

const projects = (vitestConfig.test?.projects ?? []) as Project[];

/** README.md and every page of docs/. */
async function markdownFiles(): Promise<string[]> {
  const docs = (await readdir(join(root, 'docs'))).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`);
  return ['README.md', ...docs];
}

/** The script names after `npm run` in code spans and blocks (`npm test` is the script `test`). */
function npmScripts(text: string): string[] {
  return [
    ...[...text.matchAll(/npm run ([a-z][\w:-]*)/g)].map((match) => match[1] ?? ''),
    ...[...text.matchAll(/npm test\b/g)].map(() => 'test'),
  ];
}

/** The folders `test/x` a project's include globs `test/x/**\/*.test.ts` cover. */
function includedFolders(project: Project): string[] {
  return project.test.include.map((glob) => glob.replace(/\/\*\*\/\*\.test\.ts$/, ''));
}

describe('the README', () => {
  it('opens with the quick start: set up and run the demo, set up and run the tests', async () => {
    const readme = await readRepoFile('README.md');
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme);
    expect(readme.slice(0, firstBlock?.index).split('\n').filter(Boolean).length).toBeLessThanOrEqual(2);
    const commands = (firstBlock?.[1] ?? '').split('\n').map((line) => line.replace(/\s+#.*$/, ''));
    expect(commands.filter(Boolean)).toEqual([
      'bash scripts/setup.sh && npm run demo',
      'bash scripts/setup.sh && npm test',
    ]);
    expect(existsSync(join(root, 'scripts/setup.sh'))).toBe(true);
  });
});

describe('the development table', () => {
  it('reads script names', () => {
    expect(npmScripts('`npm run demo -- --keep`, `npm run bench:smoke`, `npm test`')).toEqual([
      'demo',
      'bench:smoke',
      'test',
    ]);
  });

  it('names only npm scripts that package.json has', async () => {
    const { scripts } = JSON.parse(await readRepoFile('package.json')) as { scripts: Record<string, string> };
    const missing: string[] = [];
    for (const file of await markdownFiles()) {
      for (const script of npmScripts(await readRepoFile(file))) {
        if (!(script in scripts)) missing.push(`${file}: npm run ${script}`);
      }
    }
    expect(missing).toEqual([]);
    // The README's table itself names scripts, so a renamed one shows here.
    const readmeTable = section(await readRepoFile('README.md'), '## Development');
    expect(npmScripts(readmeTable).length).toBeGreaterThan(10);
  });

  it('names only test projects that vitest.config.ts has, with the folders they include', async () => {
    const names = projects.map((project) => project.test.name);
    expect(names.length).toBeGreaterThan(0);
    const readme = section(await readRepoFile('README.md'), '## Development');
    const readmeRows = tableRows(readme, 'project');
    expect(readmeRows.map((row) => row[0])).toEqual(names.map((name) => `\`${name}\``));
    for (const file of ['README.md', 'docs/development.md']) {
      const text = await readRepoFile(file);
      for (const [cell = '', folders = ''] of tableRows(text, 'project')) {
        const project = projects.find((candidate) => `\`${candidate.test.name}\`` === cell);
        expect(project, `${file}: project ${cell}`).toBeDefined();
        const documented = [...folders.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
        expect(documented, `${file}: folders of ${cell}`).toEqual(project ? includedFolders(project) : []);
      }
      for (const [, name] of text.matchAll(/--project ([a-z][\w-]*)/g)) {
        expect(names, `${file}: --project ${name}`).toContain(name);
      }
    }
  });
});
