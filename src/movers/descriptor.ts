/**
 * A mover as one module (src/movers/<name>/index.ts): everything Scribe needs to know of it in
 * one value. The API takes its schemas (the CRDs' spec.<kind> and status.<kind>), the operator
 * its builder and reader (machines/mover.ts) and `validate`, `scribe mover` and the image's
 * bundles its entrypoints, its session the summary rules; nothing else names a mover.
 */
import type { ScribeCr } from '../../machines/api.js';
import type { FieldError } from '../../machines/validate.js';
import type { MoverSchemas } from '../api/movers.js';
import type { MoverRuntime } from './catalog.js';
import type { SummaryRules } from './runtime/summary.js';

/** The two entrypoints every mover has, run in its pod as `scribe mover <kind>-<side>`. */
export type MoverSide = 'source' | 'destination';

/** One mover, as the catalog holds it. */
export interface MoverDescriptor extends MoverRuntime {
  /** Its spec sections and published status (src/movers/<name>/options.ts). */
  readonly schemas: MoverSchemas;
  /** Rules of its own section the CRD cannot say (across fields, or values' forms); each names its field. */
  validate(cr: ScribeCr): FieldError[];
  /** The names it gives a CR's objects (its names.ts, on machines/naming.ts's roleName, which keeps roles apart). */
  readonly names: { job(cr: ScribeCr): string };
  /**
   * The module URL of each side's entrypoint, which runs its main() when imported and exits
   * itself. URLs rather than imports, so the operator's bundle does not take the entrypoints in.
   */
  readonly entrypoints: Readonly<Record<MoverSide, string>>;
  /**
   * The modules under src/movers/<kind>/ the image bundles (`<name>.ts` → dist/movers/<kind>/<name>.mjs):
   * the two sides and any program an entrypoint starts (rsync's ssh session). Empty for a mover
   * that is not part of the image.
   */
  readonly bundled: readonly string[];
  /** What its summary (the termination message) keeps of its log. */
  readonly summary: SummaryRules;
  /** What its exit codes mean. */
  explainExit(code: number): string;
}
