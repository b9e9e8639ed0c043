/**
 * The movers' sections of the API, from the movers' own schemas (src/movers/<name>/options.ts):
 * each mover adds `spec.<kind>` to both kinds and `status.<kind>` for what it publishes, and the
 * "exactly one mover" rule names them all. The CRDs and the static types come from this list;
 * a mover defined elsewhere (a test's) is added by passing a longer list to the builders.
 */
import { Type, type TObject, type TOptional } from '@sinclair/typebox';
import { RCLONE_SCHEMAS } from '../movers/rclone/options.js';
import { RESTIC_SCHEMAS } from '../movers/restic/options.js';
import { RSYNC_SCHEMAS } from '../movers/rsync/options.js';

/** A mover's schemas: its spec section on each side and its published status. */
export interface MoverSchemas {
  readonly kind: string;
  readonly source: TObject;
  readonly destination: TObject;
  readonly published: TObject;
}

/** The movers Scribe ships, in the order the CRDs list them. */
export const MOVER_SCHEMAS = [RSYNC_SCHEMAS, RCLONE_SCHEMAS, RESTIC_SCHEMAS] as const;

/** The properties `<kind>: Optional(<schema>)` of a list of movers, typed per kind. */
export type MoverSections<M extends readonly MoverSchemas[], Part extends 'source' | 'destination' | 'published'> = {
  [K in M[number] as K['kind']]: TOptional<K[Part]>;
};

/** Each mover's `part` as an optional property named by its kind. */
export function moverSections<
  const M extends readonly MoverSchemas[],
  Part extends 'source' | 'destination' | 'published',
>(movers: M, part: Part): MoverSections<M, Part> {
  // Built from the list at run time; the mapped type above says the same per kind.
  const sections: Record<string, TOptional<TObject>> = {};
  for (const mover of movers) sections[mover.kind] = Type.Optional(mover[part]);
  return sections as MoverSections<M, Part>;
}

/** Exactly one mover per CR (design.md, decision 6), checked by the API server. */
export function exactlyOneMover(movers: readonly MoverSchemas[]): { rule: string; message: string } {
  const fields = [...movers.map((m) => m.kind), 'external'];
  return {
    rule: `[${fields.map((f) => `has(self.${f})`).join(', ')}].filter(x, x).size() == 1`,
    message: `exactly one of ${fields
      .slice(0, -1)
      .map((f) => `spec.${f}`)
      .join(', ')} or spec.external must be set`,
  };
}

export type { RsyncDestinationOptions, RsyncSourceOptions } from '../movers/rsync/options.js';
export type { RcloneDestinationOptions, RcloneSourceOptions } from '../movers/rclone/options.js';
export type { ResticDestinationOptions, ResticSourceOptions } from '../movers/restic/options.js';
