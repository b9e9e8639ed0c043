/** A restic repository for an e2e test: its own bucket on the e2e S3 server, and a namespace. */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createBucket } from '../../src/local/s3.js';
import { create, e2eKubeConfig, e2eNamespace } from './e2e.js';

/**
 * A bucket, a namespace and the repository Secret `restic-config` in it (with `password`);
 * returns the repository's settings with `rightPassword`, for restic run by the test itself.
 */
export async function resticNamespace(prefix: string, password: string, rightPassword = password) {
  const kc = e2eKubeConfig();
  const s3 = inject('e2eS3');
  const bucket = `${prefix}-${randomBytes(3).toString('hex')}`;
  await createBucket(s3.endpoint, s3.accessKey, s3.secretKey, bucket);
  const ns = await e2eNamespace(kc, prefix);
  const repository = {
    RESTIC_REPOSITORY: `s3:${s3.endpoint}/${bucket}/repo`,
    RESTIC_PASSWORD: password,
    AWS_ACCESS_KEY_ID: s3.accessKey,
    AWS_SECRET_ACCESS_KEY: s3.secretKey,
  };
  await create(kc, 'Secret', ns, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'restic-config' },
    stringData: repository,
  });
  return { kc, ns, repository: { ...repository, RESTIC_PASSWORD: rightPassword } };
}
