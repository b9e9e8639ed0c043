/**
 * The operator under benchmark, alone in its own process so that its memory and CPU figures are
 * its own: Scribe's Controller with every mover (MOVERS), as src/main.ts builds it, on the
 * kubeconfig in $KUBECONFIG. No servers, no leader election. Driven by the benchmark over IPC
 * (its CPU and RSS the benchmark reads from /proc, as any process's; only V8's heap is asked):
 *
 *   { id, op: 'heap' }          → { id, heap: { heapUsed, heapTotal, external } }
 *   { id, op: 'gc' }            → the same, after a full garbage collection (needs --expose-gc)
 *   { id, op: 'idle' }          → { id } once no reconcile is running or queued
 *   { id, op: 'heapSnapshot', path } → { id, path } after writing a V8 heap snapshot there
 *   { id, op: 'stop' }          → { id } after controller.stop(); then the process exits
 *
 * It sends { op: 'started' } once the controller's caches are synced, and { op: 'results', ok,
 * failed } every second while reconciles finish (the count of reconciles and of failed ones).
 */
import { writeHeapSnapshot } from 'node:v8';
import { Controller } from '../../src/controller/controller.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { ScribeMetrics } from '../../src/metrics/registry.js';
import { MOVERS } from '../../src/movers/index.js';

interface Request {
  id: number;
  op: 'heap' | 'gc' | 'idle' | 'heapSnapshot' | 'stop';
  path?: string;
}

const send = (message: object) => process.send?.(message);
const heap = () => {
  const { heapUsed, heapTotal, external } = process.memoryUsage();
  return { heap: { heapUsed, heapTotal, external } };
};

const controller = new Controller({ kc: loadKubeConfig({}), metrics: new ScribeMetrics(), movers: MOVERS });
let ok = 0;
let failed = 0;
let lastError = '';
controller.results$.subscribe((result: unknown) => {
  const error = (result as { error?: unknown } | undefined)?.error;
  if (error === undefined) ok++;
  else {
    failed++;
    lastError = error instanceof Error ? error.message : String(error);
  }
});
// Reported once a second, only when something changed (so an idle operator is not woken for it).
let reported = -1;
const reporter = setInterval(() => {
  if (ok + failed === reported) return;
  reported = ok + failed;
  send({ op: 'results', ok, failed, lastError });
}, 1000);

process.on('message', (raw: unknown) => {
  const request = raw as Request;
  void (async () => {
    switch (request.op) {
      case 'heap':
        return send({ id: request.id, ...heap() });
      case 'gc': {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc) {
          gc();
          gc();
        }
        return send({ id: request.id, collected: gc !== undefined, ...heap() });
      }
      case 'idle':
        await controller.whenIdle();
        return send({ id: request.id });
      case 'heapSnapshot':
        return send({ id: request.id, path: writeHeapSnapshot(request.path) });
      case 'stop':
        clearInterval(reporter);
        await controller.stop();
        send({ id: request.id });
        process.disconnect?.();
        return setTimeout(() => process.exit(0), 100);
    }
  })().catch((error: unknown) => send({ id: request.id, error: String(error) }));
});

await controller.start();
send({ op: 'started' });
