/**
 * bin/external-rsync-source pushes a directory into a running destination entrypoint with nothing
 * but bash, rsync and ssh on PATH (no node, no coreutils).
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findExecutable } from '../../../src/movers/runtime/env.js';
import { REPO_ROOT, run, startDestination, tempDir, toolPath, writeKeySecrets } from './support/harness.js';

const cleanup: (() => void)[] = [];
const script = join(REPO_ROOT, 'bin/external-rsync-source');
let work: string;
let keys: { source: string; destination: string };
let sourceKey: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  work = tempDir(cleanup);
  keys = writeKeySecrets(work);
  // The key as a user would save it from the Secret: owner-only.
  sourceKey = join(work, 'replication-key');
  copyFileSync(join(keys.source, 'source'), sourceKey);
  chmodSync(sourceKey, 0o600);
  // A PATH holding exactly bash, rsync and ssh.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  for (const tool of ['bash', 'rsync', 'ssh']) symlinkSync(findExecutable(tool, toolPath(), tool), join(bin, tool));
  env = { PATH: bin, HOME: work };
});

afterAll(() => cleanup.forEach((fn) => fn()));

describe('bin/external-rsync-source', () => {
  it('has no node on its PATH', async () => {
    expect(readdirSync(env.PATH as string).sort()).toEqual(['bash', 'rsync', 'ssh']);
    const probe = await run(join(env.PATH as string, 'bash'), ['-c', 'command -v node || echo "no node"'], env);
    expect(probe.output.trim()).toBe('no node');
  });

  it('delivers a directory into a running destination and ends it with success', { timeout: 60_000 }, async () => {
    const sourceDir = join(work, 'var-www-html');
    mkdirSync(join(sourceDir, 'assets'), { recursive: true });
    writeFileSync(join(sourceDir, 'index.html'), '<h1>migrated</h1>\n');
    writeFileSync(join(sourceDir, 'assets/app.js'), 'console.log(1)\n');
    const destDir = join(work, 'imported-volume');
    mkdirSync(destDir);
    writeFileSync(join(destDir, 'stale.txt'), 'removed by --delete\n');
    const destination = await startDestination(keys.destination, destDir);

    const result = await run(
      script,
      [
        '-d',
        '127.0.0.1',
        '-p',
        String(destination.port),
        '-i',
        sourceKey,
        '-s',
        `${sourceDir}/`,
        '-k',
        join(keys.source, 'destination.pub'),
      ],
      env,
    );
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('external-rsync-source: result: synchronization succeeded');
    expect(await destination.proc.exited).toBe(0);
    expect(readdirSync(destDir).sort()).toEqual(['assets', 'index.html']);
    expect(readFileSync(join(destDir, 'assets/app.js'), 'utf8')).toBe('console.log(1)\n');
  });

  it(
    'succeeds 20 times in a row against destinations that end like Pods, each recording the result',
    { timeout: 240_000 },
    async () => {
      // Each destination runs as PID 1 of its own PID namespace, as in its Pod: when it exits, the
      // kernel kills what it leaves behind, sshd's per-connection processes included. It used to
      // exit as soon as it had the result, sometimes before sshd had passed the acknowledgement on,
      // and the script then reported "the destination did not acknowledge" for a recorded sync.
      const runs = 20;
      const sourceDir = join(work, 'repeated-source');
      const destDir = join(work, 'repeated-volume');
      mkdirSync(sourceDir);
      mkdirSync(destDir);
      const args = (port: number) => [
        '-d',
        '127.0.0.1',
        '-p',
        String(port),
        '-i',
        sourceKey,
        '-s',
        sourceDir,
        '-k',
        join(keys.source, 'destination.pub'),
      ];
      // The next destination starts while the script runs against the current one, and each
      // destination's end is checked while the next run goes on.
      const outcomes: Promise<string | undefined>[] = [];
      let next = startDestination(keys.destination, destDir, {}, { asPod: true });
      for (let i = 1; i <= runs; i++) {
        const destination = await next;
        if (i < runs) next = startDestination(keys.destination, destDir, {}, { asPod: true });
        writeFileSync(join(sourceDir, 'run'), `run ${i}\n`);
        const result = await run(script, args(destination.port), env);
        const arrived = readFileSync(join(destDir, 'run'), 'utf8') === `run ${i}\n`;
        outcomes.push(
          destination.proc.exited.then((destinationCode) => {
            const recorded =
              destination.proc.output.includes('result: the source reported success; exit code 0') &&
              // It waited for the connection that delivered the result to close, as it should.
              !/cannot tell which ssh connection|connection was still open/.test(destination.proc.output);
            if (result.code === 0 && destinationCode === 0 && recorded && arrived) return undefined;
            return (
              `run ${i}: script exit ${result.code}, destination exit ${destinationCode}, recorded ${recorded}, data arrived ${arrived}\n` +
              `script:\n${result.output}\ndestination (end):\n${destination.proc.output.slice(-1500)}`
            );
          }),
        );
      }
      const failures = (await Promise.all(outcomes)).filter((failure) => failure !== undefined);
      expect(failures, `${failures.length} of ${runs} runs failed`).toEqual([]);
    },
  );

  it('refuses a destination that does not present the pinned host key', { timeout: 60_000 }, async () => {
    const destDir = join(work, 'impostor-volume');
    mkdirSync(destDir);
    const impostorKeys = writeKeySecrets(tempDir(cleanup));
    // An impostor that accepts our key but has its own host key.
    copyFileSync(join(keys.destination, 'source.pub'), join(impostorKeys.destination, 'source.pub'));
    const destination = await startDestination(impostorKeys.destination, destDir);
    try {
      const result = await run(
        script,
        [
          '-d',
          '127.0.0.1',
          '-p',
          String(destination.port),
          '-i',
          sourceKey,
          '-s',
          work,
          '-k',
          join(keys.source, 'destination.pub'),
        ],
        env,
      );
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('Host key verification failed');
      expect(readdirSync(destDir)).toEqual([]);
    } finally {
      destination.proc.killTree();
    }
  });

  it('explains usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [[], /missing -d ADDRESS/],
      [['-d', 'example.org'], /missing -i KEY/],
      [['-d', 'example.org', '-i', sourceKey], /missing -s DIR/],
      [['-d', 'example.org', '-i', join(work, 'nope'), '-s', work], /key file .*nope does not exist/],
      [['-d', 'example.org', '-i', sourceKey, '-s', join(work, 'nope')], /source directory .*nope does not exist/],
      [['-d', 'example.org', '-i', sourceKey, '-s', work, '-p', '70000'], /port must be 1-65535/],
      [['-x'], /unknown option -x/],
      [['-d'], /option -d needs a value/],
    ];
    for (const [args, message] of cases) {
      const result = await run(script, args, env);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.output).toMatch(message);
      expect(result.output).toContain("Run 'external-rsync-source -h' for help.");
    }
    const help = await run(script, ['-h'], env);
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/^Usage: external-rsync-source -d ADDRESS -i KEY -s DIR/);
  });
});
