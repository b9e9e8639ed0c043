/**
 * Entrypoint of the ssh sessions on the rsync destination that are not a plain push: the forced
 * command of the source's key (authorized_keys `command=`, the script renderSessionScript in
 * sshd-config.ts writes) hands it every command except `rsync --server` without `--sender`,
 * which that script runs through rrsync itself, as runRrsync here would. Never run by a user.
 *
 * Contract:
 * - argv[2]: path of the session file the destination entrypoint wrote into its private run
 *   directory, JSON `{ dataDir, controlSocket, rrsync }` (sshd gives a forced command a clean
 *   environment, so the settings travel in a file instead of variables).
 * - env SSH_ORIGINAL_COMMAND: what the client asked to run (set by sshd).
 * - stdin/stdout: the ssh channel; for rsync they carry the rsync protocol, so this program writes
 *   its own messages to stderr only.
 *
 * `rsync --server …` runs `rrsync -wo <dataDir>` (Debian's rsync package ships it; it is a Python
 * script, so the image needs python3): rrsync checks every option and path and confines the
 * transfer to the data directory, write-only. `shutdown <code>` hands the code to the destination
 * entrypoint; `shutdown -` does the same with the code read from stdin. Anything else is refused with exit code 1 and a message saying what is allowed.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readExitCodeLine, sendShutdown } from './handshake.js';
import { exitStatus } from '../runtime/process.js';
import { parseRemoteCommand } from './remote-command.js';

/** The settings the destination entrypoint hands to each session. */
export interface SessionSettings {
  dataDir: string;
  controlSocket: string;
  rrsync: string;
}

const PREFIX = 'scribe rsync destination:';

async function main(): Promise<number> {
  const settingsFile = process.argv[2];
  if (settingsFile === undefined) {
    process.stderr.write(`${PREFIX} missing session settings argument\n`);
    return 1;
  }
  const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as SessionSettings;
  const command = parseRemoteCommand(process.env.SSH_ORIGINAL_COMMAND);
  switch (command.kind) {
    case 'refused':
      process.stderr.write(`${PREFIX} ${command.message}\n`);
      return 1;
    case 'shutdown':
      return deliver(settings, command.exitCode);
    case 'shutdownFromStdin':
      return deliver(settings, await readExitCodeLine(process.stdin));
    case 'rsync':
      return runRrsync(settings);
  }
}

async function deliver(settings: SessionSettings, exitCode: number): Promise<number> {
  // Our pid lets the entrypoint find this session's ssh connection and wait for it to close.
  await sendShutdown(settings.controlSocket, exitCode, process.pid);
  process.stderr.write(`${PREFIX} shutdown acknowledged; exiting with code ${exitCode}\n`);
  return 0;
}

function runRrsync(settings: SessionSettings): Promise<number> {
  return new Promise((resolve) => {
    // LANG=C keeps rsync's messages in the form the source's summary parses.
    const child = spawn(settings.rrsync, ['-wo', settings.dataDir], {
      stdio: 'inherit',
      env: { ...process.env, LANG: 'C' },
    });
    child.on('error', (error) => {
      process.stderr.write(`${PREFIX} cannot run rrsync (${settings.rrsync}): ${error.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${PREFIX} ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
