/**
 * The rclone entrypoints' configuration from environment variables (see source.ts and
 * destination.ts), and the secrets of rclone.conf for the redactor. Errors name the variable.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, findExecutable, requiredEnv, stringEnv } from '../runtime/env.js';
import { remotePath } from './args.js';
import { customCAFile } from '../custom-ca.js';
import { commandRefusal, commandsAllowed, rcloneCommandOptions } from '../commands.js';

type Env = Record<string, string | undefined>;

/** The settings both entrypoints share. */
export interface RcloneConfig {
  dataDir: string;
  /** The mounted rclone.conf (read-only; a private copy is what rclone gets). */
  configSource: string;
  configText: string;
  section: string;
  remote: string;
  runDir: string;
  rclone: string;
  /** customCA's bundle (SCRIBE_CUSTOM_CA). */
  caCert?: string | undefined;
}

/** Reads and checks the settings. */
export function rcloneConfig(env: Env, defaultRunDir: string): RcloneConfig {
  const dataDir = resolve(stringEnv(env, 'SCRIBE_DATA_DIR', '/data'));
  if (!statSync(dataDir, { throwIfNoEntry: false })?.isDirectory())
    throw new ConfigError(`the data directory ${dataDir} (SCRIBE_DATA_DIR) does not exist`);
  const configSource = stringEnv(env, 'SCRIBE_RCLONE_CONFIG', '/rclone-config/rclone.conf');
  let configText: string;
  try {
    configText = readFileSync(configSource, 'utf8');
  } catch {
    throw new ConfigError(
      `cannot read the rclone configuration ${configSource} (SCRIBE_RCLONE_CONFIG); the rcloneConfig Secret must hold rclone.conf`,
    );
  }
  const section = requiredEnv(env, 'SCRIBE_RCLONE_CONFIG_SECTION');
  if (!configSections(configText).includes(section))
    throw new ConfigError(
      `rclone.conf has no section [${section}] (SCRIBE_RCLONE_CONFIG_SECTION); it has: ${configSections(configText).join(', ') || 'none'}`,
    );
  let remote: string;
  try {
    remote = remotePath(section, requiredEnv(env, 'SCRIBE_RCLONE_DEST_PATH'));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`SCRIBE_RCLONE_DEST_PATH: ${(error as Error).message}`);
  }
  // Options that run a program only where the namespace allows privileged movers (commands.ts).
  const commands = rcloneCommandOptions(configText, remote);
  if (commands.length > 0 && !commandsAllowed(env)) throw new ConfigError(commandRefusal(commands, 'rclone.conf'));
  return {
    dataDir,
    configSource,
    configText,
    section,
    remote,
    runDir: stringEnv(env, 'SCRIBE_RUN_DIR', defaultRunDir),
    rclone: findExecutable(stringEnv(env, 'SCRIBE_RCLONE', 'rclone'), env.PATH, 'SCRIBE_RCLONE'),
    caCert: customCAFile(env),
  };
}

/** The section names of an rclone.conf. */
export function configSections(text: string): string[] {
  return [...text.matchAll(/^\s*\[([^\]]+)\]\s*$/gm)].map((m) => (m[1] as string).trim());
}

/** Values in rclone.conf that are secret, to redact from output (shared with restic: ../runtime/redact.ts). */
export { configSecrets } from '../runtime/redact.js';
