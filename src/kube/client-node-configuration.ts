/**
 * What the operator's bundle gives client-node's KubeConfig in place of its generated index
 * (src/cli/bundle.ts): KubeConfig takes only these two from it, and the index would bring every
 * generated API client and model (~350 KB of code, megabytes of heap) into the bundle.
 */
export { createConfiguration } from '@kubernetes/client-node/dist/gen/configuration.js';
export { ServerConfiguration } from '@kubernetes/client-node/dist/gen/servers.js';
