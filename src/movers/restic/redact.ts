/**
 * Keeping secrets out of the mover's output (pure). The repository Secret's keys arrive as
 * environment variables, and tools echo some of them back (restic prints the repository URL,
 * which may carry `user:password@`), so every line the movers print or summarize passes through
 * a redactor built from the environment.
 */

/** Names of variables whose values are secret: the Secret keys restic and the S3/cloud back ends read. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|CREDENTIAL|ACCESS_KEY|ACCOUNT_KEY|PRIVATE|_KEY$|_KEY_ID$/i;

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

/**
 * A function that removes `secrets` and any URL credentials (`scheme://user:pass@`) from a line.
 * The repository URL itself stays readable (it says where the data goes), only its credentials go.
 */
export function makeRedactor(secrets: readonly string[]): (text: string) => string {
  return (text: string) => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join(REDACTED);
    return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s:]*:[^/@\s]*@/gi, `$1${REDACTED}@`);
  };
}
