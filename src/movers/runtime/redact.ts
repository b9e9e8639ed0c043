/**
 * Keeping secrets out of the movers' output (pure), one module for restic and rclone. The
 * repository Secret's keys arrive as environment variables and rclone.conf holds the rclone
 * mover's credentials; tools echo some of them back (restic prints the repository URL, which may
 * carry `user:password@`; an Azure SAS is a URL query), so every line the movers print or
 * summarize, and with it the termination message the operator turns into status, Events and
 * latestMoverStatus, passes through a redactor built from the environment and rclone.conf.
 */

/**
 * The secret variables restic documents (doc/075_scripting.rst, 0.19.1) and rclone's config
 * password: named here so the table test covers each; SECRET_NAME catches them and their kin.
 */
export const SECRET_VARIABLES: readonly string[] = [
  'RESTIC_PASSWORD',
  'RESTIC_FROM_PASSWORD',
  'RESTIC_REST_PASSWORD',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_ACCOUNT_KEY',
  'AZURE_ACCOUNT_SAS',
  'B2_ACCOUNT_KEY',
  'GOOGLE_ACCESS_TOKEN',
  'OS_PASSWORD',
  'OS_APPLICATION_CREDENTIAL_SECRET',
  'OS_AUTH_TOKEN',
  'ST_KEY',
  'RCLONE_CONFIG_PASS',
];

/** Names of variables whose values are secret: passwords, keys, tokens, SAS, client secrets. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|CREDENTIAL|ACCESS_KEY|ACCOUNT_KEY|PRIVATE|_KEY$|_KEY_ID$|_SAS$|_PASS$/i;

/**
 * rclone.conf options whose values are secret (rclone 1.76's options marked sensitive that hold
 * passwords, keys, tokens, SAS URLs or client secrets; identifiers such as user or host stay
 * readable), named so the table test covers each; SECRET_OPTION catches them and their kin.
 */
export const SECRET_OPTIONS: readonly string[] = [
  'pass',
  'password',
  'password2',
  'key',
  'access_key_id',
  'secret_access_key',
  'session_token',
  'sse_customer_key',
  'sse_customer_key_base64',
  'sas_url',
  'connection_string',
  'client_secret',
  'client_certificate_password',
  'token',
  'access_token',
  'refresh_token',
  'bearer_token',
  'auth_token',
  'permanent_token',
  'api_key',
  'api_secret',
  'api_password',
  'key_pem',
  'key_file_pass',
  'private_key',
  'service_account_credentials',
  'application_credential_secret',
  'otp_secret_key',
  'mailbox_password',
  'passphrase',
  'mnemonic',
  'access_grant',
  'master_keys',
];

const SECRET_OPTION =
  /key|secret|pass|token|credentials|sas_url|account|connection_string|mnemonic|access_grant|authorization/i;

/** Values this short would mangle ordinary words when replaced, and guessing them is easy anyway. */
const MIN_SECRET_LENGTH = 4;

/** The marker that replaces a secret. */
export const REDACTED = '[redacted]';

/** The values of the secret variables in `env`, longest first (so a value containing another is replaced whole). */
export function secretValues(env: Record<string, string | undefined>): string[] {
  const values = Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value !== undefined && value.length >= MIN_SECRET_LENGTH)
    .map(([, value]) => value as string);
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/** Values in rclone.conf that are secret (keys, passwords, tokens, SAS URLs), to redact from output. */
export function configSecrets(text: string): string[] {
  const secrets: string[] = [];
  for (const match of text.matchAll(/^\s*([\w.-]+)\s*=\s*(.*?)\s*$/gm)) {
    const [, key, value] = match as unknown as [string, string, string];
    if (SECRET_OPTION.test(key) && value.length >= MIN_SECRET_LENGTH) secrets.push(value);
  }
  return secrets;
}

/** A secret as tools may print it besides verbatim: URL-encoded (a SAS in a URL, a password in userinfo). */
function spellings(secret: string): string[] {
  const encoded = encodeURIComponent(secret);
  return encoded === secret ? [secret] : [secret, encoded];
}

/**
 * A function that removes `secrets` and any URL credentials (`scheme://user:pass@`, a SAS's
 * `sig=`) from a line. The repository URL itself stays readable (it says where the data goes).
 */
export function makeRedactor(secrets: readonly string[]): (text: string) => string {
  const all = [...new Set(secrets.flatMap(spellings))].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const secret of all) out = out.split(secret).join(REDACTED);
    return out
      .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s:]*:[^/@\s]*@/gi, `$1${REDACTED}@`)
      .replace(/([?&]sig=)[^&\s"']+/gi, `$1${REDACTED}`);
  };
}
