/** A restic repository for an e2e test: its own bucket on the e2e S3 server, and a namespace. */
import { inject } from 'vitest';
import { e2eKubeConfig, e2eNamespace } from './e2e.js';
import { createResticSecret, newBucket, resticRepository } from './object-store.js';

/**
 * A bucket, a namespace and the repository Secret `restic-config` in it (with `password`);
 * returns the repository's settings with `rightPassword`, for restic run by the test itself.
 */
export async function resticNamespace(prefix: string, password: string, rightPassword = password) {
  const kc = e2eKubeConfig();
  const s3 = inject('e2eS3');
  const bucket = await newBucket(s3, prefix);
  const ns = await e2eNamespace(kc, prefix);
  await createResticSecret(kc, ns, s3, bucket, password);
  return { kc, ns, repository: resticRepository(s3, bucket, rightPassword) };
}
