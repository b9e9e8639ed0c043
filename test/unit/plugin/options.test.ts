import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findConfigFile, mergeOptions, readConfigFile } from '../../../src/plugin/config-file.js';
import { PluginError } from '../../../src/plugin/errors.js';
import { OPTION_KEYS, STATIC_DEFAULTS } from '../../../src/plugin/options.js';
import { flagValues, buildProgram } from '../../../src/plugin/program.js';
import { optionProblems, optionValue, parseProviderParams, validateOptions } from '../../../src/plugin/validate.js';

let dir: string;
let cwd: string;
let home: string;
let savedHome: string | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scribe-plugin-options-'));
  cwd = join(dir, 'work');
  home = join(dir, 'home');
  await mkdir(cwd, { recursive: true });
  await mkdir(join(home, '.scribeconfig'), { recursive: true });
  savedHome = process.env.HOME;
  process.env.HOME = home;
});
afterEach(async () => {
  process.env.HOME = savedHome;
  await rm(dir, { recursive: true, force: true });
});

/** The flags commander hands the start-replication action for these arguments. */
async function parsedFlags(args: string[]) {
  const program = buildProgram({ out: () => {}, write: () => {} });
  let captured: Record<string, unknown> = {};
  const command = program.commands.find((c) => c.name() === 'start-replication');
  command?.action((opts: Record<string, unknown>) => {
    captured = opts;
  });
  await program.parseAsync(['node', 'kubectl-scribe', 'start-replication', ...args]);
  return captured;
}

describe('option precedence: flag over ./config.yaml over ~/.scribeconfig/config.yaml', () => {
  it('takes ~/.scribeconfig/config.yaml when there is no ./config.yaml', async () => {
    await writeFile(join(home, '.scribeconfig', 'config.yaml'), 'dest-namespace: from-home\nsource-pvc: home-pvc\n');
    const { values, configFile } = mergeOptions(flagValues(await parsedFlags([])), { cwd });
    expect(configFile).toBe(join(home, '.scribeconfig', 'config.yaml'));
    expect(values).toMatchObject({ 'dest-namespace': 'from-home', 'source-pvc': 'home-pvc' });
  });

  it('prefers ./config.yaml to the home file (files are not merged)', async () => {
    await writeFile(join(home, '.scribeconfig', 'config.yaml'), 'dest-namespace: from-home\nsource-pvc: home-pvc\n');
    await writeFile(join(cwd, 'config.yaml'), 'dest-namespace: from-cwd\n');
    const { values, configFile } = mergeOptions({}, { cwd });
    expect(configFile).toBe(join(cwd, 'config.yaml'));
    expect(values['dest-namespace']).toBe('from-cwd');
    expect(values['source-pvc']).toBeUndefined();
  });

  it('lets a flag override the file', async () => {
    await writeFile(join(cwd, 'config.yaml'), 'dest-namespace: from-cwd\ndest-copy-method: Snapshot\n');
    const flags = flagValues(await parsedFlags(['--dest-namespace', 'from-flag', '--source-pvc', 'data']));
    const { values } = mergeOptions(flags, { cwd });
    expect(values).toMatchObject({
      'dest-namespace': 'from-flag',
      'dest-copy-method': 'Snapshot',
      'source-pvc': 'data',
    });
  });

  it('reads --config FILE instead of either default file, relative to the working directory', async () => {
    await writeFile(join(cwd, 'config.yaml'), 'dest-namespace: from-cwd\n');
    await writeFile(join(cwd, 'other.yaml'), 'dest-namespace: from-other\n');
    const flags = await parsedFlags(['--config', 'other.yaml']);
    expect(flags.config).toBe('other.yaml');
    const { values } = mergeOptions(flagValues(flags), { cwd, explicit: flags.config as string });
    expect(values['dest-namespace']).toBe('from-other');
    expect(() => findConfigFile({ cwd, explicit: 'missing.yaml' })).toThrow(/--config missing.yaml: no such file/);
  });

  it('finds no file when there is none', () => {
    expect(findConfigFile({ cwd })).toBeUndefined();
    expect(mergeOptions({}, { cwd }).values).toEqual({});
  });

  it('reads the seed example config as printed, numbers and all', async () => {
    const seed = [
      'dest-kube-context: destuser',
      'dest-kube-clustername: destination123',
      'dest-service-type: LoadBalancer',
      'dest-access-mode: ReadWriteOnce',
      'dest-copy-method: Snapshot',
      'dest-namespace: dest',
      'dest-port: 22',
      'source-kube-context: sourceuser',
      'source-kube-clustername: api-source-com:6443',
      'source-namespace: source',
      'source-service-type: LoadBalancer',
      'source-copy-method: Snapshot',
      'source-pvc: mysql-pv-claim',
      'source-cron-spec: "*/3 * * * * "',
    ].join('\n');
    await writeFile(join(cwd, 'config.yaml'), seed);
    const values = readConfigFile(join(cwd, 'config.yaml'));
    expect(values['source-kube-clustername']).toBe('api-source-com:6443');
    expect(values['dest-port']).toBe('22');
    expect(() => validateOptions(values)).not.toThrow();
  });

  it('refuses unknown keys and non-scalar values in the file, naming the file and key', async () => {
    await writeFile(join(cwd, 'config.yaml'), 'dest-namespace: x\ndest-namepsace: typo\n');
    expect(() => readConfigFile(join(cwd, 'config.yaml'))).toThrow(/unknown option "dest-namepsace"/);
    await writeFile(join(cwd, 'config.yaml'), 'dest-access-mode: [ReadWriteOnce]\n');
    expect(() => readConfigFile(join(cwd, 'config.yaml'))).toThrow(/dest-access-mode must be a single value/);
    await writeFile(join(cwd, 'config.yaml'), '- a\n- b\n');
    expect(() => readConfigFile(join(cwd, 'config.yaml'))).toThrow(PluginError);
  });
});

