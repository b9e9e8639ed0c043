/** The two Scribe kinds and the names users type for them. */

export type ScribeKind = 'ReplicationSource' | 'ReplicationDestination';

const ALIASES: Record<string, ScribeKind> = {
  replicationsource: 'ReplicationSource',
  replicationsources: 'ReplicationSource',
  rsrc: 'ReplicationSource',
  rs: 'ReplicationSource',
  source: 'ReplicationSource',
  replicationdestination: 'ReplicationDestination',
  replicationdestinations: 'ReplicationDestination',
  rd: 'ReplicationDestination',
  destination: 'ReplicationDestination',
};

/** The kind a user typed (ReplicationSource, replicationsources, rsrc, rs, rd, ...), or undefined. */
export function parseKind(text: string): ScribeKind | undefined {
  return ALIASES[text.toLowerCase().replace(/\.scribe\.backube$/, '')];
}

/** Parses `<kind>/<name>`; throws a message naming the accepted forms. */
export function parseKindName(ref: string): { kind: ScribeKind; name: string } {
  const [kindText, name, ...rest] = ref.split('/');
  const kind = parseKind(kindText ?? '');
  if (!kind || !name || rest.length > 0) {
    throw new Error(
      `"${ref}" is not <kind>/<name>: use replicationsource/NAME (rs, rsrc) or replicationdestination/NAME (rd)`,
    );
  }
  return { kind, name };
}

/** The URL path segment of a kind (its plural). */
export function pluralOf(kind: ScribeKind): string {
  return kind === 'ReplicationSource' ? 'replicationsources' : 'replicationdestinations';
}
