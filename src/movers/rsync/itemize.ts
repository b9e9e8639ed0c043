/**
 * rsync's `--itemize-changes` lines on the sending side: `<f+++++++++ path` for a file sent
 * whole, `<f.st...... path` for one updated; directories (`cd…`), links (`cL…`), hard links
 * (`hf…`) and deletions (`*deleting`) move no file data. Names with unusual bytes are escaped as
 * `\#ooo` (octal), as rsync's log does.
 */

/** The path of the file a line says was sent, or undefined when the line sent no file. */
export function sentFilePath(line: string): string | undefined {
  const match = /^<f[^ ]{9} (.+)$/.exec(line);
  if (!match?.[1]) return undefined;
  return unescapeRsyncName(match[1]);
}

/** Undoes rsync's `\#ooo` escapes (a byte in octal), decoding the bytes as UTF-8. */
export function unescapeRsyncName(name: string): string {
  if (!name.includes('\\#')) return name;
  const bytes: number[] = [];
  for (let i = 0; i < name.length;) {
    const escape = /^\\#([0-7]{3})/.exec(name.slice(i));
    if (escape?.[1]) {
      bytes.push(parseInt(escape[1], 8));
      i += 5;
    } else {
      bytes.push(...Buffer.from(name[i] ?? '', 'utf8'));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
