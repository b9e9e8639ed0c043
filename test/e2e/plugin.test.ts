/**
 * The seed's plugin walkthroughs ("Rsync Database Plugin Example" and its cross-cluster variant)
 * end to end on the local system, run through the bundled kubectl-scribe file as a user would:
 * config.yaml in the working directory, the four commands, then sync, status and inspect.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import type { ScribeCr } from '../../machines/api.js';
import { STATES, WORKING_STATES } from '../../machines/context.js';
import { copySecret, listeningAddress } from '../../src/local/objects.js';
import { toolDir } from '../../src/local/tools.js';
import { MOVERS } from '../../src/movers/index.js';
import { MOVER_POD_LABEL } from '../../src/movers/job.js';
import { progressLine, REPORT_EVERY_LINES } from '../../src/movers/runtime/progress.js';
import { generateSshKeyPair } from '../../src/movers/rsync/keys.js';
import { EXIT_FAILURE, EXIT_TIMEOUT } from '../../src/plugin/errors.js';
import { describeProgress, readMoverProgress } from '../../src/plugin/mover-progress.js';
import { snapshotTree } from '../movers/rsync/support/tree.js';
import { crossClusterConfig } from '../../scripts/demo-clusters.js';
import {
  create,
  createPvc,
  e2eKubeConfig,
  e2eNamespace,
  get,
  patch,
  pvcDirectory,
  waitForObject,
  PRIVILEGED_MOVERS,
} from '../support/e2e.js';
import { buildPluginBundle, runPlugin, twoContextKubeconfig, type PluginRun } from '../support/plugin.js';

let bundle: string;

beforeAll(async () => {
  bundle = await buildPluginBundle();
});

async function writeSample(dir: string, generation: number) {
  await mkdir(join(dir, 'db', 'tables'), { recursive: true });
  await writeFile(join(dir, 'db', 'tables', 'users'), `users generation ${generation}\n`.repeat(2000));
  await writeFile(join(dir, 'db', 'VERSION'), `${generation}\n`);
}

/** A working directory holding config.yaml, and an empty HOME, for one walkthrough. */
async function workspace(config: string) {
  const cwd = await mkdtemp(join(tmpdir(), 'scribe-plugin-e2e-'));
  await writeFile(join(cwd, 'config.yaml'), config);
  await mkdir(join(cwd, 'home'));
  return cwd;
}

/** Runs the plugin and fails with its output when the exit code is not the expected one. */
async function plugin(cwd: string, env: NodeJS.ProcessEnv, args: string[], expectedCode = 0): Promise<PluginRun> {
  const run = await runPlugin(bundle, args, { cwd, env: { HOME: join(cwd, 'home'), ...env } });
  if (run.code !== expectedCode) {
    throw new Error(`kubectl-scribe ${args.join(' ')} exited ${run.code}\n${run.stdout}\n${run.stderr}`);
  }
  return run;
}

type Secret = KubernetesObject & { data?: Record<string, string> };

