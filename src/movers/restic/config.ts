/**
 * The restic entrypoints' configuration, read from environment variables (see source.ts and
 * destination.ts for the contract). Errors name the variable. The repository Secret's keys
 * (RESTIC_REPOSITORY, RESTIC_PASSWORD, AWS_* …) are not read here: they pass through to restic.
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { booleanEnv, ConfigError, findExecutable, numberEnv, stringEnv } from '../runtime/env.js';
import { customCAFile } from '../custom-ca.js';
import { commandRefusal, commandsAllowed, resticRepositoryCommand } from '../commands.js';
import type { ResticArgsConfig } from './args.js';
import { DEFAULT_PRUNE_INTERVAL_DAYS } from './prune.js';
import { RETAIN_COUNT_FIELDS, resticWithin, type RetainPolicy } from './retain.js';

type Env = Record<string, string | undefined>;

/** Settings both entrypoints share. */
export interface ResticCommonConfig extends ResticArgsConfig {
  restic: string;
  /** Deadline for opening the repository, after which it counts as unreachable. */
  repositoryTimeoutMs: number;
}

/** The backup's settings. */
export interface ResticSourceConfig extends ResticCommonConfig {
  retain: RetainPolicy;
  pruneIntervalDays: number;
  lastPruned?: Date;
}

/** The restore's settings. */
export interface ResticDestinationConfig extends ResticCommonConfig {
  restoreAsOf?: Date;
  previous: number;
  /** enableFileDeletion: delete files the snapshot lacks (default false: keep them). */
  enableFileDeletion: boolean;
}

/** An RFC 3339 time, or undefined when unset. */
export function timeEnv(env: Env, name: string): Date | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(raw))
    throw new ConfigError(`${name} must be an RFC 3339 time such as 2024-05-01T12:00:00Z, got "${raw}"`);
  return new Date(raw);
}

/** A non-negative integer, or `fallback` when unset. */
export function countEnv(env: Env, name: string, fallback: number): number {
  const value = numberEnv(env, name, fallback, 0, Number.MAX_SAFE_INTEGER);
  if (!Number.isInteger(value)) throw new ConfigError(`${name} must be a whole number, got "${env[name]}"`);
  return value;
}

/**
 * The repository and its password, from the Secret's keys (the operator passes only those restic
 * documents, mover.ts; both are optional references, so a missing Secret leaves both unset).
 */
function requiredRepository(env: Env): void {
  const repository = env.RESTIC_REPOSITORY ?? '';
  const password = env.RESTIC_PASSWORD ?? '';
  if (repository === '' && password === '')
    throw new ConfigError(
      'RESTIC_REPOSITORY and RESTIC_PASSWORD are not set: the repository Secret does not exist or holds neither key',
    );
  if (repository === '') throw new ConfigError('RESTIC_REPOSITORY must be set (a key of the repository Secret)');
  if (password === '') throw new ConfigError('RESTIC_PASSWORD must be set (a key of the repository Secret)');
  const command = resticRepositoryCommand(repository);
  if (command !== undefined && !commandsAllowed(env))
    throw new ConfigError(commandRefusal([{ option: command, where: 'RESTIC_REPOSITORY' }], 'RESTIC_REPOSITORY'));
}

function commonConfig(env: Env): ResticCommonConfig {
  requiredRepository(env);
  const dataDir = resolve(stringEnv(env, 'SCRIBE_DATA_DIR', '/data'));
  if (!statSync(dataDir, { throwIfNoEntry: false })?.isDirectory())
    throw new ConfigError(`the data directory ${dataDir} (SCRIBE_DATA_DIR) does not exist`);
  const cacheDir = stringEnv(env, 'SCRIBE_CACHE_DIR', '/cache');
  const optionalKiB = (name: string) =>
    (env[name] ?? '') === '' ? undefined : Math.ceil(numberEnv(env, name, 0, 1, 1e9));
  const host = stringEnv(env, 'SCRIBE_RESTIC_HOST', 'scribe');
  if (!/^[A-Za-z0-9._-]+$/.test(host)) throw new ConfigError(`SCRIBE_RESTIC_HOST "${host}" is not a host name`);
  const config: ResticCommonConfig = {
    dataDir,
    cacheDir: isAbsolute(cacheDir) ? cacheDir : resolve(cacheDir),
    host,
    restic: findExecutable(stringEnv(env, 'SCRIBE_RESTIC', 'restic'), env.PATH, 'SCRIBE_RESTIC'),
    repositoryTimeoutMs: numberEnv(env, 'SCRIBE_REPOSITORY_TIMEOUT_SECONDS', 120, 1, 24 * 3600) * 1000,
  };
  const up = optionalKiB('SCRIBE_RESTIC_LIMIT_UPLOAD_KIB');
  const down = optionalKiB('SCRIBE_RESTIC_LIMIT_DOWNLOAD_KIB');
  if (up !== undefined) config.limitUploadKiB = up;
  if (down !== undefined) config.limitDownloadKiB = down;
  const caCert = customCAFile(env);
  if (caCert !== undefined) config.caCert = caCert;
  return config;
}

/** The retention policy from SCRIBE_RETAIN_{LAST,HOURLY,DAILY,WEEKLY,MONTHLY,YEARLY,WITHIN}. */
export function retainFromEnv(env: Env): RetainPolicy {
  const policy: RetainPolicy = {};
  for (const field of RETAIN_COUNT_FIELDS) {
    const name = `SCRIBE_RETAIN_${field.toUpperCase()}`;
    if ((env[name] ?? '').trim() !== '') policy[field] = countEnv(env, name, 0);
  }
  const within = env.SCRIBE_RETAIN_WITHIN?.trim();
  if (within !== undefined && within !== '') {
    try {
      resticWithin(within);
    } catch (error) {
      throw new ConfigError(`SCRIBE_RETAIN_WITHIN: ${(error as Error).message}`);
    }
    policy.within = within;
  }
  return policy;
}

/** Reads the backup's settings. */
export function sourceConfig(env: Env): ResticSourceConfig {
  const config: ResticSourceConfig = {
    ...commonConfig(env),
    retain: retainFromEnv(env),
    pruneIntervalDays: numberEnv(env, 'SCRIBE_PRUNE_INTERVAL_DAYS', DEFAULT_PRUNE_INTERVAL_DAYS, 0, 100_000),
  };
  const lastPruned = timeEnv(env, 'SCRIBE_LAST_PRUNED');
  if (lastPruned !== undefined) config.lastPruned = lastPruned;
  return config;
}

/** Reads the restore's settings. */
export function destinationConfig(env: Env): ResticDestinationConfig {
  const config: ResticDestinationConfig = {
    ...commonConfig(env),
    previous: countEnv(env, 'SCRIBE_PREVIOUS', 0),
    enableFileDeletion: booleanEnv(env, 'SCRIBE_ENABLE_FILE_DELETION', false),
  };
  const asOf = timeEnv(env, 'SCRIBE_RESTORE_AS_OF');
  if (asOf !== undefined) config.restoreAsOf = asOf;
  return config;
}
