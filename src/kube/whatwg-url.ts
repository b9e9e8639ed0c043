/**
 * What the operator's bundle gives node-fetch in place of the whatwg-url package (src/cli/bundle.ts):
 * node-fetch uses `whatwgUrl.URL` only where Node has no `URL` of its own, and every Node Scribe
 * runs on has one. The package's tables (tr46, ~9,000 arrays) would take ~4 MiB of heap at start.
 */
export default { URL };
