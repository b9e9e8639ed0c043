/**
 * What the source may run on the destination over ssh. sshd forces every session of the source's
 * key through the session entrypoint (session.ts), which asks `parseRemoteCommand` what to do with
 * the command the client asked for (SSH_ORIGINAL_COMMAND). Exactly two shapes are allowed:
 *
 * - `rsync --server …` without `--sender`: a push into the data directory. The options and paths
 *   are then checked by rrsync, which confines them to the data directory.
 * - `shutdown <code>`: the end-of-transfer handshake, carrying the source's exit code (0-255).
 * - `shutdown -`: the same handshake with the code to come on stdin, one line. The source opens
 *   it beside the transfer, so that at the end the result needs no new ssh connection.
 */

/** The decision for one ssh session. */
export type RemoteCommand =
  | { kind: 'rsync' }
  | { kind: 'shutdown'; exitCode: number }
  | { kind: 'shutdownFromStdin' }
  | { kind: 'refused'; message: string };

/** The `shutdown` command line the source sends with its exit code. */
export function shutdownCommand(exitCode: number): string {
  return `shutdown ${exitCode}`;
}

/** The `shutdown` command line whose exit code follows on stdin. */
export const SHUTDOWN_FROM_STDIN = 'shutdown -';

const ALLOWED =
  'only "rsync --server …" (a push into the data directory) and "shutdown <exit code 0-255>" or "shutdown -" are allowed';

/** Decides what to do with SSH_ORIGINAL_COMMAND (undefined when the client asked for a shell). */
export function parseRemoteCommand(original: string | undefined): RemoteCommand {
  if (original === undefined || original.trim() === '')
    return { kind: 'refused', message: `refused an interactive session: ${ALLOWED}` };
  const words = original.trim().split(/\s+/);
  if (words[0] === 'rsync' && words[1] === '--server') {
    // rsync puts --sender among the server options when the client pulls; this side only receives.
    if (words.includes('--sender'))
      return { kind: 'refused', message: 'refused "rsync --server --sender": this destination only receives data' };
    return { kind: 'rsync' };
  }
  if (/^shutdown\s+-$/.test(original.trim())) return { kind: 'shutdownFromStdin' };
  const exitCode = parseExitCode(/^shutdown\s+(\S*)$/.exec(original.trim())?.[1]);
  if (exitCode !== undefined) return { kind: 'shutdown', exitCode };
  return { kind: 'refused', message: `refused command "${printable(original)}": ${ALLOWED}` };
}

/** An exit code as the handshake carries it: 1-3 digits, 0-255; undefined for anything else. */
export function parseExitCode(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,3}$/.test(text)) return undefined;
  const code = Number(text);
  return code <= 255 ? code : undefined;
}

/** The command shortened and stripped of control characters, so a hostile client cannot garble the log. */
function printable(command: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = command.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}