describe('every option of the seed has a flag', () => {
  it('on each of the four seed commands', () => {
    const program = buildProgram({ out: () => {}, write: () => {} });
    for (const name of ['start-replication', 'set-replication', 'continue-replication', 'remove-replication']) {
      const flags = program.commands.find((c) => c.name() === name)?.options.map((o) => o.long) ?? [];
      for (const key of OPTION_KEYS) expect(flags).toContain(`--${key}`);
      expect(flags).toContain('--config');
    }
  });
});

describe('defaults, as the seed lists them', () => {
  it('apply when neither flag nor file sets a value', () => {
    expect(optionValue({}, 'dest-service-type')).toBe('ClusterIP');
    expect(optionValue({}, 'dest-ssh-user')).toBe('root');
    expect(optionValue({}, 'source-ssh-user')).toBe('root');
    expect(optionValue({}, 'dest-port')).toBe('22');
    expect(optionValue({}, 'dest-path')).toBe('/');
    expect(optionValue({}, 'source-capacity')).toBe('2Gi');
    // The seed's value, trailing space included; schedules are trimmed when used (decision 5).
    expect(optionValue({}, 'source-cron-spec')).toBe('*/3 * * * * ');
    expect(optionValue({}, 'dest-cron-spec')).toBeUndefined(); // continuous
    expect(optionValue({ 'dest-port': '2222' }, 'dest-port')).toBe('2222');
    expect(Object.keys(STATIC_DEFAULTS).every((k) => (OPTION_KEYS as readonly string[]).includes(k))).toBe(true);
  });

  it('are valid', () => {
    expect(optionProblems({})).toEqual([]);
  });
});

describe('validation', () => {
  it('refuses dest-copy-method Clone clearly (decision 6)', () => {
    expect(() => validateOptions({ 'dest-copy-method': 'Clone' })).toThrow(
      /dest-copy-method: Clone is not supported at a destination \(decision 6\)/,
    );
  });

  it('names each bad option in one message', () => {
    const problems = optionProblems({
      'source-copy-method': 'Copy',
      'dest-access-mode': 'ReadWriteAll',
      'dest-port': '70000',
      'source-cron-spec': '0 */30 * * * *',
      'dest-cron-spec': 'often',
      'dest-capacity': 'lots',
      'dest-service-type': 'NodePort',
      'dest-namespace': 'Dest',
      'dest-path': 'relative',
      'source-provider-params': 'novalue',
    });
    expect(problems.join('\n')).toMatchInlineSnapshot(`
      "dest-access-mode: "ReadWriteAll" must be one of ReadWriteOnce|ReadOnlyMany|ReadWriteMany|ReadWriteOncePod
      dest-service-type: "NodePort" must be one of ClusterIP|LoadBalancer
      dest-capacity: "lots" is not a quantity such as 2Gi or 500Mi
      dest-port: "70000" must be a port number 1-65535
      dest-namespace: "Dest" is not a valid namespace name
      dest-cron-spec: "often" must have 5 fields (minute hour day-of-month month day-of-week), not 1
      source-provider-params: "novalue" must be 'key=value,key1=value1'
      source-cron-spec: "0 */30 * * * *" has 6 fields; 6-field expressions (with seconds) are not supported: use 5 fields (minute hour day-of-month month day-of-week)
      source-copy-method: "Copy" must be one of None|Clone|Snapshot
      dest-path: "relative" must be an absolute path starting with /"
    `);
  });

  it('parses provider params', () => {
    expect(parseProviderParams('a=1,b=two=2')).toEqual({ a: '1', b: 'two=2' });
    expect(parseProviderParams(undefined)).toBeUndefined();
    expect(() => parseProviderParams('=x')).toThrow(/not key=value/);
  });
});
