/** The pure decision layer of Scribe: trigger semantics, naming, validation and the replication machine. */
export * from './actions.js';
export * from './api.js';
export * from './backoff.js';
export * from './conditions.js';
export * from './context.js';
export * from './cycle.js';
export * from './duration.js';
export * from './journal.js';
export * from './level.js';
export * from './mover.js';
export * from './naming.js';
export * from './observation.js';
export * from './rehydrate.js';
export { replicationMachine } from './replication.js';
export * from './step.js';
export * from './time.js';
export * from './trigger.js';
export * from './validate.js';
