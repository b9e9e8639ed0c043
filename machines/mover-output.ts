/**
 * What a mover's output says about its failure, for the condition and the Warning Event (pure).
 * The output is the mover's termination message (its summary, or the log's tail when it died
 * before writing one), so the user reads the cause without `kubectl logs`.
 */

/** Words that mark a line as the one saying what went wrong. */
const ERROR_WORDS =
  /\b(error|errors|fatal|fail(ed|s|ure)?|refused|denied|cannot|can't|unable|not found|no such|timed out|timeout|gave up|wrong|invalid|unreachable|no route)\b/i;
/** A condition message stays readable: the line is cut past this many characters. */
const MAX_LINE = 300;

/** The last line of `output` that names an error, else its last non-empty line; undefined for no output. */
export function failureLine(output: string | undefined): string | undefined {
  const lines = (output ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const line = lines.findLast((l) => ERROR_WORDS.test(l)) ?? lines.at(-1);
  if (line === undefined) return undefined;
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line;
}

/** A mover's failure message with its output's failure line added, unless the message already says it. */
export function withFailureLine(message: string, output: string | undefined): string {
  const line = failureLine(output);
  return line === undefined || message.includes(line) ? message : `${message}: ${line}`;
}
