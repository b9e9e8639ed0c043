/**
 * The mover's last word: its summary written to the container's termination message file, which
 * the kubelet copies into the pod's status. The operator reads it from its pod cache into
 * status.latestMoverStatus.logs, with no extra API call per sync.
 */
import { writeFileSync } from 'node:fs';

/** Kubernetes keeps at most 4096 bytes of a termination message. */
const MAX_BYTES = 4096;

/** Writes `text` to $SCRIBE_TERMINATION_LOG when it is set; a failure to write is not the mover's failure. */
export function writeTerminationMessage(text: string, env: NodeJS.ProcessEnv = process.env): void {
  const path = env.SCRIBE_TERMINATION_LOG;
  if (!path) return;
  try {
    writeFileSync(path, Buffer.from(text).subarray(0, MAX_BYTES));
  } catch {
    // A missing or read-only file must not change the mover's exit code.
  }
}
