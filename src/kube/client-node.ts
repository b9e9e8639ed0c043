/**
 * The two pieces of client-node the operator runs (its kubeconfig handling and its informer),
 * imported from their own modules: its package index brings every generated API client and
 * model with it (~600 KB of code, ~8 MiB of heap) although Scribe makes its requests itself
 * (src/kube/rest.ts). Types still come from the package.
 */
export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
export { makeInformer } from '@kubernetes/client-node/dist/informer.js';
