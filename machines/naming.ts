/**
 * Names of the objects Scribe creates (decision 11) and the labels it puts on them: the rule every
 * name follows (roleName) and the names of machines/'s own objects (point-in-time copies, the
 * destination's PVC and snapshots); each mover names its objects in its folder
 * (src/movers/<name>/names.ts) by the same rule. Every name is a valid DNS-1123 label (so it also
 * fits Services) of at most 63 characters; longer or unusual names are shortened
 * deterministically, so a restarted operator finds the same objects again.
 *
 * Names cannot collide across roles, by construction (issue 21): a name is a role prefix, the
 * CR's name and, for some roles, a suffix of a fixed form (a timestamp, a sequence number).
 * Among the roles that name objects of one kind the prefixes are prefix-free (none is the start
 * of another: `scribe-src-`, `scribe-dest-`, restic's `scribe-cache-src-` and `scribe-cache-dest-`
 * for PVCs; test/property/naming.property.test.ts checks the roles of every mover), so the
 * prefix alone says the role whatever the CR's name. A CR name starts with a letter or a
 * digit, so a shortened name, written `<prefix>-<part of the name>-<hash>` (a doubled dash after
 * the prefix), is never a name some other CR gets unshortened.
 */
import { createHash } from 'node:crypto';
import { compactTimestamp } from './time.js';
import { SCRIBE_GROUP } from './api.js';

/** Longest DNS-1123 label, the tightest limit among the kinds Scribe names (Service names). */
export const MAX_NAME_LENGTH = 63;
const HASH_LENGTH = 10;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Label every object Scribe creates carries (design: effects adapter). */
export const CREATED_BY_LABEL = 'app.kubernetes.io/created-by';
export const CREATED_BY_VALUE = 'scribe';
/** Label naming the cycle an object was made for, so stale cache entries of an earlier cycle are not mistaken for this one. */
export const CYCLE_LABEL = `${SCRIBE_GROUP}/cycle`;
/** Label naming the attempt within a cycle, so a failed Job of an earlier attempt is not read as this attempt's result. */
export const ATTEMPT_LABEL = `${SCRIBE_GROUP}/attempt`;

/** Whether a string is a valid DNS-1123 label. */
export function isDnsLabel(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && DNS_LABEL.test(name);
}

/** A short, stable hash of a string in DNS-label characters. */
export function shortHash(value: string, length = HASH_LENGTH): string {
  return createHash('sha256').update(value).digest('hex').slice(0, length);
}

/**
 * Makes `name` a DNS-1123 label of at most `max` characters. Valid short names are kept as they
 * are; otherwise the name is lowered, invalid characters become '-', the prefix is truncated and a
 * hash of the ORIGINAL name is appended, so two different inputs do not collapse into one name.
 */
export function toDnsLabel(name: string, max = MAX_NAME_LENGTH): string {
  if (name.length <= max && DNS_LABEL.test(name)) return name;
  const cleaned = name.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const prefix = cleaned
    .slice(0, Math.max(0, max - HASH_LENGTH - 1))
    .replace(/^-+/, '')
    .replace(/-+$/, '');
  return prefix === '' ? shortHash(name) : `${prefix}-${shortHash(name)}`;
}

/**
 * `prefix` + `name` + `suffix` when that is a valid DNS label of at most 63 characters and `name`
 * starts with a letter or digit (as every Kubernetes name does); otherwise
 * `prefix-<name, cleaned and cut>-<hash of the whole>` + `suffix`, whose doubled dash no
 * unshortened name of the same prefix has. `prefix` ends with '-'; `suffix` keeps its form.
 */
export function roleName(prefix: string, name: string, suffix = ''): string {
  const plain = `${prefix}${name}${suffix}`;
  if (/^[a-z0-9]/.test(name) && isDnsLabel(plain)) return plain;
  const hash = shortHash(plain);
  const room = MAX_NAME_LENGTH - prefix.length - 1 - hash.length - 1 - suffix.length;
  const part = name
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, Math.max(0, room))
    .replace(/^-+/, '')
    .replace(/-+$/, '');
  return `${prefix}-${part === '' ? '' : `${part}-`}${hash}${suffix}`;
}

/** The source's point-in-time PVC and VolumeSnapshot: scribe-src-<rs> (seed 2.3.3). */
export function sourcePitName(rs: string): string {
  return roleName('scribe-src-', rs);
}

/**
 * The source's point-in-time VolumeSnapshot when `scribe-src-<rs>` is held by a snapshot that is
 * not the CR's (kept with scribe.backube/do-not-delete, decision 20): scribe-srcpit-<rs>-<n>, n
 * the cycle's sequence number (digits). Its own prefix: scribe-src-<rs>-<n> was the
 * point-in-time name of a source named `<rs>-<n>`.
 */
export function sourcePitSnapshotAlternative(rs: string, cycleSequence: string): string {
  return roleName('scribe-srcpit-', rs, `-${cycleSequence.replace(/[^0-9]/g, '') || '0'}`);
}

/** The PVC a destination provisions when spec.<mover>.destinationPVC is absent: scribe-dest-<rd>. */
export function destinationPvcName(rd: string): string {
  return roleName('scribe-dest-', rd);
}

/** A destination snapshot: scribe-dest-<rd>-<YYYYMMDDhhmmss> (seed 2.3.4); the timestamp always survives shortening. */
export function destinationImageName(rd: string, at: number): string {
  return roleName('scribe-dest-', rd, `-${compactTimestamp(at)}`);
}

/** What an object created for a cycle is labelled with. */
export interface ObjectLabelOptions {
  cycleId?: string | undefined;
}

/** The labels of an object Scribe creates: created-by always, the cycle when known. */
export function objectLabels(options: ObjectLabelOptions = {}): Record<string, string> {
  const labels: Record<string, string> = { [CREATED_BY_LABEL]: CREATED_BY_VALUE };
  if (options.cycleId) labels[CYCLE_LABEL] = options.cycleId;
  return labels;
}
