/**
 * Configuration that runs programs (issue 21, "Secrets stay data"). An rclone.conf or a restic
 * repository location is data the user writes into a Secret, but a few of their options make the
 * tool start a program of the mover's image: anyone who can write the Secret would run code in
 * the trusted image with the mover's privileges. The operator never reads those Secrets, so it
 * tells the entrypoint whether the namespace allows such options (ALLOW_COMMANDS_ENV, true only
 * where movers may be privileged: the namespace annotation of machines/privilege.ts), and the
 * entrypoint refuses them otherwise, naming the option and the way out. Pure.
 */

/** Set by the operator to "true" in a namespace annotated for privileged movers. */
export const ALLOW_COMMANDS_ENV = 'SCRIBE_ALLOW_COMMAND_OPTIONS';

/** The namespace annotation that allows them (machines/privilege.ts). */
export const PRIVILEGED_ANNOTATION = 'scribe.backube/privileged-movers';

/** Whether the operator allowed options that run programs. */
export function commandsAllowed(env: Record<string, string | undefined>): boolean {
  return env[ALLOW_COMMANDS_ENV] === 'true';
}

/**
 * rclone's options (1.76: backend/sftp, backend/webdav, fs/config.go) that run a program, named
 * as in rclone.conf (lower case, `_`): sftp's `ssh` (an external ssh command line) and
 * `server_command` and `*sum_command` (run through it), webdav's `bearer_token_command`, and the
 * global `password_command` (config encryption), `metadata_mapper` and `name_transform`'s
 * `command=` action, which rclone.conf reaches with a `global.` or `override.` prefix. Any other
 * option ending in `_command` counts too.
 */
export const RCLONE_COMMAND_OPTIONS: readonly string[] = [
  'ssh',
  'server_command',
  'md5sum_command',
  'sha1sum_command',
  'sha256sum_command',
  'crc32sum_command',
  'blake3sum_command',
  'xxh3sum_command',
  'xxh128sum_command',
  'bearer_token_command',
  'password_command',
  'metadata_mapper',
  'name_transform',
];

/** An option's name as rclone.conf spells it: no global./override. prefix, lower case, `_`. */
function optionName(raw: string): string {
  return raw
    .trim()
    .replace(/^["']|["']$/g, '')
    .toLowerCase()
    .replace(/-/g, '_')
    .replace(/^(global|override)\./, '');
}

/** Whether `name` (with its value) makes rclone run a program. */
function runsCommand(name: string, value: string): boolean {
  const option = optionName(name);
  if (option === 'name_transform') return /command/i.test(value);
  return RCLONE_COMMAND_OPTIONS.includes(option) || option.endsWith('_command');
}

/**
 * The parameters of the connection strings in `text` (`remote,opt=value:` or `:type,opt=value:`,
 * which alias, crypt, union, combine, chunker, hasher and compress remotes accept as their
 * upstream): each `,name` or `,name=value` after a remote's name.
 */
function connectionParameters(text: string): Array<{ name: string; value: string }> {
  const parameters: Array<{ name: string; value: string }> = [];
  for (const match of text.matchAll(/,\s*([A-Za-z0-9_.-]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^,:]*))?/g))
    parameters.push({ name: match[1] as string, value: match[2] ?? '' });
  return parameters;
}

/** An option that runs a program, where it was found. */
export interface CommandOption {
  option: string;
  /** `[section]` of rclone.conf, or what else held it. */
  where: string;
}

/**
 * The options of an rclone.conf (and of the remote the mover is given, `section:path`) that run
 * a program; empty when there are none.
 */
export function rcloneCommandOptions(configText: string, remote?: string): CommandOption[] {
  const found: CommandOption[] = [];
  let section = '(before any section)';
  for (const line of configText.split(/\r?\n/)) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      section = `[${(header[1] as string).trim()}]`;
      continue;
    }
    const entry = /^\s*([^#;=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
    if (!entry) continue;
    const [, key, value] = entry as unknown as [string, string, string];
    if (runsCommand(key, value)) found.push({ option: optionName(key), where: `rclone.conf ${section}` });
    for (const parameter of connectionParameters(value))
      if (runsCommand(parameter.name, parameter.value))
        found.push({ option: optionName(parameter.name), where: `rclone.conf ${section} ${optionName(key)}` });
  }
  if (remote !== undefined)
    for (const parameter of connectionParameters(remote.split(':')[0] ?? ''))
      if (runsCommand(parameter.name, parameter.value))
        found.push({ option: optionName(parameter.name), where: 'the remote (rcloneConfigSection)' });
  return found;
}

/** The refusal of `found`, naming the options and the way out. */
export function commandRefusal(found: readonly CommandOption[], what: string): string {
  const list = found.map((f) => `${f.option} (${f.where})`).join(', ');
  return (
    `${what} runs a program: ${list}; options that run programs are refused unless the namespace is ` +
    `annotated ${PRIVILEGED_ANNOTATION}=true (an administrator's choice, as for privileged movers); ` +
    'remove them, or ask an administrator to annotate the namespace'
  );
}

/**
 * Whether a restic repository location makes restic start a program: `rclone:` runs rclone (whose
 * inline options can run another), `sftp:` runs ssh with the location's host as its first
 * argument. Undefined for the others (s3:, azure:, b2:, gs:, swift:, rest:, a path).
 */
export function resticRepositoryCommand(repository: string): string | undefined {
  const scheme = /^(rclone|sftp):/i.exec(repository.trim())?.[1]?.toLowerCase();
  return scheme === undefined ? undefined : `${scheme}: (runs ${scheme === 'rclone' ? 'rclone' : 'ssh'})`;
}
