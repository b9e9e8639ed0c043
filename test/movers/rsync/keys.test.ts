/** Key generation checked with the real ssh-keygen, and the key Secret validator. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateRsyncSecretContents,
  generateSshKeyPair,
  isOpenSshPublicKey,
  REQUIRED_KEYS,
  rsyncSecretProblems,
  type SecretLike,
} from '../../../src/movers/rsync/keys.js';
import { repoRoot } from '../../../src/local/tools.js';
import { run, tempDir, toolPath } from './support/harness.js';

const cleanup: (() => void)[] = [];
let work: string;
const env = () => ({ ...process.env, PATH: toolPath() });

beforeAll(() => {
  work = tempDir(cleanup);
});
afterAll(() => cleanup.forEach((fn) => fn()));

function asSecret(name: string, contents: Record<string, string>): SecretLike {
  return {
    metadata: { name },
    data: Object.fromEntries(Object.entries(contents).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

describe('generateSshKeyPair', () => {
  it('writes an ed25519 private key that ssh-keygen reads and whose public half matches', async () => {
    for (let i = 0; i < 5; i++) {
      const pair = generateSshKeyPair(`comment-${i}`);
      const file = join(work, `key-${i}`);
      writeFileSync(file, pair.privateKey, { mode: 0o600 });
      const derived = await run('ssh-keygen', ['-y', '-f', file], env());
      expect(derived.code, derived.output).toBe(0);
      // ssh-keygen -y prints the public key with the comment stored in the private key.
      expect(derived.output.trim()).toBe(pair.publicKey.trim());
      const fingerprint = await run('ssh-keygen', ['-l', '-f', file], env());
      expect(fingerprint.output).toMatch(new RegExp(`^256 SHA256:\\S+ comment-${i} \\(ED25519\\)`));
    }
  });

  it('generates distinct pairs', () => {
    const keys = new Set(Array.from({ length: 20 }, () => generateSshKeyPair().publicKey));
    expect(keys.size).toBe(20);
  });
});

describe('rsync key Secrets', () => {
  it('lays out the two Secrets as design decision 10 says', () => {
    const contents = generateRsyncSecretContents();
    expect(Object.keys(contents.source).sort()).toEqual([...REQUIRED_KEYS.source].sort());
    expect(Object.keys(contents.destination).sort()).toEqual([...REQUIRED_KEYS.destination].sort());
    expect(contents.source['destination.pub']).toBe(contents.destination['destination.pub']);
    expect(contents.destination['source.pub']).toBe(contents.source['source.pub']);
    expect(rsyncSecretProblems(asSecret('src', contents.source), 'source')).toEqual([]);
    expect(rsyncSecretProblems(asSecret('dst', contents.destination), 'destination')).toEqual([]);
  });

  it('names the Secret and each missing key', () => {
    const contents = generateRsyncSecretContents();
    const { 'destination.pub': _dropped, ...partial } = contents.source;
    expect(rsyncSecretProblems(asSecret('my-keys', partial), 'source')).toEqual([
      'Secret "my-keys" lacks key "destination.pub", which the rsync source needs',
    ]);
    expect(rsyncSecretProblems({ metadata: { name: 'empty' } }, 'destination')).toEqual([
      'Secret "empty" lacks key "destination", which the rsync destination needs',
      'Secret "empty" lacks key "destination.pub", which the rsync destination needs',
      'Secret "empty" lacks key "source.pub", which the rsync destination needs',
    ]);
    // The source's Secret given to the destination: its own private key is not there.
    expect(rsyncSecretProblems(asSecret('swapped', contents.source), 'destination')).toEqual([
      'Secret "swapped" lacks key "destination", which the rsync destination needs',
    ]);
  });

  it('reports malformed keys', () => {
    const contents = generateRsyncSecretContents();
    const broken = { ...contents.source, source: 'not a key', 'source.pub': 'ssh-ed25519 !!!', 'destination.pub': '' };
    expect(rsyncSecretProblems(asSecret('bad', broken), 'source')).toEqual([
      'Secret "bad" key "source" is not a PEM private key (-----BEGIN … PRIVATE KEY-----)',
      'Secret "bad" key "source.pub" is not an OpenSSH public key ("<type> <base64> [comment]")',
      'Secret "bad" has an empty key "destination.pub"',
    ]);
  });

  it(
    'accepts keys made as the seed documents (ssh-keygen -t rsa -b 4096 -C "" -N "")',
    { timeout: 30_000 },
    async () => {
      const made: Record<string, string> = {};
      for (const name of ['source', 'destination']) {
        const result = await run(
          'ssh-keygen',
          ['-q', '-t', 'rsa', '-b', '4096', '-f', join(work, name), '-C', '', '-N', ''],
          env(),
        );
        expect(result.code, result.output).toBe(0);
        made[name] = readFileSync(join(work, name), 'utf8');
        made[`${name}.pub`] = readFileSync(join(work, `${name}.pub`), 'utf8');
      }
      expect(isOpenSshPublicKey(made['source.pub'] ?? '')).toBe(true);
      expect(rsyncSecretProblems(asSecret('user-made', made), 'source')).toEqual([]);
      expect(rsyncSecretProblems(asSecret('user-made', made), 'destination')).toEqual([]);
    },
  );

  it('rejects a public key whose blob names another type', () => {
    const pair = generateSshKeyPair();
    expect(isOpenSshPublicKey(pair.publicKey)).toBe(true);
    expect(isOpenSshPublicKey(pair.publicKey.replace('ssh-ed25519', 'ssh-rsa'))).toBe(false);
    expect(isOpenSshPublicKey(`${pair.publicKey}${pair.publicKey}`)).toBe(false);
  });
});

describe('key generation under frequent garbage collection', () => {
  it('makes 5,000 pairs in a node with 1 MiB semi-spaces (the chart’s) without deadlocking', async () => {
    // Exporting a freshly generated KeyObject deadlocked Node 20 when a collection during the
    // export ran the generation job's destructor (keys.ts): the child would never exit.
    const script = [
      `const { generateSshKeyPair } = await import(${JSON.stringify(join(repoRoot(), 'src/movers/rsync/keys.ts'))});`,
      'const junk = [];',
      'for (let i = 0; i < 5000; i++) {',
      "  if (!generateSshKeyPair('k').publicKey.startsWith('ssh-ed25519 ')) process.exit(3);",
      "  junk.push('x'.repeat(200) + i);",
      '  if (junk.length > 1000) junk.length = 0;',
      '}',
    ].join('\n');
    const child = spawn(
      process.execPath,
      [
        '--max-semi-space-size=1',
        '--import',
        join(repoRoot(), 'node_modules/tsx/dist/loader.mjs'),
        '--input-type=module',
        '-e',
        script,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 90_000, killSignal: 'SIGKILL' },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  }, 120_000);
});
