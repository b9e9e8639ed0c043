/**
 * What `kubectl scribe restore` decides, as pure functions (no clock, no cluster): the time
 * --as-of names, the way a destination is restored, and which of its images to restore.
 */
import { PluginError } from './errors.js';

/** One image of a ReplicationDestination's status.images (oldest first there). */
export interface DestinationImage {
  apiGroup?: string;
  kind?: string;
  name: string;
  /** RFC 3339: when the image was taken. */
  time?: string;
  sourceSyncTime?: string;
}

/** What --help says --as-of accepts. */
export const AS_OF_HELP =
  'restore the newest image taken at or before TIME: an RFC 3339 date-time with a zone (2026-12-07T10:00:00Z, 2026-12-07T11:00:00+01:00); a date-time without a zone only where the local zone is UTC';

const WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const WITHOUT_ZONE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?$/;
/** Zones in which a time without zone reads the same as UTC, all year. */
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Etc/Universal', 'Universal', 'Etc/Zulu', 'Zulu']);

/** Whether the fields of a date-time name a real instant (no 2026-02-30, no 25:00). */
function realFields(m: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return d.getUTCMonth() === month - 1 && d.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
}

/** An offset in minutes east of UTC as RFC 3339 writes it: +01:00, -05:30. */
function offsetText(minutes: number): string {
  const abs = Math.abs(minutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * The instant --as-of names. RFC 3339 with its zone (Z or an offset) always; a date-time
 * without zone only when `localZone` is UTC, where it cannot mean two instants: elsewhere it
 * could be meant as UTC or as local time (and a local time may happen twice when clocks go
 * back), so it is refused with both readings spelled out (`localOffsetMinutes`: the local
 * zone's offset at that wall time, east of UTC, as the caller reads it from its clock).
 */
export function parseAsOf(text: string, localZone: string, localOffsetMinutes?: number): Date {
  const zoned = WITH_ZONE.exec(text);
  if (zoned && realFields(zoned)) return new Date(Date.parse(text.replace(' ', 'T')));
  const bare = WITHOUT_ZONE.exec(text);
  if (bare && realFields(bare)) {
    const wall = text.replace(' ', 'T');
    if (UTC_ZONES.has(localZone)) return new Date(Date.parse(`${wall}Z`));
    const local = localOffsetMinutes === undefined ? `${wall}±hh:mm` : `${wall}${offsetText(localOffsetMinutes)}`;
    throw new PluginError(
      `--as-of "${text}" has no zone, and the local zone is ${localZone}: it could mean ${wall}Z (UTC) or ${local} (local time); give the zone, as one of those`,
    );
  }
  throw new PluginError(
    `--as-of "${text}": use an RFC 3339 date-time with a zone, such as 2026-12-07T10:00:00Z or 2026-12-07T11:00:00+01:00`,
  );
}

/** The destination facts that decide how it is restored. */
export interface DestinationShape {
  name: string;
  /** The mover section of its spec (rsync, rclone, restic, ...), undefined for an external provider. */
  mover?: string;
  copyMethod?: string;
}

/** How a destination is restored: from its own images, or through restic's restoreAsOf. */
export type RestorePath = 'images' | 'resticAsOf';

/**
 * 'resticAsOf' for a restic destination given --as-of (restic's repository holds every snapshot
 * its retention kept, the destination's images only the last few); else 'images'. Refused for
 * copyMethod None (the destination keeps no image: its PVC is the replica) and for an external
 * provider (Scribe does not know what it keeps).
 */
export function restorePath(rd: DestinationShape, asOf: Date | undefined): RestorePath {
  if (!rd.mover) {
    throw new PluginError(
      `--from rd/${rd.name}: the destination is handled by an external provider; Scribe keeps no image of it to restore`,
    );
  }
  if (rd.copyMethod !== 'Snapshot') {
    throw new PluginError(
      `--from rd/${rd.name}: the destination has copyMethod ${rd.copyMethod ?? 'None'}, so it keeps no image to restore: its PVC (spec.${rd.mover}.destinationPVC or status.latestImage) is the replica; use it, or clone it`,
    );
  }
  return rd.mover === 'restic' && asOf ? 'resticAsOf' : 'images';
}

/** The time of an image in ms, or undefined when it has none or it is not a date-time. */
function timeOf(image: DestinationImage): number | undefined {
  const t = image.time ? Date.parse(image.time) : Number.NaN;
  return Number.isNaN(t) ? undefined : t;
}

/** The images with a time, oldest first (status.images is in that order; sorting makes sure). */
function byTime(images: readonly DestinationImage[]): { image: DestinationImage; time: number }[] {
  return images
    .map((image) => ({ image, time: timeOf(image) }))
    .filter((x): x is { image: DestinationImage; time: number } => x.time !== undefined)
    .sort((a, b) => a.time - b.time);
}

/** The images' names and times, one per line, for messages. */
export function listImages(images: readonly DestinationImage[]): string {
  return images.map((i) => `  ${i.name}  taken ${i.time ?? '(time unknown)'}`).join('\n');
}

/**
 * The image to restore: without `asOf` the newest (`latest`, status.latestImage, when the list
 * is empty); with it the newest image taken at or before `asOf` (an image taken at exactly that
 * instant counts). Refused, naming --as-of and listing every image's time, when `asOf` is
 * before all of them; refused when there is no image at all.
 */
export function chooseImage(
  rdName: string,
  images: readonly DestinationImage[],
  latest: DestinationImage | undefined,
  asOf: Date | undefined,
): DestinationImage {
  if (images.length === 0 && !latest) {
    throw new PluginError(`--from rd/${rdName}: the destination has no image yet; wait for its first sync`);
  }
  const timed = byTime(images);
  if (!asOf) return timed.at(-1)?.image ?? latest ?? (images.at(-1) as DestinationImage);
  const wanted = asOf.getTime();
  const chosen = timed.filter((x) => x.time <= wanted).at(-1);
  if (chosen) return chosen.image;
  const listed = images.length > 0 ? images : latest ? [latest] : [];
  throw new PluginError(
    `--as-of ${asOf.toISOString()} is before every image of ReplicationDestination ${rdName}; its images:\n${listImages(listed)}`,
  );
}

/**
 * The restic snapshot a restore restored (its short id and time), from the restic mover's
 * summary line "restored snapshot <id> taken at <time>"; undefined when the summary lacks it.
 */
export function resticRestored(logs: string | undefined): { id: string; time: string } | undefined {
  const match = /restored snapshot (\S+) taken at (\S+?);?(?:\s|$)/.exec(logs ?? '');
  return match ? { id: match[1] as string, time: match[2] as string } : undefined;
}

/** The name of the one-off restic destination of a restore: `<pvc>-restore`, cut to 40 characters (the names of its Job, cache PVC and snapshots add to it). */
export function oneOffName(pvc: string): string {
  const suffix = '-restore';
  return `${pvc.slice(0, 40 - suffix.length).replace(/[-.]+$/, '')}${suffix}`;
}
