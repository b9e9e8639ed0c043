/**
 * Which keys of the restic repository Secret reach the mover (issue 21, "Secrets stay data").
 * The Secret is data: each allowed name is its own `secretKeyRef` (optional, so the operator
 * never reads the Secret and a key the user does not need is simply unset), and nothing else of
 * the Secret becomes environment. A key such as NODE_OPTIONS, PATH, LD_PRELOAD or SCRIBE_RESTIC
 * (the executable the mover runs) would otherwise run code in the trusted image.
 *
 * The list is restic's own (doc/075_scripting.rst, "Environment variables", restic 0.19.1 as
 * pinned by tools/restic): the repository and its password, tuning, and the back ends'
 * credentials (S3, Azure, B2, Google Cloud Storage, OpenStack Swift, REST server). Left out on
 * purpose are the names that run a program or name a file or directory of the pod, because the
 * Secret is not mounted, so a path could only point at the image's or the pod's own files (the
 * service account token, say) and a command would run code again:
 *   RESTIC_PASSWORD_COMMAND, RESTIC_FROM_PASSWORD_COMMAND, AZURE_FORCE_CLI_CREDENTIAL (runs `az`),
 *   RESTIC_REPOSITORY_FILE, RESTIC_PASSWORD_FILE, RESTIC_FROM_*_FILE, RESTIC_TLS_CLIENT_CERT,
 *   RESTIC_CACERT (customCA sets it), AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE (a section of
 *   that file), GOOGLE_APPLICATION_CREDENTIALS, RESTIC_CACHE_DIR, TMPDIR, TMP;
 * and the settings the mover itself owns or `restic copy` alone reads:
 *   RESTIC_HOST, RESTIC_PROGRESS_FPS, RESTIC_FROM_REPOSITORY, RESTIC_FROM_PASSWORD,
 *   RESTIC_FROM_KEY_HINT, RESTIC_FEATURES.
 */

/** The repository Secret's keys the restic mover passes on, each by secretKeyRef. */
export const RESTIC_SECRET_ENV: readonly string[] = [
  // The repository
  'RESTIC_REPOSITORY',
  'RESTIC_PASSWORD',
  'RESTIC_KEY_HINT',
  'RESTIC_COMPRESSION',
  'RESTIC_PACK_SIZE',
  'RESTIC_READ_CONCURRENCY',
  // Amazon S3 and S3-compatible storage
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_DEFAULT_REGION',
  'RESTIC_AWS_ASSUME_ROLE_ARN',
  'RESTIC_AWS_ASSUME_ROLE_SESSION_NAME',
  'RESTIC_AWS_ASSUME_ROLE_EXTERNAL_ID',
  'RESTIC_AWS_ASSUME_ROLE_POLICY',
  'RESTIC_AWS_ASSUME_ROLE_REGION',
  'RESTIC_AWS_ASSUME_ROLE_STS_ENDPOINT',
  // Microsoft Azure Blob Storage
  'AZURE_ACCOUNT_NAME',
  'AZURE_ACCOUNT_KEY',
  'AZURE_ACCOUNT_SAS',
  'AZURE_ENDPOINT_SUFFIX',
  // Backblaze B2
  'B2_ACCOUNT_ID',
  'B2_ACCOUNT_KEY',
  // Google Cloud Storage
  'GOOGLE_PROJECT_ID',
  'GOOGLE_ACCESS_TOKEN',
  // OpenStack Swift (keystone v2/v3, application credentials, tokens)
  'OS_AUTH_URL',
  'OS_REGION_NAME',
  'OS_USERNAME',
  'OS_USER_ID',
  'OS_PASSWORD',
  'OS_TENANT_ID',
  'OS_TENANT_NAME',
  'OS_USER_DOMAIN_NAME',
  'OS_USER_DOMAIN_ID',
  'OS_PROJECT_NAME',
  'OS_PROJECT_DOMAIN_NAME',
  'OS_PROJECT_DOMAIN_ID',
  'OS_TRUST_ID',
  'OS_APPLICATION_CREDENTIAL_ID',
  'OS_APPLICATION_CREDENTIAL_NAME',
  'OS_APPLICATION_CREDENTIAL_SECRET',
  'OS_STORAGE_URL',
  'OS_AUTH_TOKEN',
  // OpenStack Swift, keystone v1
  'ST_AUTH',
  'ST_USER',
  'ST_KEY',
  // restic's REST server
  'RESTIC_REST_USERNAME',
  'RESTIC_REST_PASSWORD',
  // The rclone back end's bandwidth limit
  'RCLONE_BWLIMIT',
];

/** The env entries that take the allowed keys of Secret `secret`, each optional. */
export function secretKeyEnv(
  secret: string,
  names: readonly string[] = RESTIC_SECRET_ENV,
): Array<{ name: string; valueFrom: { secretKeyRef: { name: string; key: string; optional: true } } }> {
  return names.map((name) => ({ name, valueFrom: { secretKeyRef: { name: secret, key: name, optional: true } } }));
}
