/** Inspection of Scribe CRs: the machine's chart (mermaid, SVG, HTML, JSON, text) and the /debug pages. */
export * from './chart.js';
export * from './debug.js';
export * from './drawing.js';
export * from './html.js';
export * from './kinds.js';
export * from './mermaid.js';
export * from './svg.js';
export * from './text.js';
export * from './trail.js';
export * from './view.js';
export { renderTable } from './table.js';
