/**
 * Starts one real control plane for the integration project and hands its kubeconfig to the
 * tests (inject('kubeconfig')). Tests isolate themselves by namespace.
 */
import type { TestProject } from 'vitest/node';
import { startControlPlane, type ControlPlane } from '../../src/local/control-plane.js';
import { crdFiles, installCrds, prometheusCrdFiles } from '../../src/local/crds.js';
import { loadKubeConfig } from '../../src/kube/config.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
  }
}

let controlPlane: ControlPlane | undefined;

export async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  controlPlane = await startControlPlane({ controllers: true, log: (line) => console.log(`[cluster] ${line}`) });
  // Scribe's and the VolumeSnapshot CRDs, and the Prometheus Operator's: the chart's
  // ServiceMonitor and PrometheusRule (Capabilities checks) and the guide's monitoring YAML
  // meet the real schemas.
  const files = [...(await crdFiles()), ...(await prometheusCrdFiles())];
  await installCrds(loadKubeConfig({ kubeconfig: controlPlane.kubeconfigPath }), files);
  console.log(`[cluster] ready in ${Date.now() - started} ms`);
  project.provide('kubeconfig', controlPlane.kubeconfigPath);
}

export async function teardown(): Promise<void> {
  await controlPlane?.stop();
}
