/**
 * Issue 21 end to end: customCA and "Secrets stay data".
 *
 * - A MinIO of this file's own serves TLS with a private CA (test/support/tls.ts): a restic backup
 *   and restore trusting it through customCA from a Secret key, and an rclone source → destination
 *   sync trusting it through customCA from a ConfigMap key, carry the volume's files; without
 *   customCA the restic and the rclone attempts fail, at once, saying the certificate is not
 *   trusted and to set customCA.
 * - A restic repository Secret that also holds NODE_OPTIONS, SCRIBE_RESTIC, PATH and LD_PRELOAD
 *   (each would break or take over the mover) next to valid RESTIC_* and AWS_* keys: the backup
 *   succeeds, and the mover pod has no envFrom and none of those variables.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, type TestContext } from 'vitest';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { ReplicationDestination, ReplicationSource } from '../../src/api/index.js';
import { startS3Server, type S3Server } from '../../src/local/s3.js';
import { watchMoverPods } from '../support/mover-pods.js';
import { createRcloneSecret, createResticSecret, newBucket } from '../support/object-store.js';
import { makeTestPki, type TestPki } from '../support/tls.js';
import { create, createPvc, e2eKubeConfig, e2eNamespace, get, pvcDirectory, waitForObject } from '../support/e2e.js';

const API = 'scribe.backube/v1alpha1';

let pki: TestPki;
let tlsS3: S3Server;

beforeAll(async () => {
  pki = makeTestPki('Scribe e2e custom CA');
  tlsS3 = await startS3Server({ tls: { certificate: pki.certificate, privateKey: pki.privateKey, ca: pki.ca } });
}, 120_000);
afterAll(async () => {
  await tlsS3?.stop();
});

/** The files of the source volume: one at the top, one in a directory. */
const FILES = { 'hello.txt': 'hello over tls\n', 'dir/nested.txt': 'nested over tls\n' };

async function writeFiles(dir: string): Promise<void> {
  await mkdir(join(dir, 'dir'), { recursive: true });
  for (const [path, text] of Object.entries(FILES)) await writeFile(join(dir, path), text);
}

async function readFiles(dir: string): Promise<Record<string, string | undefined>> {
  const entries = await Promise.all(
    Object.keys(FILES).map(async (path) => [path, await readFile(join(dir, path), 'utf8').catch(() => undefined)]),
  );
  return Object.fromEntries(entries);
}

/** A namespace with the volumes `data` (holding FILES) and `restored`. */
async function namespaceWithVolumes(kc: KubeConfig, prefix: string, test: TestContext) {
  const ns = await e2eNamespace(kc, prefix, { test });
  await createPvc(kc, ns, 'data');
  await createPvc(kc, ns, 'restored');
  await writeFiles(await pvcDirectory(kc, ns, 'data'));
  return ns;
}

async function secret(kc: KubeConfig, ns: string, name: string, stringData: Record<string, string>) {
  await create(kc, 'Secret', ns, { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData });
}

/** The restic repository Secret of a fresh bucket on the TLS MinIO. */
async function tlsResticSecret(kc: KubeConfig, ns: string): Promise<void> {
  await createResticSecret(kc, ns, tlsS3, await newBucket(tlsS3, 'ca-restic'), 'custom-ca-password');
}

function source(mover: 'restic' | 'rclone', options: object): object {
  return {
    apiVersion: API,
    kind: 'ReplicationSource',
    metadata: { name: 'copy' },
    spec: { sourcePVC: 'data', trigger: { manual: 'once' }, [mover]: { copyMethod: 'Clone', ...options } },
  };
}

function destination(mover: 'restic' | 'rclone', options: object): object {
  return {
    apiVersion: API,
    kind: 'ReplicationDestination',
    metadata: { name: 'copy' },
    spec: { trigger: { manual: 'once' }, [mover]: { copyMethod: 'None', destinationPVC: 'restored', ...options } },
  };
}

const readSource = (kc: KubeConfig, ns: string) => () => get<ReplicationSource>(kc, 'ReplicationSource', ns, 'copy');
const readDestination = (kc: KubeConfig, ns: string) => () =>
  get<ReplicationDestination>(kc, 'ReplicationDestination', ns, 'copy');
const done = (cr: ReplicationSource | ReplicationDestination) =>
  cr.status?.lastManualSync === 'once' || cr.status?.latestMoverStatus?.result === 'Failed';

/** Syncs `data` to the back end and from it into `restored`; both must succeed. */
async function copyThrough(kc: KubeConfig, ns: string, mover: 'restic' | 'rclone', options: object) {
  await create(kc, 'ReplicationSource', ns, source(mover, options));
  const sent = await waitForObject('the source', readSource(kc, ns), done);
  expect(sent.status?.latestMoverStatus, JSON.stringify(sent.status)).toMatchObject({ result: 'Successful' });
  await create(kc, 'ReplicationDestination', ns, destination(mover, options));
  const received = await waitForObject('the destination', readDestination(kc, ns), done);
  expect(received.status?.latestMoverStatus, JSON.stringify(received.status)).toMatchObject({ result: 'Successful' });
  expect(await readFiles(await pvcDirectory(kc, ns, 'restored'))).toEqual(FILES);
}

type Container = {
  name: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name?: string; key?: string } } }>;
  envFrom?: unknown[];
};
type Pod = KubernetesObject & { spec?: { containers?: Container[]; initContainers?: Container[] } };

