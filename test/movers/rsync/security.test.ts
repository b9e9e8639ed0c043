/**
 * The destination accepts only the source's key, and with it only a push into the data directory
 * or the shutdown handshake; the source accepts only the destination's pinned host key.
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHostsLine, renderSshClientConfig } from '../../../src/movers/rsync/ssh-client.js';
import {
  run,
  startDestination,
  startEntrypoint,
  sourceEnv,
  tempDir,
  toolPath,
  writeKeySecrets,
  type Destination,
} from './support/harness.js';

const cleanup: (() => void)[] = [];
let work: string;
let keys: { source: string; destination: string };
let destination: Destination;
let sshConfig: string;
let sourceDir: string;

beforeAll(async () => {
  work = tempDir(cleanup);
  keys = writeKeySecrets(work);
  sourceDir = join(work, 'source-volume');
  mkdirSync(sourceDir);
  writeFileSync(join(sourceDir, 'data.txt'), 'payload\n');
  const destDir = join(work, 'destination-volume');
  mkdirSync(destDir);
  destination = await startDestination(keys.destination, destDir);
  sshConfig = clientConfig(keys.source, 'client', destination.port);
});

afterAll(async () => {
  destination.proc.killTree();
  await destination.proc.exited;
  cleanup.forEach((fn) => fn());
});

/** An ssh client config like the source's, using the key Secret in `keysDir`. */
function clientConfig(keysDir: string, name: string, port: number): string {
  const dir = join(work, name);
  mkdirSync(dir);
  copyFileSync(join(keysDir, 'source'), join(dir, 'id'));
  chmodSync(join(dir, 'id'), 0o600);
  writeFileSync(join(dir, 'known_hosts'), knownHostsLine(readFileSync(join(keysDir, 'destination.pub'), 'utf8')));
  const config = join(dir, 'ssh_config');
  writeFileSync(
    config,
    renderSshClientConfig({
      port,
      user: 'root',
      identityFile: join(dir, 'id'),
      knownHostsFile: join(dir, 'known_hosts'),
      connectTimeoutSeconds: 5,
    }),
  );
  return config;
}

const ssh = (config: string, ...command: string[]) =>
  run('ssh', ['-F', config, '127.0.0.1', ...command], { ...process.env, PATH: toolPath() });

describe('rsync destination access control', () => {
  it('refuses any command other than rsync or shutdown, and keeps running', async () => {
    for (const command of [
      ['cat', '/etc/passwd'],
      ['sh', '-c', 'id'],
      ['shutdown', '999'],
      ['shutdown', '0;', 'id'],
      ['rsync'],
    ]) {
      const result = await ssh(sshConfig, ...command);
      expect(result.code, command.join(' ')).toBe(1);
      expect(result.output).toMatch(
        /scribe rsync destination: refused command ".*": only "rsync --server …" .* and "shutdown <exit code 0-255>" or "shutdown -" are allowed/,
      );
    }
    const shell = await ssh(sshConfig);
    expect(shell.output).toContain('refused an interactive session');
    expect(destination.proc.child.exitCode).toBeNull();
  });

  it('refuses to send data back (rsync --sender) and to write outside the data directory', async () => {
    const env = { ...process.env, PATH: toolPath() };
    const pull = await run('rsync', ['-a', '-e', `ssh -F ${sshConfig}`, '127.0.0.1:.', join(work, 'pulled')], env);
    expect(pull.code).not.toBe(0);
    expect(pull.output).toContain('this destination only receives data');
    const escape = await run(
      'rsync',
      ['-a', '-e', `ssh -F ${sshConfig}`, `${sourceDir}/`, '127.0.0.1:../escaped'],
      env,
    );
    expect(escape.code).not.toBe(0);
    expect(escape.output).toMatch(/rrsync error: do not use \.\. in arg/);
    expect(readdirSync(work)).not.toContain('escaped');
    // An absolute path is anchored in the data directory, never the host's /.
    const absolute = await run(
      'rsync',
      ['-a', '-e', `ssh -F ${sshConfig}`, `${sourceDir}/`, '127.0.0.1:/anchored'],
      env,
    );
    expect(absolute.code, absolute.output).toBe(0);
    expect(readdirSync(join(destination.dataDir, 'anchored'))).toEqual(['data.txt']);
  });

  it('refuses a source with a key the destination does not know, without retrying', { timeout: 30_000 }, async () => {
    const strangerKeys = writeKeySecrets(tempDir(cleanup));
    // The stranger trusts the right destination host key but holds its own client key.
    copyFileSync(join(keys.source, 'destination.pub'), join(strangerKeys.source, 'destination.pub'));
    const source = startEntrypoint('source', sourceEnv(strangerKeys.source, sourceDir, destination.port));
    // rsync reports ssh failing as 12 or 255, depending on which it notices first.
    expect([12, 255]).toContain(await source.exited);
    expect(source.output).toContain("the destination refused the source's key");
    expect(source.output).toMatch(/after 1 attempt\(s\)/);
    expect(destination.proc.child.exitCode).toBeNull();
  });

  it('refuses a destination whose host key differs from destination.pub', { timeout: 30_000 }, async () => {
    const otherKeys = writeKeySecrets(tempDir(cleanup));
    // Right client key, wrong pinned host key.
    copyFileSync(join(keys.source, 'source'), join(otherKeys.source, 'source'));
    const source = startEntrypoint('source', sourceEnv(otherKeys.source, sourceDir, destination.port));
    // rsync reports ssh failing as 12 or 255, depending on which it notices first.
    expect([12, 255]).toContain(await source.exited);
    expect(source.output).toContain("the destination's host key does not match destination.pub");
    expect(readdirSync(destination.dataDir)).not.toContain('data.txt');
  });

  it('ends the destination with the exit code the source sends', async () => {
    const result = await ssh(sshConfig, 'shutdown', '23');
    expect(result.code, result.output).toBe(0);
    expect(await destination.proc.exited).toBe(23);
    expect(destination.proc.output).toContain('result: the source reported failure (exit code 23); exit code 23');
  });
});
