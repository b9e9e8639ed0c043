/**
 * Installs Scribe's CRDs and the upstream VolumeSnapshot CRDs into a cluster and waits for them;
 * the test control plane also gets the Prometheus Operator's (prometheusCrdFiles).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubeRequest } from '../kube/rest.js';
import { objectPath, RESOURCES } from '../kube/resources.js';
import { waitFor } from './processes.js';
import { moduleDir, repoRoot } from './tools.js';

const SNAPSHOTTER_MODULE = 'github.com/kubernetes-csi/external-snapshotter/client/v8';
const SNAPSHOT_CRD_FILES = [
  'snapshot.storage.k8s.io_volumesnapshotclasses.yaml',
  'snapshot.storage.k8s.io_volumesnapshotcontents.yaml',
  'snapshot.storage.k8s.io_volumesnapshots.yaml',
];

/**
 * The Prometheus Operator's CRDs (monitoring.coreos.com/v1) that the chart renders objects of
 * (ServiceMonitor, PrometheusRule: its Capabilities checks) and the guide shows (Prometheus,
 * ServiceMonitor), plus PodMonitor. Pinned in tools/prometheus-crds; the module's
 * example/prometheus-operator-crd holds them with long descriptions stripped. The Prometheus
 * CRD is ~450 kB as JSON: too large for client-side apply's last-applied annotation (256 kB),
 * which installCrds does not use (server-side apply).
 */
const PROMETHEUS_OPERATOR_MODULE = 'github.com/prometheus-operator/prometheus-operator';
const PROMETHEUS_CRD_FILES = [
  'monitoring.coreos.com_servicemonitors.yaml',
  'monitoring.coreos.com_podmonitors.yaml',
  'monitoring.coreos.com_prometheusrules.yaml',
  'monitoring.coreos.com_prometheuses.yaml',
];

/** The parts of a CRD read here. */
export interface Crd {
  metadata: { name: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** Paths of every CRD file to install: Scribe's from crds/, the snapshot ones from their module. */
export async function crdFiles(): Promise<string[]> {
  const scribeDir = join(repoRoot(), 'crds');
  const scribe = (await readdir(scribeDir)).filter((f) => f.endsWith('.yaml')).map((f) => join(scribeDir, f));
  const snapshotDir = join(await moduleDir('snapshot-crds', SNAPSHOTTER_MODULE), 'config', 'crd');
  return [...scribe, ...SNAPSHOT_CRD_FILES.map((f) => join(snapshotDir, f))];
}

/** Paths of the Prometheus Operator CRD files, from their pinned module (downloaded once, cached). */
export async function prometheusCrdFiles(): Promise<string[]> {
  const dir = join(
    await moduleDir('prometheus-crds', PROMETHEUS_OPERATOR_MODULE),
    'example',
    'prometheus-operator-crd',
  );
  return PROMETHEUS_CRD_FILES.map((f) => join(dir, f));
}

/** Applies (server-side) every CRD of `files` and waits until each one is Established. */
export async function installCrds(kc: KubeConfig, files?: string[]): Promise<string[]> {
  const crds: Crd[] = [];
  for (const file of files ?? (await crdFiles())) {
    for (const document of parseAllDocuments(await readFile(file, 'utf8'))) {
      const crd = document.toJS() as Crd | null;
      if (crd?.metadata?.name) crds.push(crd);
    }
  }
  return applyCrds(kc, crds);
}

/** Applies (server-side) the given CRD objects and waits until each one is Established. */
export async function applyCrds(kc: KubeConfig, crds: readonly Crd[]): Promise<string[]> {
  const names: string[] = [];
  for (const crd of crds) {
    await kubeRequest(kc, {
      method: 'PATCH',
      path: objectPath(RESOURCES.CustomResourceDefinition, undefined, crd.metadata.name),
      query: { fieldManager: 'scribe-install', force: true },
      patchType: 'apply',
      body: JSON.stringify(crd),
    });
    names.push(crd.metadata.name);
  }
  for (const name of names) {
    await waitFor(`CRD ${name} Established`, async () => {
      const crd = await kubeRequest<Crd>(kc, {
        method: 'GET',
        path: objectPath(RESOURCES.CustomResourceDefinition, undefined, name),
      });
      return Boolean(crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));
    });
  }
  return names;
}