describe.concurrent('customCA: restic and rclone through MinIO with a private CA (issue 21)', () => {
  it('restic backs up and restores with customCA from a Secret key', async (test) => {
    const kc = e2eKubeConfig();
    const ns = await namespaceWithVolumes(kc, 'ca-restic', test);
    await tlsResticSecret(kc, ns);
    await secret(kc, ns, 'backend-ca', { 'ca.crt': pki.ca });
    await copyThrough(kc, ns, 'restic', {
      repository: 'restic-config',
      customCA: { secretName: 'backend-ca', key: 'ca.crt' },
    });
  });

  it('rclone syncs source to destination with customCA from a ConfigMap key', async (test) => {
    const kc = e2eKubeConfig();
    const ns = await namespaceWithVolumes(kc, 'ca-rclone', test);
    const bucket = await newBucket(tlsS3, 'ca-rclone');
    await createRcloneSecret(kc, ns, tlsS3);
    await create(kc, 'ConfigMap', ns, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'backend-ca' },
      data: { 'bundle.pem': pki.ca },
    });
    await copyThrough(kc, ns, 'rclone', {
      rcloneConfig: 'rclone-secret',
      rcloneConfigSection: 'store',
      rcloneDestPath: `${bucket}/data`,
      customCA: { configMapName: 'backend-ca', key: 'bundle.pem' },
    });
  });

  it('restic without customCA fails saying the certificate is not trusted and to set customCA', async (test) => {
    const kc = e2eKubeConfig();
    const ns = await namespaceWithVolumes(kc, 'ca-none', test);
    await tlsResticSecret(kc, ns);
    await create(kc, 'ReplicationSource', ns, source('restic', { repository: 'restic-config' }));
    const sent = await waitForObject('the failed backup', readSource(kc, ns), done);
    expect(sent.status?.latestMoverStatus?.result, JSON.stringify(sent.status)).toBe('Failed');
    expect(sent.status?.lastManualSync).toBeUndefined();
    const synchronizing = sent.status?.conditions?.find((c) => c.type === 'Synchronizing');
    expect(synchronizing?.message).toMatch(
      /TLS certificate is not trusted \(x509: certificate signed by unknown authority\)/,
    );
    expect(synchronizing?.message).toMatch(/set customCA/);
  });

  it('rclone without customCA fails at once saying the certificate is not trusted and to set customCA', async (test) => {
    const kc = e2eKubeConfig();
    const ns = await namespaceWithVolumes(kc, 'ca-rclone-none', test);
    const bucket = await newBucket(tlsS3, 'ca-rclone');
    await createRcloneSecret(kc, ns, tlsS3);
    const started = Date.now();
    await create(
      kc,
      'ReplicationSource',
      ns,
      source('rclone', {
        rcloneConfig: 'rclone-secret',
        rcloneConfigSection: 'store',
        rcloneDestPath: `${bucket}/data`,
      }),
    );
    // rclone's S3 back end alone would retry the refused handshake for minutes.
    const sent = await waitForObject('the failed sync', readSource(kc, ns), done, 60_000);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(sent.status?.latestMoverStatus?.result, JSON.stringify(sent.status)).toBe('Failed');
    const synchronizing = sent.status?.conditions?.find((c) => c.type === 'Synchronizing');
    expect(synchronizing?.message).toMatch(
      /TLS certificate is not trusted \(x509: certificate signed by unknown authority\).*set customCA/,
    );
  });
});

describe('Secrets stay data: the restic repository Secret (issue 21)', () => {
  const HOSTILE = {
    NODE_OPTIONS: '--require=/tmp/nonexistent.js',
    SCRIBE_RESTIC: '/bin/false',
    PATH: '/nonexistent',
    LD_PRELOAD: '/nonexistent.so',
  };

  it('NODE_OPTIONS, SCRIBE_RESTIC, PATH and LD_PRELOAD in it never reach the mover: the backup succeeds', async (test) => {
    const kc = e2eKubeConfig();
    const ns = await e2eNamespace(kc, 'secret-data', { test });
    const s3 = inject('e2eS3');
    const bucket = await newBucket(s3, 'secret-data');
    await createResticSecret(kc, ns, s3, bucket, 'secret-data-password', HOSTILE);
    await createPvc(kc, ns, 'data');
    await writeFiles(await pvcDirectory(kc, ns, 'data'));
    const pods = await watchMoverPods<Pod>(kc, ns, test);
    await create(kc, 'ReplicationSource', ns, source('restic', { repository: 'restic-config' }));
    const sent = await waitForObject('the backup', readSource(kc, ns), done);
    expect(sent.status?.latestMoverStatus, JSON.stringify(sent.status)).toMatchObject({ result: 'Successful' });
    expect(pods.size, 'a mover pod was seen').toBeGreaterThan(0);
    for (const pod of pods.values()) {
      const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
      expect(containers.length).toBeGreaterThan(0);
      for (const container of containers) {
        expect(container.envFrom, `${pod.metadata?.name}/${container.name} envFrom`).toBeUndefined();
        const names = (container.env ?? []).map((e) => e.name);
        for (const name of Object.keys(HOSTILE))
          expect(names, `${pod.metadata?.name}/${container.name}`).not.toContain(name);
        // Every variable from the Secret is one documented key of it, by name.
        for (const env of container.env ?? []) {
          const ref = env.valueFrom?.secretKeyRef;
          if (ref?.name === 'restic-config') expect(ref.key).toBe(env.name);
        }
      }
    }
  });
});
