/**
 * Decision 16 at `kubectl apply`: every rsync topology either moves data from the source's
 * volume to the destination's, or is refused with a message naming spec.rsync.address. The
 * accepted topology (a connecting source, a listening destination) moving real bytes is
 * test/e2e/rsync.test.ts; this file applies the two reverse ones with the real kubectl and checks
 * that they are refused and that the source's volume is untouched.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { toolDir } from '../../src/local/tools.js';
import { createPvc, e2eKubeConfig, e2eNamespace, get, pvcDirectory } from '../support/e2e.js';

const run = promisify(execFile);

/** `kubectl apply -f -` of one object; its exit code and what it printed. */
async function kubectlApply(namespace: string, object: object): Promise<{ code: number; output: string }> {
  const kubectl = join(await toolDir('kubernetes'), 'kubectl');
  const child = run(kubectl, ['--kubeconfig', inject('e2eKubeconfig'), '-n', namespace, 'apply', '-f', '-']);
  child.child.stdin?.end(stringify(object));
  return child.then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? -1,
      output: (e.stdout ?? '') + (e.stderr ?? ''),
    }),
  );
}

const TOPOLOGIES = [
  {
    name: 'a ReplicationSource without an address (it would listen and receive into its own volume)',
    kind: 'ReplicationSource',
    spec: { sourcePVC: 'data', trigger: { manual: 'once' }, rsync: { copyMethod: 'None', sshKeys: 'keys' } },
    refusal: /spec\.rsync\.address is required: a ReplicationSource only sends/,
  },
  {
    name: 'a ReplicationDestination with an address (it would connect and push its volume out)',
    kind: 'ReplicationDestination',
    spec: {
      trigger: { manual: 'once' },
      rsync: { copyMethod: 'None', destinationPVC: 'data', address: '127.0.0.1', sshKeys: 'keys' },
    },
    refusal: /spec\.rsync\.address is not allowed: a ReplicationDestination only receives/,
  },
] as const;

describe('decision 16: rsync topologies that would move data the wrong way are refused at kubectl apply', () => {
  it.each(TOPOLOGIES)('$name', async ({ kind, spec, refusal }) => {
    const kc = e2eKubeConfig();
    const namespace = await e2eNamespace(kc, 'topology');
    await createPvc(kc, namespace, 'data');
    const dir = await pvcDirectory(kc, namespace, 'data');
    await writeFile(join(dir, 'precious'), 'the user data\n');

    const applied = await kubectlApply(namespace, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind,
      metadata: { name: 'wrong-way' },
      spec,
    });
    expect(applied.code, applied.output).not.toBe(0);
    expect(applied.output).toMatch(refusal);
    expect(await get(kc, kind, namespace, 'wrong-way')).toBeUndefined();
    expect(await readdir(dir)).toEqual(['precious']);
    expect(await readFile(join(dir, 'precious'), 'utf8')).toBe('the user data\n');
  });
});
