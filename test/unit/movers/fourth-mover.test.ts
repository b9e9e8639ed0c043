/**
 * Issue 22's must-show, without a cluster: a fourth mover defined only in a test folder
 * (test/movers/copy, which copies with `cp -a`) joins by adding its one module to the catalog.
 * The CRD schema takes its section, the machine runs it and refuses what its `validate` says,
 * its builder makes its Job, and its entrypoint runs through `scribe mover`'s command map and
 * the shared mover runtime. test/integration/api/fourth-mover.test.ts does the same against a
 * real API server and the controller.
 */
import { spawnSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScribeCr } from '../../../machines/api.js';
import { step } from '../../../machines/step.js';
import { kindDefinitions, MOVER_SCHEMAS, replicationSourceSpec } from '../../../src/api/index.js';
import { catalogWith } from '../../../src/movers/index.js';
import { copy } from '../../movers/copy/index.js';
import { owned, T0 } from '../machines/fixtures.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const catalog = catalogWith(copy);
const schemas = catalog.map((m) => m.schemas);

/** A ReplicationSource of the copy mover (the API's types know the shipped movers only). */
function copySource(store = 'store'): ScribeCr {
  const cr = {
    apiVersion: 'scribe.backube/v1alpha1',
    kind: 'ReplicationSource',
    metadata: { name: 'db', namespace: 'ns', uid: 'uid-copy', generation: 1 },
    spec: { sourcePVC: 'data', copy: { copyMethod: 'None', store } },
  };
  return cr as unknown as ScribeCr;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('a fourth mover added to the catalog', () => {
  it('gets its section and its place in the CRD rule', () => {
    const [source] = kindDefinitions(schemas);
    const spec = source?.spec as unknown as {
      properties: Record<string, unknown>;
      'x-kubernetes-validations': object[];
    };
    expect(Object.keys(spec.properties)).toContain('copy');
    expect(spec['x-kubernetes-validations'][0]).toMatchObject({
      rule: '[has(self.rsync), has(self.rclone), has(self.restic), has(self.copy), has(self.external)].filter(x, x).size() == 1',
    });
    const section = (spec.properties.copy ?? {}) as { required?: string[]; properties?: Record<string, unknown> };
    expect(section.required).toEqual(expect.arrayContaining(['copyMethod', 'store']));
    expect(Object.keys(section.properties ?? {})).toEqual(expect.arrayContaining(['store', 'moverPodLabels']));
    // The shipped API has no such section.
    expect(Object.keys(replicationSourceSpec(MOVER_SCHEMAS).properties)).not.toContain('copy');
  });

  it('is run by the machine, which knows no mover by name', () => {
    const r = step(copySource(), { now: T0, owned: owned() });
    expect(r.actions).toContainEqual(expect.objectContaining({ type: 'ensureMover', mover: 'copy', volume: 'data' }));
  });

  it('is refused as its validate says, naming the field', () => {
    const cr = copySource('data');
    expect(copy.validate(cr)).toEqual([{ field: 'spec.copy.store', message: expect.stringMatching(/another PVC/) }]);
    const r = step(cr, { now: T0, owned: owned({ mover: { phase: 'absent', problems: copy.validate(cr) } }) });
    expect(r.state).toBe('invalid');
    expect(r.actions.some((a) => a.type === 'ensureMover')).toBe(false);
  });

  it('builds its Job: `scribe mover copy-source` with the store mounted', () => {
    const plan = copy.build(copySource(), { cycleId: '1-20260101000000', attempt: 0, volume: 'data' }, {});
    const job = plan.objects[0] as unknown as {
      metadata: { name: string };
      spec: {
        template: { spec: { containers: Array<{ command: string[] }>; volumes: Array<Record<string, unknown>> } };
      };
    };
    expect(job.metadata.name).toBe('scribe-copy-src-db');
    expect(job.spec.template.spec.containers[0]?.command.slice(1)).toEqual(['mover', 'copy-source']);
    expect(job.spec.template.spec.volumes).toContainEqual({
      name: 'store',
      persistentVolumeClaim: { claimName: 'store' },
    });
    expect(plan.temporary).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: 'scribe-copy-src-db' }]);
  });

  /** Runs `scribe mover <name>` of the catalog with copy (test/movers/copy/cli.ts). */
  function runMover(name: string, env: Record<string, string>) {
    return spawnSync(
      process.execPath,
      ['--import', join(root, 'node_modules/tsx/dist/loader.mjs'), join(root, 'test/movers/copy/cli.ts'), name],
      { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 },
    );
  }

  it('runs its entrypoints through the command map and the shared runtime: cp -a there and back', () => {
    const work = mkdtempSync(join(tmpdir(), 'scribe-copy-'));
    dirs.push(work);
    for (const dir of ['volume/sub', 'store', 'restored']) mkdirSync(join(work, dir), { recursive: true });
    writeFileSync(join(work, 'volume/sub/file'), 'data\n', { mode: 0o640 });
    symlinkSync('sub/file', join(work, 'volume/link'));
    const termination = join(work, 'termination');
    const sent = runMover('copy-source', {
      SCRIBE_DATA_DIR: join(work, 'volume'),
      SCRIBE_STORE_DIR: join(work, 'store'),
      SCRIBE_TERMINATION_LOG: termination,
    });
    expect(sent.status, sent.stderr).toBe(0);
    expect(readFileSync(termination, 'utf8')).toMatch(/scribe copy source: result: copied; exit code 0$/);
    const received = runMover('copy-destination', {
      SCRIBE_DATA_DIR: join(work, 'restored'),
      SCRIBE_STORE_DIR: join(work, 'store'),
      SCRIBE_TERMINATION_LOG: termination,
    });
    expect(received.status, received.stderr).toBe(0);
    expect(readFileSync(join(work, 'restored/sub/file'), 'utf8')).toBe('data\n');
    expect(lstatSync(join(work, 'restored/sub/file')).mode & 0o777).toBe(0o640);
    expect(readlinkSync(join(work, 'restored/link'))).toBe('sub/file');
  });

  it("fails with cp's error in its summary, and `scribe mover` knows no other name", () => {
    const work = mkdtempSync(join(tmpdir(), 'scribe-copy-'));
    dirs.push(work);
    const termination = join(work, 'termination');
    const failed = runMover('copy-source', {
      SCRIBE_DATA_DIR: join(work, 'missing'),
      SCRIBE_STORE_DIR: work,
      SCRIBE_TERMINATION_LOG: termination,
    });
    expect(failed.status).toBe(1);
    expect(readFileSync(termination, 'utf8')).toMatch(/^cp: .*missing.*No such file or directory$/m);
    expect(copy.explainExit(1)).toMatch(/cp -a failed/);
    const unknown = runMover('copy-sideways', {});
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('copy-source, copy-destination');
  });
});
