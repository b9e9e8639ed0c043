/** The bounded journal of machine transitions kept in status (design: "Event sourcing"). */
import { JOURNAL_LIMIT, type JournalEntry } from './api.js';

/** Appends an entry, keeping the newest JOURNAL_LIMIT (20) entries. */
export function appendJournal(journal: readonly JournalEntry[] | undefined, entry: JournalEntry): JournalEntry[] {
  const { reason, ...rest } = entry;
  // The schema caps reason at 1024 characters; a long mover message must not break the status patch.
  const line: JournalEntry = reason === undefined ? rest : { ...rest, reason: reason.slice(0, 1024) };
  return [...(journal ?? []), line].slice(-JOURNAL_LIMIT);
}

/** When the machine last entered `state`, from the journal; undefined if the journal does not say. */
export function enteredAt(journal: readonly JournalEntry[] | undefined, state: string): number | undefined {
  const last = journal?.[journal.length - 1];
  if (!last || last.to !== state) return undefined;
  const ms = Date.parse(last.time);
  return Number.isNaN(ms) ? undefined : ms;
}
