/**
 * Spec checks the CRD schema cannot make: cron semantics, rules that span fields, and facts of
 * the cluster (a block-mode source). Each problem names its field so Reconciled=False and the
 * Warning Event say exactly what to fix ("Bad input" in design.md).
 */
import type { ScribeCr } from './api.js';
import { moverSections, type CommonMoverOptions } from './mover.js';
import type { ObservedPvc } from './observation.js';
import { parseSchedule } from './trigger.js';

/** One problem of a spec. */
export interface FieldError {
  field: string;
  message: string;
}

/** Cluster facts some checks need. */
export interface ValidationFacts {
  /** The source PVC (sources) or given destinationPVC (destinations), when it exists. */
  volume?: ObservedPvc | undefined;
  /** Problems the mover's objects revealed (see ObservedMover.problems). */
  moverProblems?: readonly FieldError[] | undefined;
}

/**
 * Every problem of a CR's spec; empty when it can run. External CRs are not checked (decision 7).
 * The rules of one mover (rsync's address, say) are that mover's `validate` (src/movers), whose
 * problems the operator hands in as `moverProblems`, with those its objects reveal.
 */
export function validateSpec(cr: ScribeCr, facts: ValidationFacts = {}): FieldError[] {
  if (cr.spec.external !== undefined) return [];
  const errors: FieldError[] = [];
  const movers = moverSections(cr);
  if (movers.length === 0) {
    // Decision 6: the CRD's rule names the choices (the catalog's); a CR without one gets here
    // only past that rule.
    errors.push({
      field: 'spec',
      message: "a mover is required: set one mover's section of the spec, or spec.external",
    });
  } else if (movers.length > 1) {
    const kinds = movers.map(([kind]) => kind);
    errors.push({ field: 'spec', message: `exactly one mover may be set, found spec.${kinds.join(' and spec.')}` });
  }
  const schedule = cr.spec.trigger?.schedule;
  if (schedule !== undefined) {
    const parsed = parseSchedule(schedule);
    if (!parsed.ok) errors.push(fieldError(parsed.message));
  }
  const [section] = movers;
  if (section) {
    const [mover, options] = section;
    if (cr.kind === 'ReplicationSource') errors.push(...sourceChecks(cr.spec.sourcePVC, mover, options, facts));
    else errors.push(...destinationChecks(mover, options, facts));
    errors.push(...podLabelChecks(mover, options));
  }
  errors.push(...(facts.moverProblems ?? []));
  return errors;
}

/** A label key: an optional DNS subdomain prefix and '/', then a name of up to 63 characters. */
const LABEL_KEY =
  /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/)?([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;

/**
 * moverPodLabels keys the API server would refuse on the mover Job's pod template. The CRD checks
 * the values; a key is checked here, since a CEL rule over every key of an unbounded map exceeds
 * the API server's cost budget, and a Job the API server refuses would otherwise only be an
 * error in the operator's log.
 */
function podLabelChecks(mover: string, options: CommonMoverOptions): FieldError[] {
  const labels = options.moverPodLabels ?? {};
  const bad = Object.keys(labels).filter((key) => {
    const match = LABEL_KEY.exec(key);
    return !match || (match[1]?.length ?? 0) > 253 || (match[5]?.length ?? 0) > 63;
  });
  if (bad.length === 0) return [];
  return [
    {
      field: `spec.${mover}.moverPodLabels`,
      message: `${bad.map((key) => JSON.stringify(key)).join(', ')} ${bad.length === 1 ? 'is not a label key' : 'are not label keys'}: a name of up to 63 letters, digits, '-', '_' or '.' (starting and ending with a letter or digit), optionally after a DNS subdomain prefix and '/'`,
    },
  ];
}

/** Joins errors into one condition message ("spec.a: x; spec.b: y"). */
export function describeErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}

function sourceChecks(
  sourcePVC: string | undefined,
  mover: string,
  options: CommonMoverOptions,
  facts: ValidationFacts,
): FieldError[] {
  const errors: FieldError[] = [];
  if (!sourcePVC) errors.push({ field: 'spec.sourcePVC', message: 'name the PVC to replicate' });
  // A clone, or a volume restored from a snapshot, cannot be smaller than what it copies: the
  // storage driver would refuse it and the point-in-time PVC would stay Pending for ever.
  const wanted = quantityBytes(options.capacity);
  const has = quantityBytes(facts.volume?.capacity);
  if (options.copyMethod !== 'None' && wanted !== undefined && has !== undefined && wanted < has) {
    errors.push({
      field: `spec.${mover}.capacity`,
      message: `${String(options.capacity)} is smaller than PVC ${facts.volume?.name}'s ${facts.volume?.capacity}; a ${options.copyMethod === 'Snapshot' ? 'volume restored from a snapshot' : 'clone'} cannot be smaller than its source (omit capacity to use the source's)`,
    });
  }
  if (facts.volume?.volumeMode === 'Block') {
    // Decision 6: refuse clearly rather than copy a block device as if it were a directory.
    errors.push({
      field: 'spec.sourcePVC',
      message: `PVC ${facts.volume.name} is a block-mode volume; block mode is not supported yet`,
    });
  }
  return errors;
}

function destinationChecks(mover: string, options: CommonMoverOptions, facts: ValidationFacts): FieldError[] {
  const errors: FieldError[] = [];
  if (options.copyMethod === 'Clone') {
    errors.push({
      field: `spec.${mover}.copyMethod`,
      message: 'Clone is not supported for a ReplicationDestination; use None or Snapshot',
    });
  }
  // Issue 26: only snapshots are images to keep; copyMethod None keeps the PVC alone.
  if (options.copyMethod === 'None' && typeof options.imagesToKeep === 'number' && options.imagesToKeep > 1) {
    errors.push({
      field: `spec.${mover}.imagesToKeep`,
      message: `${options.imagesToKeep} images need copyMethod Snapshot; with copyMethod None the destination keeps only its PVC (set copyMethod: Snapshot, or imagesToKeep: 1)`,
    });
  }
  if (options.destinationPVC === undefined && options.capacity === undefined) {
    errors.push({ field: `spec.${mover}.capacity`, message: `required when spec.${mover}.destinationPVC is not set` });
  }
  if (facts.volume?.volumeMode === 'Block') {
    errors.push({
      field: `spec.${mover}.destinationPVC`,
      message: `PVC ${facts.volume.name} is a block-mode volume; block mode is not supported yet`,
    });
  }
  return errors;
}

const QUANTITY_FACTORS: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A resource quantity ("10Gi", "1500M", "1e3", 5) in bytes; undefined when it does not parse. */
export function quantityBytes(quantity: unknown): number | undefined {
  if (typeof quantity === 'number') return quantity;
  if (typeof quantity !== 'string') return undefined;
  const match = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+)|([a-zA-Z]*))$/.exec(quantity.trim());
  if (!match) return undefined;
  const factor = match[2] !== undefined ? 10 ** Number(match[2]) : QUANTITY_FACTORS[match[3] ?? ''];
  return factor === undefined ? undefined : Number(match[1]) * factor;
}

function fieldError(message: string): FieldError {
  // parseSchedule's messages already start with the field; split it back out.
  const colon = message.indexOf(': ');
  return colon > 0 ? { field: message.slice(0, colon), message: message.slice(colon + 2) } : { field: 'spec', message };
}