describe('kubectl-scribe on the local system', () => {
  it('runs the seed walkthrough from config.yaml: start, set (PVC from latestImage), continue, sync, status, inspect, remove', async () => {
    const kc = e2eKubeConfig();
    // The seed's walkthrough keeps owners: its movers run privileged (docs/permissions.md).
    const source = await e2eNamespace(kc, 'source', { annotations: PRIVILEGED_MOVERS });
    const dest = await e2eNamespace(kc, 'dest', { annotations: PRIVILEGED_MOVERS });
    await createPvc(kc, source, 'mysql-pv-claim');
    const sourceDir = await pvcDirectory(kc, source, 'mysql-pv-claim');
    await writeSample(sourceDir, 1);
    // The seed's config.yaml, with this test's namespaces.
    const cwd = await workspace(
      [
        'dest-access-mode: ReadWriteOnce',
        'dest-copy-method: Snapshot',
        `dest-namespace: ${dest}`,
        `source-namespace: ${source}`,
        'source-pvc: mysql-pv-claim',
        'source-copy-method: Snapshot',
      ].join('\n'),
    );
    const env = { KUBECONFIG: inject('e2eKubeconfig') };
    const rsName = `${source}-source`;
    const rdName = `${dest}-destination`;

    const started = await plugin(cwd, env, ['start-replication']);
    expect(started.stdout).toContain(`using config ${join(cwd, 'config.yaml')}`);
    const rd = await get<ReplicationDestination>(kc, 'ReplicationDestination', dest, rdName);
    expect(rd?.spec.rsync).toMatchObject({ copyMethod: 'Snapshot', capacity: '1Gi', serviceType: 'ClusterIP' });
    const rs = await get<ReplicationSource>(kc, 'ReplicationSource', source, rsName);
    expect(rs?.spec).toMatchObject({
      sourcePVC: 'mysql-pv-claim',
      trigger: { schedule: '*/3 * * * *' },
      rsync: {
        copyMethod: 'Snapshot',
        address: rd?.status?.rsync?.address,
        sshKeys: `scribe-rsync-dest-src-${rdName}`,
      },
    });
    const copied = await get<Secret>(kc, 'Secret', source, `scribe-rsync-dest-src-${rdName}`);
    const original = await get<Secret>(kc, 'Secret', dest, `scribe-rsync-dest-src-${rdName}`);
    expect(copied?.data).toEqual(original?.data);

    // "Set and Pause": the final sync, then a PVC <sourcePVCName>-<YYYYMMDDhhmmss> from latestImage.
    await writeSample(sourceDir, 2);
    const set = await plugin(cwd, env, ['set-replication']);
    const pvcName = /created PVC \S+\/(mysql-pv-claim-\d{14}) /.exec(set.stdout)?.[1];
    expect(pvcName, set.stdout).toBeDefined();
    const restored = await pvcDirectory(kc, dest, pvcName as string);
    expect(snapshotTree(restored)).toEqual(snapshotTree(sourceDir));
    const afterSet = await get<ReplicationSource>(kc, 'ReplicationSource', source, rsName);
    expect(afterSet?.status?.lastManualSync).toBe(afterSet?.spec.trigger?.manual);

    await plugin(cwd, env, ['continue-replication']);
    const continued = await get<ReplicationSource>(kc, 'ReplicationSource', source, rsName);
    expect(continued?.spec.trigger).toEqual({ schedule: '*/3 * * * *' });

    // sync with live progress; meanwhile inspect catches the CR mid-sync.
    await writeSample(sourceDir, 3);
    const syncRun = runPlugin(bundle, ['sync', `rs/${rsName}`, '-n', source, '--timeout', '3m'], {
      cwd,
      env: { ...env, HOME: join(cwd, 'home') },
    });
    const caught = await catchMidSync(cwd, env, source, rsName);
    const synced = await syncRun;
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/set manual trigger kubectl-scribe-\d{14}-\d{3} on ReplicationSource/);
    expect(synced.stdout).toMatch(/idle → snapshotting/);
    expect(synced.stdout).toMatch(/moving → preserving {2}\(transfer succeeded\)/);
    expect(synced.stdout).toMatch(/sync complete: Successful/);
    expect(synced.stdout).toMatch(/mover summary:/);
    // The reading must have caught the sync at work (not idle before or after it), and inspect
    // must have named that very state.
    expect(WORKING_STATES, `no reading caught a working state; last: ${JSON.stringify(caught)}`).toContain(
      caught.state,
    );
    expect(caught.inspected).toBe(caught.state);
    console.log(`[plugin e2e] inspect caught the source in state ${caught.state}`);

    const status = await plugin(cwd, env, ['status', '-n', source]);
    expect(status.stdout).toMatch(new RegExp(`^ReplicationSource\\s+${rsName}\\s+\\w+\\s+\\d{4}-`, 'm'));
    const all = await plugin(cwd, env, ['status', '-A']);
    expect(all.stdout).toMatch(new RegExp(`^${dest}\\s+ReplicationDestination\\s+${rdName}\\s`, 'm'));

    const text = await plugin(cwd, env, ['inspect', `replicationdestination/${rdName}`, '-n', dest]);
    const rdNow = await get<ReplicationDestination>(kc, 'ReplicationDestination', dest, rdName);
    expect(text.stdout).toContain(`State:        ${rdNow?.status?.state}`);
    expect(text.stdout).toMatch(/Recent transitions:\nTIME\s+FROM\s+TO/);
    const svg = await plugin(cwd, env, ['inspect', `rd/${rdName}`, '-n', dest, '-o', 'svg']);
    expect(svg.stdout).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const state of STATES) expect(svg.stdout).toContain(`data-state="${state}"`);
    const html = await plugin(cwd, env, ['inspect', `rd/${rdName}`, '-n', dest, '-o', 'html']);
    expect(html.stdout).toMatch(/^<!DOCTYPE html>/);
    expect(html.stdout).toContain(`id="state-${rdNow?.status?.state}"`);
    const mermaid = await plugin(cwd, env, ['inspect', `rs/${rsName}`, '-n', source, '-o', 'mermaid']);
    expect(mermaid.stdout).toMatch(/^stateDiagram-v2\n/);

    const removed = await plugin(cwd, env, ['remove-replication']);
    expect(removed.stdout).toContain('PersistentVolumeClaims are never removed');
    await waitForObject(
      'both CRs gone',
      async () => ({
        rs: await get(kc, 'ReplicationSource', source, rsName),
        rd: await get(kc, 'ReplicationDestination', dest, rdName),
      }),
      (o) => !o.rs && !o.rd,
      60_000,
    );
    expect(await get(kc, 'Secret', source, `scribe-rsync-dest-src-${rdName}`)).toBeUndefined();
    expect(await get(kc, 'PersistentVolumeClaim', source, 'mysql-pv-claim')).toBeDefined();
    expect(await get(kc, 'PersistentVolumeClaim', dest, pvcName as string)).toBeDefined();

    // Errors are one clear line and a non-zero exit.
    const bad = await plugin(cwd, env, ['start-replication', '--dest-copy-method', 'Clone'], 1);
    expect(bad.stderr).toMatch(
      /^error: invalid options:\n {2}dest-copy-method: Clone is not supported at a destination/,
    );
    const missing = await plugin(cwd, env, ['inspect', 'rs/nope', '-n', source], 1);
    expect(missing.stderr).toMatch(
      new RegExp(`^error: ReplicationSource ${source}/nope not found \\(context \\S+\\)\n$`),
    );
  });

  it('runs the cross-cluster walkthrough across two kube contexts (sourceuser, destuser)', async () => {
    const kc = e2eKubeConfig();
    // The seed's walkthrough keeps owners: its movers run privileged (docs/permissions.md).
    const source = await e2eNamespace(kc, 'source', { annotations: PRIVILEGED_MOVERS });
    const dest = await e2eNamespace(kc, 'dest', { annotations: PRIVILEGED_MOVERS });
    await createPvc(kc, source, 'mysql-pv-claim');
    const sourceDir = await pvcDirectory(kc, source, 'mysql-pv-claim');
    await writeSample(sourceDir, 1);
    // The seed's cross-cluster config.yaml, with this test's namespaces.
    const cwd = await workspace(
      crossClusterConfig(
        { context: 'sourceuser', clusterName: 'api-source-com:6443', namespace: source },
        { context: 'destuser', clusterName: 'destination123', namespace: dest },
      ),
    );
    const kubeconfig = await twoContextKubeconfig(inject('e2eKubeconfig'), cwd, { source, dest });
    const env = { KUBECONFIG: kubeconfig };

    const started = await plugin(cwd, env, ['start-replication']);
    expect(started.stdout).toContain('(context destuser)');
    expect(started.stdout).toMatch(/to \S+ \(context sourceuser\)/);
    const rd = await get<ReplicationDestination>(kc, 'ReplicationDestination', dest, `${dest}-destination`);
    expect(rd?.spec.rsync?.serviceType).toBe('LoadBalancer');
    // A LoadBalancer address of the local runtime (127.97.0.0/16), not the ClusterIP.
    expect(rd?.status?.rsync?.address).toMatch(/^127\.97\./);

    await writeSample(sourceDir, 2);
    const set = await plugin(cwd, env, ['set-replication']);
    const pvcName = /created PVC \S+\/(mysql-pv-claim-\d{14}) /.exec(set.stdout)?.[1];
    expect(pvcName, set.stdout).toBeDefined();
    expect(set.stdout).toContain('(context destuser) from VolumeSnapshot scribe-dest-');
    expect(snapshotTree(await pvcDirectory(kc, dest, pvcName as string))).toEqual(snapshotTree(sourceDir));

    await plugin(cwd, env, ['continue-replication']);
    await plugin(cwd, env, ['remove-replication']);
    expect(await get(kc, 'Secret', source, `scribe-rsync-dest-src-${dest}-destination`)).toBeUndefined();
    expect(await get(kc, 'PersistentVolumeClaim', dest, pvcName as string)).toBeDefined();
  });

  it('answers -h when copied alone into an empty directory on PATH, also as `kubectl scribe`', async () => {
    const lone = await mkdtemp(join(tmpdir(), 'scribe-plugin-alone-'));
    await copyFile(bundle, join(lone, 'kubectl-scribe'));
    const empty = await mkdtemp(join(tmpdir(), 'scribe-plugin-cwd-'));
    // Only the copied file, the kubectl the project builds (scripts/tools.sh) and the directory
    // of node, which the file's `#!/usr/bin/env node` needs: no checkout, no node_modules/.bin.
    const kubectlDir = await toolDir('kubernetes');
    expect(existsSync(join(kubectlDir, 'kubectl')), `no kubectl in ${kubectlDir}`).toBe(true);
    const path = [lone, kubectlDir, dirname(process.execPath)].join(':');
    const run = (command: string, args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(command, args, { cwd: empty, env: { PATH: path, HOME: empty } });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('close', (code) => resolve({ code, out }));
        child.on('error', (e) => resolve({ code: -1, out: String(e) }));
      });
    const help = await run('kubectl-scribe', ['-h']);
    expect(help.code, help.out).toBe(0);
    for (const command of [
      'start-replication',
      'set-replication',
      'continue-replication',
      'remove-replication',
      'sync',
      'status',
      'inspect',
    ]) {
      expect(help.out).toContain(command);
    }
    const startHelp = await run('kubectl-scribe', ['start-replication', '--help']);
    expect(startHelp.out).toContain('--source-cron-spec <value>');
    // kubectl finds the plugin on PATH as kubectl-scribe and runs it (kubectl's plugin mechanism).
    const kubectlVersion = await run('kubectl', ['version', '--client']);
    expect(kubectlVersion.code, kubectlVersion.out).toBe(0);
    const viaKubectl = await run('kubectl', ['scribe', '-h']);
    expect(viaKubectl.code, viaKubectl.out).toBe(0);
    expect(viaKubectl.out).toContain('start-replication');
    expect(viaKubectl.out).toContain('Usage: kubectl-scribe');
    const viaKubectlSync = await run('kubectl', ['scribe', 'sync', '--help']);
    expect(viaKubectlSync.code, viaKubectlSync.out).toBe(0);
    expect(viaKubectlSync.out).toContain('--fail-fast');
    const noConfig = await run('kubectl-scribe', ['status']);
    expect(noConfig.code).toBe(1);
    expect(noConfig.out).toContain('error: no kubeconfig found');
  });
});

