/** The Scribe API: TypeScript types and OpenAPI schemas of scribe.backube/v1alpha1, from one source. */
export * from './common.js';
export * from './replication-source.js';
export * from './replication-destination.js';
export * from './crd.js';
export * from './movers.js';
