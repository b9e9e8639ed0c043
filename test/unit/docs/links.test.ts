/**
 * Every relative link of README.md and docs/ leads somewhere: to a file of the repository and,
 * for `page.md#anchor`, to a heading of that page (GitHub's anchors).
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchors, linkTargets, readRepoFile, root, slug } from './markdown.js';

describe('links in README.md and docs/', () => {
  it('reads GitHub anchors and links', async () => {
    expect(slug("The operator's flags")).toBe('the-operators-flags');
    expect(slug('The local runtime: who authenticates to whom')).toBe('the-local-runtime-who-authenticates-to-whom');
    expect(slug('sync, status, inspect, dashboard')).toBe('sync-status-inspect-dashboard');
    expect(linkTargets('[a](b.md#c) `[x](y)` ![i](img.png)\n```\n[z](w)\n```')).toEqual(['b.md#c', 'img.png']);
  });

  it('resolve to a file and a heading', async () => {
    const docs = (await readdir(join(root, 'docs')))
      .filter((file) => file.endsWith('.md'))
      .map((file) => `docs/${file}`);
    const broken: string[] = [];
    let checked = 0;
    for (const file of ['README.md', ...docs]) {
      const text = await readRepoFile(file);
      for (const target of linkTargets(text)) {
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        checked += 1;
        const [path = '', anchor] = target.split('#');
        const linked = path ? relative(root, normalize(join(root, dirname(file), path))) : file;
        if (!existsSync(join(root, linked))) {
          broken.push(`${file}: ${target} (no file ${linked})`);
          continue;
        }
        if (anchor !== undefined && linked.endsWith('.md') && !anchors(await readRepoFile(linked)).has(anchor)) {
          broken.push(`${file}: ${target} (no heading #${anchor} in ${linked})`);
        }
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });
});
