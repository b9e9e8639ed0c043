/**
 * The plugin's config file: `--config FILE`, else ./config.yaml, else ~/.scribeconfig/config.yaml
 * (the first that exists; files are not merged). Flags override what the file says.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { PluginError } from './errors.js';
import { isOptionKey, OPTION_KEYS, type OptionValues } from './options.js';

/** Where the config file is looked for. */
export interface ConfigLookup {
  /** The --config value, if given. */
  explicit?: string | undefined;
  cwd?: string;
  home?: string;
}

/** The config file that applies, or undefined when none exists. */
export function findConfigFile(lookup: ConfigLookup = {}): string | undefined {
  const cwd = lookup.cwd ?? process.cwd();
  if (lookup.explicit) {
    const path = resolve(cwd, lookup.explicit);
    if (!existsSync(path)) throw new PluginError(`--config ${lookup.explicit}: no such file`);
    return path;
  }
  // HOME first: tests and users can point it elsewhere, and os.homedir() honours it too.
  const home = lookup.home ?? process.env.HOME ?? homedir();
  return [join(cwd, 'config.yaml'), join(home, '.scribeconfig', 'config.yaml')].find((p) => existsSync(p));
}

/** Reads a config file's option values; unknown keys are refused so a typo does not go unnoticed. */
export function readConfigFile(path: string): OptionValues {
  let document: unknown;
  try {
    document = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new PluginError(`${path}: not valid YAML: ${(error as Error).message}`);
  }
  if (document === null || document === undefined) return {};
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new PluginError(`${path}: expected "key: value" lines, as in the seed's example config`);
  }
  const values: OptionValues = {};
  for (const [key, value] of Object.entries(document as Record<string, unknown>)) {
    if (!isOptionKey(key)) {
      throw new PluginError(`${path}: unknown option "${key}"; known options: ${OPTION_KEYS.join(', ')}`);
    }
    if (value === null || value === undefined) continue;
    if (typeof value === 'object') throw new PluginError(`${path}: ${key} must be a single value, not a list or map`);
    values[key] = String(value);
  }
  return values;
}

/** Flag values over the config file's: the values that apply, and the file they came from. */
export function mergeOptions(
  flags: OptionValues,
  lookup: ConfigLookup = {},
): { values: OptionValues; configFile: string | undefined } {
  const configFile = findConfigFile(lookup);
  const fromFile = configFile ? readConfigFile(configFile) : {};
  const values: OptionValues = { ...fromFile };
  for (const key of OPTION_KEYS) {
    const flag = flags[key];
    if (flag !== undefined) values[key] = flag;
  }
  return { values, configFile };
}
