/**
 * The image's operator: `npm run build` bundles it into dist/operator.mjs (src/cli/bundle.ts)
 * and bin/scribe runs that file when it exists. Built here into an empty
 * directory with only bin/scribe next to it — no node_modules, no sources — and run against the
 * shared API server, so a dependency the bundle misses or a broken flags file fails this test.
 */
import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { bundleOperator } from '../../../src/cli/bundle.js';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, objectPath, RESOURCES } from '../../../src/kube/resources.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../../../src/local/processes.js';
import { repoRoot } from '../../../src/local/tools.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

interface Condition {
  type: string;
  reason?: string;
}

describe('the bundled operator', () => {
  const kc = testKubeConfig();
  let operator: ManagedProcess | undefined;
  afterEach(async () => {
    await operator?.kill();
  });

  it('runs from dist/operator.mjs alone and reconciles', async () => {
    const app = await mkdtemp(join(tmpdir(), 'scribe-bundle-'));
    await mkdir(join(app, 'bin'));
    await copyFile(join(repoRoot(), 'bin', 'scribe'), join(app, 'bin', 'scribe'));
    await bundleOperator(join(app, 'dist', 'operator.mjs'));
    // What keeps its memory at start low (src/cli/bundle.ts): one-byte source, none of
    // client-node's generated models, whatwg-url's tables or the chart's layout engine.
    const source = await readFile(join(app, 'dist', 'operator.mjs'), 'utf8');
    expect([...source].find((char) => char.charCodeAt(0) > 0x7f)).toBeUndefined();
    for (const absent of ['V1PersistentVolumeClaimSpec', 'mappingTable', 'org.eclipse.elk'])
      expect(source, absent).not.toContain(absent);

    const namespace = await testNamespace(kc, 'bundle');
    const health = await freePort();
    operator = startProcess(
      'bundled-operator',
      join(app, 'bin', 'scribe'),
      [
        'operator',
        `--kubeconfig=${inject('kubeconfig')}`,
        `--namespace=${namespace}`,
        `--health-probe-bind-address=127.0.0.1:${health}`,
      ],
      join(app, 'operator.log'),
    );
    const log = () => readFile(join(app, 'operator.log'), 'utf8').catch(() => '');
    await waitFor(
      'the bundled operator ready',
      async () => (await fetch(`http://127.0.0.1:${health}/readyz`).catch(() => undefined))?.status === 200,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\noperator log:\n${await log()}`);
    });
    // bin/scribe execs node (setpriv → bash → node, one pid): the bundle is what runs.
    const cmdline = (await readFile(`/proc/${operator.child.pid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline[1]).toBe(join(app, 'dist', 'operator.mjs'));

    // A source whose PVC does not exist yet: the operator waits for it and says so (decision 3).
    await kubeRequest(kc, {
      method: 'POST',
      path: collectionPath(RESOURCES.ReplicationSource, namespace),
      body: {
        apiVersion: 'scribe.backube/v1alpha1',
        kind: 'ReplicationSource',
        metadata: { name: 'bundled' },
        spec: {
          sourcePVC: 'data',
          trigger: { manual: 'once' },
          rsync: { copyMethod: 'None', address: 'nowhere', sshKeys: 'keys' },
        },
      },
    });
    const synchronizing = async () =>
      (
        await kubeRequest<{ status?: { conditions?: Condition[] } }>(kc, {
          method: 'GET',
          path: objectPath(RESOURCES.ReplicationSource, namespace, 'bundled'),
        })
      ).status?.conditions?.find((c) => c.type === 'Synchronizing');
    await waitFor('a Synchronizing condition', async () => (await synchronizing()) !== undefined).catch(
      async (error: Error) => {
        throw new Error(`${error.message}\noperator log:\n${await log()}`);
      },
    );
    expect(await synchronizing()).toMatchObject({ reason: 'WaitingForPVC' });
  });
});
