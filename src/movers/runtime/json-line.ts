/** Lines of a tool's JSON output (restic's `--json`), read one at a time (pure). */

/** The value a line holds when it is a JSON object (or array); undefined for text or a bare value. */
export function jsonObject(line: string): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
}
