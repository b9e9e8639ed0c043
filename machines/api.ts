/**
 * The API types the machines read and write, re-exported from src/api in one place.
 *
 * Type-only: `import type` is erased at compile time, so machines/ loads neither TypeBox nor the
 * Kubernetes client at run time (the lint rule allows type imports from src/ and nothing else).
 */
import type * as api from '../src/api/index.js';

export type ReplicationSource = api.ReplicationSource;
export type ReplicationDestination = api.ReplicationDestination;
export type ReplicationSourceSpec = api.ReplicationSourceSpec;
export type ReplicationDestinationSpec = api.ReplicationDestinationSpec;
export type ReplicationSourceStatus = api.ReplicationSourceStatus;
export type ReplicationDestinationStatus = api.ReplicationDestinationStatus;
export type Trigger = api.Trigger;
export type Condition = api.Condition;
export type JournalEntry = api.JournalEntry;
export type LatestImage = api.LatestImage;
export type DestinationImage = api.DestinationImage;
export type MoverStatus = api.MoverStatus;
export type SourceMoverCommon = api.SourceMoverCommon;
export type DestinationMoverCommon = api.DestinationMoverCommon;

/** Either kind of Scribe CR: the machines treat both alike and branch on `kind` where they differ. */
export type ScribeCr = ReplicationSource | ReplicationDestination;

/** Every status field either kind may carry (a destination adds latestImage). */
export type ScribeStatus = ReplicationSourceStatus & ReplicationDestinationStatus;

/** The persisted facts of the running cycle (status.cycle). */
export type CycleStatus = NonNullable<ScribeStatus['cycle']>;

/** Mirrors JOURNAL_MAX_ENTRIES of src/api (a value, so it cannot be imported here); a test keeps them equal. */
export const JOURNAL_LIMIT = 20;

/** Mirrors the API group of src/api for label and annotation keys; a test keeps them equal. */
export const SCRIBE_GROUP = 'scribe.backube';