describe('kubectl scribe sync on a source whose sync fails', () => {
  it('follows the retries until --timeout (exit 2); with --fail-fast exits 1 at the first failure, naming it', async () => {
    const kc = e2eKubeConfig();
    const source = await e2eNamespace(kc, 'ffs');
    const dest = await e2eNamespace(kc, 'ffd');
    await createPvc(kc, source, 'data');
    await writeFile(join(await pvcDirectory(kc, source, 'data'), 'file'), 'payload\n');
    await create(kc, 'ReplicationDestination', dest, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationDestination',
      metadata: { name: 'dest' },
      spec: { rsync: { copyMethod: 'None', capacity: '1Gi' } },
    });
    const { address, keys } = await listeningAddress(kc, dest, 'dest');
    const good = await copySecret(kc, keys, dest, source);
    // The destination's Secret with another source key pair: the destination refuses it
    // ("Permission denied (publickey)"), which the mover does not retry, so each attempt fails.
    const other = generateSshKeyPair('not-the-source');
    await create(kc, 'Secret', source, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'wrong-keys' },
      data: {
        ...good?.data,
        source: Buffer.from(other.privateKey).toString('base64'),
        'source.pub': Buffer.from(other.publicKey).toString('base64'),
      },
    });
    // One good sync first, so that the failures below are the trigger's own (a new CR's first
    // sync is immediate whatever its trigger) and the operator's retry backoff starts afresh.
    await create(kc, 'ReplicationSource', source, {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'src' },
      spec: { sourcePVC: 'data', trigger: { manual: 'one' }, rsync: { copyMethod: 'Clone', address, sshKeys: keys } },
    });
    const readSource = () => get<ReplicationSource>(kc, 'ReplicationSource', source, 'src');
    await waitForObject(
      'the first sync',
      readSource,
      (rs) => rs.status?.lastManualSync === 'one' && rs.status.state === 'idle',
    );
    await patch(kc, 'ReplicationSource', source, 'src', { spec: { rsync: { sshKeys: 'wrong-keys' } } });

    const cwd = await workspace('');
    const env = { KUBECONFIG: inject('e2eKubeconfig') };
    const failFastStart = Date.now();
    const failFast = await plugin(cwd, env, ['sync', 'rs/src', '-n', source, '--fail-fast'], EXIT_FAILURE);
    const failFastSeconds = (Date.now() - failFastStart) / 1000;
    expect(failFast.stdout).toMatch(/moving → failed {2}\(transfer failed/);
    expect(failFast.stdout).not.toContain('the operator retries');
    expect(failFast.stderr).toMatch(
      new RegExp(
        `^error: sync of ReplicationSource ${source}/src failed: transfer failed: [\\s\\S]*?\\(--fail-fast: not waiting for the operator's retry; the manual trigger kubectl-scribe-\\d{14}-\\d{3} stays set\\)\nmover output:\n`,
      ),
    );
    expect(failFast.stderr).toMatch(/Permission denied|refused|host key/i);
    // At once: the first attempt, well before the default --timeout of 10m.
    expect(failFastSeconds).toBeLessThan(180);
    const afterFailFast = await readSource();
    expect(afterFailFast?.status?.latestMoverStatus?.result).toBe('Failed');

    // The default: the failed attempts are reported and followed until --timeout.
    const timeoutStart = Date.now();
    const timedOut = await plugin(cwd, env, ['sync', 'rs/src', '-n', source, '--timeout', '60s'], EXIT_TIMEOUT);
    const timeoutSeconds = (Date.now() - timeoutStart) / 1000;
    expect(timedOut.stdout).toMatch(/attempt failed; the operator retries: transfer failed/);
    expect(timedOut.stderr).toMatch(
      new RegExp(
        `^error: timed out after 60s: ReplicationSource ${source}/src is \\w+; the manual trigger kubectl-scribe-\\d{14}-\\d{3} stays set; last failure: transfer failed: `,
      ),
    );
    expect(timeoutSeconds).toBeGreaterThanOrEqual(60);
    console.log(
      `[plugin e2e] sync --fail-fast ended after ${failFastSeconds.toFixed(1)}s; sync --timeout 60s after ${timeoutSeconds.toFixed(1)}s`,
    );
  });
});

