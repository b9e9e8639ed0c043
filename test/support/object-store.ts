/**
 * What restic and rclone tests set up on an S3 server (MinIO): a bucket of their own, the restic
 * repository Secret `restic-config` and the rclone config Secret `rclone-secret`.
 */
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { create } from '../../src/local/objects.js';
import { createBucket } from '../../src/local/s3.js';

/** An S3 server as tests reach it; a TLS one creates buckets itself (it knows its CA). */
export interface ObjectStore {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  createBucket?(name: string): Promise<void>;
}

/** A new bucket named `<prefix>-<random>`. */
export async function newBucket(store: ObjectStore, prefix: string): Promise<string> {
  const bucket = `${prefix}-${randomBytes(4).toString('hex')}`;
  if (store.createBucket) await store.createBucket(bucket);
  else await createBucket(store.endpoint, store.accessKey, store.secretKey, bucket);
  return bucket;
}

/** The restic repository variables of `bucket`'s /repo. */
export function resticRepository(store: ObjectStore, bucket: string, password: string): Record<string, string> {
  return {
    RESTIC_REPOSITORY: `s3:${store.endpoint}/${bucket}/repo`,
    RESTIC_PASSWORD: password,
    AWS_ACCESS_KEY_ID: store.accessKey,
    AWS_SECRET_ACCESS_KEY: store.secretKey,
  };
}

/** The Secret `restic-config` in `ns` for `bucket`'s repository, with `extra` keys besides. */
export async function createResticSecret(
  kc: KubeConfig,
  ns: string,
  store: ObjectStore,
  bucket: string,
  password: string,
  extra: Record<string, string> = {},
): Promise<void> {
  await create(kc, 'Secret', ns, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'restic-config' },
    stringData: { ...resticRepository(store, bucket, password), ...extra },
  });
}

/** rclone.conf with one S3 section `section` for the store. */
export function rcloneConf(store: ObjectStore, section = 'store'): string {
  const lines = [`[${section}]`, 'type = s3', 'provider = Minio', 'env_auth = false'];
  lines.push(`access_key_id = ${store.accessKey}`, `secret_access_key = ${store.secretKey}`);
  lines.push(`endpoint = ${store.endpoint}`);
  return `${lines.join('\n')}\n`;
}

/** The Secret `rclone-secret` in `ns` holding rcloneConf(store, section). */
export async function createRcloneSecret(kc: KubeConfig, ns: string, store: ObjectStore, section = 'store') {
  await create(kc, 'Secret', ns, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'rclone-secret' },
    stringData: { 'rclone.conf': rcloneConf(store, section) },
  });
}
