/**
 * Reading the entrypoints' configuration from environment variables, with errors that name the
 * variable. Every variable is prefixed SCRIBE_ because Kubernetes injects `<SERVICE>_PORT` style
 * variables for Services in the namespace: a Service named "destination" would otherwise set
 * DESTINATION_PORT=tcp://… under the mover's feet.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** A configuration error: the entrypoint prints its message and exits 1 without a stack trace. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** The variable's value, or `fallback` when it is unset or empty. */
export function stringEnv(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** The variable's value; throws a ConfigError naming it when unset or empty. */
export function requiredEnv(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError(`${name} must be set`);
  return value;
}

/** A number within [min, max], or `fallback` when unset; throws a ConfigError naming the variable otherwise. */
export function numberEnv(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new ConfigError(`${name} must be a number between ${min} and ${max}, got "${raw}"`);
  return value;
}

/** An integer TCP port, or `fallback` when unset. */
export function portEnv(env: Env, name: string, fallback: number): number {
  const port = numberEnv(env, name, fallback, 1, 65535);
  if (!Number.isInteger(port)) throw new ConfigError(`${name} must be an integer port, got "${env[name]}"`);
  return port;
}

/** true/false from "true"/"1"/"yes" and "false"/"0"/"no" (any case), or `fallback` when unset. */
export function booleanEnv(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

/**
 * The absolute path of an executable: `nameOrPath` itself when it contains a slash, else the first
 * match on PATH. sshd refuses to start from a relative path (it re-executes itself), hence absolute.
 */
export function findExecutable(nameOrPath: string, path: string | undefined, variable: string): string {
  if (nameOrPath.includes('/')) {
    const absolute = isAbsolute(nameOrPath) ? nameOrPath : join(process.cwd(), nameOrPath);
    if (isExecutable(absolute)) return absolute;
    throw new ConfigError(`${variable}=${nameOrPath} is not an executable file`);
  }
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, nameOrPath);
    if (isExecutable(candidate)) return isAbsolute(candidate) ? candidate : join(process.cwd(), candidate);
  }
  throw new ConfigError(`"${nameOrPath}" was not found on PATH; install it or set ${variable} to its path`);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