describe('live progress of kubectl scribe sync', () => {
  it("reads the newest mover pod's last progress line through the API server's log endpoint", async () => {
    const kc = e2eKubeConfig();
    const namespace = await e2eNamespace(kc, 'progress');
    // The CR is only read, never applied: no operator creates a Job for it, so the one pod
    // labelled as its mover is this one, which writes a chatty log as rsync's itemizing does.
    const cr = {
      apiVersion: 'scribe.backube/v1alpha1',
      kind: 'ReplicationSource',
      metadata: { name: 'watched', namespace },
      spec: { sourcePVC: 'data', rsync: { copyMethod: 'Clone', address: '127.0.0.1', sshKeys: 'keys' } },
    } as ScribeCr;
    const [job] = MOVERS.find((m) => m.matches(cr))?.temporaryObjects(cr) ?? [];
    const script = [
      `echo '${progressLine({ files: 1, bytes: 10, elapsedSeconds: 1 })}'`,
      `i=0; while [ $i -lt ${REPORT_EVERY_LINES - 1} ]; do echo "<f+++++++++ file-$i"; i=$((i+1)); done`,
      `echo '${progressLine({ files: 2000, bytes: 5 * 1024 * 1024, elapsedSeconds: 10 })}'`,
      `i=0; while [ $i -lt ${REPORT_EVERY_LINES - 1} ]; do echo "<f+++++++++ more-$i"; i=$((i+1)); done`,
      'echo written; exec sleep 600',
    ].join('\n');
    await create(kc, 'Pod', namespace, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'mover', labels: { [MOVER_POD_LABEL]: job?.name ?? '' } },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'mover', image: inject('e2eMoverImage'), command: ['/bin/sh', '-c', script] }],
      },
    });
    const cluster = { kc, context: kc.getCurrentContext(), clusterName: '', namespace };
    let progress: Awaited<ReturnType<typeof readMoverProgress>>;
    await waitForObject(
      'the progress line after 2,000 lines of log',
      async () => (progress = await readMoverProgress(cluster, cr)),
      (p) => p.files === 2000,
    );
    expect(progress).toEqual({ pod: 'mover', files: 2000, bytes: 5 * 1024 * 1024, elapsedSeconds: 10 });
    expect(describeProgress({ pod: 'mover', files: 2010, bytes: 7 * 1024 * 1024, elapsedSeconds: 12 }, progress)).toBe(
      '2,010 files, 7.0 MiB, 1.0 MiB/s, mover running 12s',
    );
  });
});

/**
 * Reads status.state, runs `inspect -o json`, reads status.state again; when both reads agree
 * on a working state, inspect must have named it. Tries until the sync is over.
 */
async function catchMidSync(cwd: string, env: NodeJS.ProcessEnv, namespace: string, name: string) {
  const kc = e2eKubeConfig();
  const state = async () => (await get<ReplicationSource>(kc, 'ReplicationSource', namespace, name))?.status?.state;
  let last: { state: string | undefined; inspected: string | undefined } = { state: undefined, inspected: undefined };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const before = await state();
    const run = await runPlugin(bundle, ['inspect', `rs/${name}`, '-n', namespace, '-o', 'json'], {
      cwd,
      env: { ...env, HOME: join(cwd, 'home') },
    });
    const after = await state();
    const inspected = (JSON.parse(run.stdout) as { state?: string }).state;
    if (before === after) {
      last = { state: before, inspected };
      if (before && WORKING_STATES.includes(before as never)) return last;
    }
  }
  return last;
}
