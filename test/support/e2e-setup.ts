/**
 * The e2e project's global setup: a whole local system (control plane, node agent, the operator
 * installed with its Helm chart unless SCRIBE_OPERATOR=process) of its own, so end-to-end tests
 * move real bytes through real objects.
 */
import type { TestProject } from 'vitest/node';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTAINER_RUN_LOG } from '../../src/local/agent/index.js';
import type { ContainerRunRecord } from '../../src/local/agent/pod-worker.js';
import { startLocalRuntime, type LocalRuntime } from '../../src/local/runtime.js';
import { startS3Server, type S3Server } from '../../src/local/s3.js';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eKubeconfig: string;
    e2eDir: string;
    e2eOperatorLog: string;
    /** Where the operator's metrics and probe servers listen (its pod's IP in chart mode). */
    e2eOperatorHost: string;
    /** The images the node loaded (as `kind load` does): movers run from e2eMoverImage. */
    e2eMoverImage: string;
    e2eOperatorImage: string;
    /** A real S3 server (MinIO) on loopback for the restic and rclone tests. */
    e2eS3: { endpoint: string; accessKey: string; secretKey: string };
  }
}

let runtime: LocalRuntime | undefined;
let s3: S3Server | undefined;

export async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  runtime = await startLocalRuntime({ log: (line) => console.log(`[e2e] ${line}`) });
  console.log(`[e2e] local system ready in ${Date.now() - started} ms (${runtime.dir})`);
  project.provide('e2eKubeconfig', runtime.kubeconfigPath);
  project.provide('e2eDir', runtime.dir);
  project.provide('e2eOperatorLog', runtime.operatorLog);
  project.provide('e2eOperatorHost', await runtime.operatorHost());
  project.provide('e2eMoverImage', runtime.agent.images.mover);
  project.provide('e2eOperatorImage', runtime.agent.images.scribe);
  s3 = await startS3Server();
  project.provide('e2eS3', { endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey });
}

export async function teardown(): Promise<void> {
  await s3?.stop();
  // The node's run log is complete once the agent has stopped (before the runtime's directory goes).
  await runtime?.agent.stop();
  const offending = runtime ? await runsNotFromLoadedImages(runtime) : [];
  await runtime?.stop();
  if (offending.length) {
    // vitest ignores an error thrown by a global teardown: fail the run through its exit code.
    console.error(`[e2e] pods of the suite ran on something other than a loaded image:\n${offending.join('\n')}`);
    process.exitCode = 1;
  }
}

/**
 * Issue 19: every container of the suite ran on the root filesystem of an image the node loaded,
 * never on the host's (the node's run log, one line per container run). Returns the offenders;
 * an empty log is one too (the suite must have run pods).
 */
async function runsNotFromLoadedImages(local: LocalRuntime): Promise<string[]> {
  const text = await readFile(join(local.dir, 'node', CONTAINER_RUN_LOG), 'utf8').catch(() => '');
  const runs = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ContainerRunRecord);
  if (!runs.length) return ['no container run was recorded'];
  const roots = new Set(Object.values(local.agent.imageRoots).filter(Boolean));
  return runs
    .filter((run) => !roots.has(run.rootfs))
    .map((run) => `${run.pod}/${run.container}: ${run.image} on ${run.rootfs}`);
}
