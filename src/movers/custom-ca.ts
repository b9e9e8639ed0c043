/**
 * customCA (VolSync's name): a CA bundle from a Secret or ConfigMap key, mounted read-only into
 * the restic or rclone mover at CUSTOM_CA_DIR, its path in SCRIBE_CUSTOM_CA; the entrypoints pass
 * it to restic (--cacert) or rclone (--ca-cert) so a back end with a private CA is trusted.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { CustomCA } from '../api/common.js';
import { ConfigError } from './runtime/env.js';
import type { MoverVolume } from './job.js';

/** Where the CA's Secret or ConfigMap is mounted. */
export const CUSTOM_CA_DIR = '/custom-ca';
/** The CA file's path, from the operator. */
export const CUSTOM_CA_ENV = 'SCRIBE_CUSTOM_CA';

/** The env and volume of a CR's customCA; nothing when it has none. */
export function customCAMount(ca: CustomCA | undefined): {
  env: Array<{ name: string; value: string }>;
  volumes: MoverVolume[];
} {
  if (!ca || (!ca.secretName && !ca.configMapName)) return { env: [], volumes: [] };
  const source: MoverVolume['source'] = ca.secretName
    ? { secret: { secretName: ca.secretName } }
    : { configMap: { name: ca.configMapName as string } };
  return {
    env: [{ name: CUSTOM_CA_ENV, value: `${CUSTOM_CA_DIR}/${ca.key}` }],
    volumes: [{ name: 'custom-ca', mountPath: CUSTOM_CA_DIR, readOnly: true, source }],
  };
}

/** The CA file the entrypoint passes on, checked; undefined without customCA. */
export function customCAFile(env: Record<string, string | undefined>): string | undefined {
  const path = env[CUSTOM_CA_ENV]?.trim();
  if (!path) return undefined;
  if (!statSync(path, { throwIfNoEntry: false })?.isFile())
    throw new ConfigError(
      `the custom CA ${path} (${CUSTOM_CA_ENV}) does not exist: the Secret or ConfigMap of customCA has no key "${basename(path)}"`,
    );
  return path;
}

/** A TLS verification failure: not transient, so the tool is stopped at once instead of retrying. */
export const UNTRUSTED_CERTIFICATE = /x509: certificate signed by unknown authority|x509: certificate is not trusted/;

/** What to say when the back end's certificate is not trusted. */
export function untrustedCertificateMessage(step: string, line: string, caCert: string | undefined): string {
  const cause = UNTRUSTED_CERTIFICATE.exec(line)?.[0] ?? 'x509';
  return caCert === undefined
    ? `${step}: the back end's TLS certificate is not trusted (${cause}); if it is signed by a private CA, set customCA (secretName or configMapName, and key) to that CA's bundle`
    : `${step}: the back end's TLS certificate is not trusted (${cause}), not even with customCA's bundle ${caCert}: check that customCA holds the CA that signed it`;
}
