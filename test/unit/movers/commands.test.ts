/**
 * Configuration that runs programs (issue 21): rclone.conf options and restic repository
 * locations that start a program are refused by the entrypoints unless the operator says the
 * namespace allows them, with a message naming the option and the way out.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rcloneCommandOptions, resticRepositoryCommand } from '../../../src/movers/commands.js';
import { rcloneConfig } from '../../../src/movers/rclone/config.js';
import { sourceConfig } from '../../../src/movers/restic/config.js';
import { ConfigError } from '../../../src/movers/runtime/env.js';

const dir = mkdtempSync(join(tmpdir(), 'scribe-commands-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const S3 = '[remote]\ntype = s3\nprovider = Minio\naccess_key_id = id\nsecret_access_key = key\nendpoint = http://x\n';

describe('rclone.conf options that run a program', () => {
  it.each([
    ['sftp ssh', '[remote]\ntype = sftp\nssh = sh -c "id > /tmp/owned"\n', 'ssh'],
    ['sftp server_command', '[remote]\ntype = sftp\nhost = h\nserver_command = sudo sftp-server\n', 'server_command'],
    ['sftp md5sum_command', '[remote]\ntype = sftp\nhost = h\nmd5sum_command = md5sum\n', 'md5sum_command'],
    [
      'webdav bearer_token_command',
      '[remote]\ntype = webdav\nbearer_token_command = /bin/sh -c x\n',
      'bearer_token_command',
    ],
    ['global password_command', `${S3}global.password_command = /bin/sh -c x\n`, 'password_command'],
    ['override ssh, dashed', '[remote]\ntype = sftp\noverride.SSH = x\n', 'ssh'],
    ['global metadata_mapper', `${S3}global.metadata_mapper = /bin/sh\n`, 'metadata_mapper'],
    ['name_transform command', `${S3}global.name_transform = all,command=/bin/sh\n`, 'name_transform'],
    ['an alias to an inline sftp', '[remote]\ntype = alias\nremote = :sftp,ssh="sh -c x":/\n', 'ssh'],
    [
      'a crypt over an inline global',
      `${S3}[c]\ntype = crypt\nremote = remote,global.password_command=x:b\n`,
      'password_command',
    ],
    [
      'a union of inline webdav',
      '[remote]\ntype = union\nupstreams = a: :webdav,bearer_token_command=x:\n',
      'bearer_token_command',
    ],
  ])('%s is found', (_name, text, option) => {
    expect(rcloneCommandOptions(text).map((f) => f.option)).toContain(option);
  });

  it('finds nothing in ordinary configs', () => {
    expect(rcloneCommandOptions(S3)).toEqual([]);
    expect(rcloneCommandOptions('[remote]\ntype = sftp\nhost = h\nuser = u\nkey_pem = abc\n')).toEqual([]);
    expect(rcloneCommandOptions(`${S3}global.name_transform = suffix=.bak\n`)).toEqual([]);
    expect(rcloneCommandOptions('[a]\ntype = alias\nremote = remote:bucket,with,commas\n')).toEqual([]);
  });

  it('the rclone entrypoint refuses them unless allowed, naming the option and the annotation', () => {
    const data = mkdtempSync(join(dir, 'data-'));
    const conf = join(dir, 'rclone.conf');
    writeFileSync(conf, '[remote]\ntype = sftp\nhost = h\nssh = sh -c "id > /tmp/owned"\n');
    const env = {
      SCRIBE_DATA_DIR: data,
      SCRIBE_RCLONE_CONFIG: conf,
      SCRIBE_RCLONE_CONFIG_SECTION: 'remote',
      SCRIBE_RCLONE_DEST_PATH: 'bucket',
      SCRIBE_RCLONE: '/bin/true',
    };
    for (const allow of [undefined, 'false', 'yes'])
      expect(() => rcloneConfig({ ...env, SCRIBE_ALLOW_COMMAND_OPTIONS: allow }, dir)).toThrow(
        /rclone\.conf runs a program: ssh \(rclone\.conf \[remote\]\).*scribe\.backube\/privileged-movers=true/,
      );
    expect(() => rcloneConfig({ ...env, SCRIBE_ALLOW_COMMAND_OPTIONS: 'true' }, dir)).not.toThrow();
  });
});

describe('restic repositories reached through a program', () => {
  it.each([
    ['rclone:remote:path', 'rclone'],
    ['sftp:-oProxyCommand=sh:/x', 'sftp'],
    ['SFTP:user@host:/srv', 'sftp'],
  ])('%s', (repository, scheme) => expect(resticRepositoryCommand(repository)).toMatch(new RegExp(`^${scheme}:`)));

  it.each(['s3:http://127.0.0.1:9000/b', 'azure:c:/', 'b2:b:/', 'gs:b:/', 'rest:http://h/', '/srv/repo'])(
    '%s runs nothing',
    (repository) => expect(resticRepositoryCommand(repository)).toBeUndefined(),
  );

  it('the restic entrypoint refuses them unless allowed', () => {
    const data = mkdtempSync(join(dir, 'data-'));
    const env = {
      SCRIBE_DATA_DIR: data,
      SCRIBE_RESTIC: '/bin/true',
      RESTIC_REPOSITORY: 'rclone::sftp,ssh="sh -c x":/',
      RESTIC_PASSWORD: 'pw',
    };
    expect(() => sourceConfig(env)).toThrow(ConfigError);
    expect(() => sourceConfig(env)).toThrow(/RESTIC_REPOSITORY runs a program: rclone:.*privileged-movers=true/);
    expect(() => sourceConfig({ ...env, SCRIBE_ALLOW_COMMAND_OPTIONS: 'true' })).not.toThrow();
  });

  it('a missing Secret (neither key) is told apart from a missing key', () => {
    const data = mkdtempSync(join(dir, 'data-'));
    expect(() => sourceConfig({ SCRIBE_DATA_DIR: data, SCRIBE_RESTIC: '/bin/true' })).toThrow(
      /RESTIC_REPOSITORY and RESTIC_PASSWORD are not set: the repository Secret does not exist/,
    );
    expect(() => sourceConfig({ SCRIBE_DATA_DIR: data, SCRIBE_RESTIC: '/bin/true', RESTIC_PASSWORD: 'x' })).toThrow(
      /RESTIC_REPOSITORY must be set/,
    );
  });
});
