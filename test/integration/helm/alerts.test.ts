/**
 * The chart's alert rules under `promtool test rules` (test/alerts/*.test.yaml): the
 * PrometheusRule is rendered with helm and its groups written as a Prometheus rule file.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { repoRoot } from '../../../src/local/tools.js';
import { renderChart } from '../metrics/support.js';

const run = promisify(execFile);
const ALERT_TESTS = join(repoRoot(), 'test', 'alerts');

describe('alert rules', () => {
  it('pass promtool check rules and promtool test rules', async () => {
    const [rule] = (
      await renderChart(['--show-only', 'templates/prometheusrule.yaml', '--set', 'alerts.force=true', '--set', 'alerts.recoveryPointObjectiveSeconds=3600'])
    ).filter((object) => object.kind === 'PrometheusRule') as { spec: { groups: unknown[] } }[];
    expect(rule?.spec.groups.length).toBeGreaterThan(0);
    const dir = await mkdtemp(join(tmpdir(), 'scribe-alerts-'));
    try {
      await writeFile(join(dir, 'scribe-rules.yaml'), stringify({ groups: rule?.spec.groups }));
      await run('promtool', ['check', 'rules', join(dir, 'scribe-rules.yaml')]);
      const tests = (await readdir(ALERT_TESTS)).filter((file) => file.endsWith('.test.yaml'));
      expect(tests.length).toBeGreaterThan(0);
      for (const file of tests) await copyFile(join(ALERT_TESTS, file), join(dir, file));
      const result = await run('promtool', ['test', 'rules', ...tests.map((file) => join(dir, file))]).catch(
        (error: { stdout?: string; stderr?: string }) => {
          throw new Error(`promtool test rules failed:\n${error.stdout}\n${error.stderr}`);
        },
      );
      expect(result.stdout).toContain('SUCCESS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
