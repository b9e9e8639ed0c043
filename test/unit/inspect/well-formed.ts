/** A small XML well-formedness check (tags nest, attributes are quoted, entities are known). */

/** Returns the first problem found, or undefined when the document is well-formed XML. */
export function xmlProblem(xml: string): string | undefined {
  const stack: string[] = [];
  const rest = xml.replace(/^<\?xml[^?]*\?>/, '');
  let roots = 0;
  const token =
    /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/g;
  let match: RegExpExecArray | null;
  while ((match = token.exec(rest))) {
    const [whole, closing, name, , selfClosing] = match;
    if (whole === '<') return `malformed tag at ${match.index}: ${rest.slice(match.index, match.index + 60)}`;
    if (whole.startsWith('&')) return `unescaped & at ${match.index}: ${rest.slice(match.index, match.index + 30)}`;
    if (!name) continue;
    if (closing) {
      const open = stack.pop();
      if (open !== name) return `</${name}> closes <${open ?? 'nothing'}>`;
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  if (stack.length > 0) return `unclosed <${stack.join('> <')}>`;
  if (roots !== 1) return `expected one root element, found ${roots}`;
  return undefined;
}
