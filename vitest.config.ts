import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node and the real tools on PATH; `integration` runs
// against a real etcd + kube-apiserver (+ controllers) that test/support/global-setup.ts starts.
// No `retry` anywhere: a retried pass is not a pass. A flaky test is a bug to find.
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    // One test file at a time: several files start whole local systems (control plane, node
    // agent, operator, movers), and on a 2-core machine running them side by side turns
    // timing into flakiness. The projects' shared clusters still start once, up front.
    maxWorkers: 1,
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts', 'test/movers/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/e2e-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        // Each file runs a local system of its own (it restarts and kills parts of it).
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 400_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
