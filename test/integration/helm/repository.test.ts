/**
 * The chart as a Helm repository: `npm run chart:package` output served over HTTP on loopback,
 * then the seed's own commands — `helm repo add`, `helm install --create-namespace -n
 * scribe-system scribe backube/scribe` — against the real API server.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { kubeRequest } from '../../../src/kube/rest.js';
import { helm, packageChart } from '../../../src/local/helm.js';
import { deleteNamespace, testKubeConfig } from '../../support/cluster.js';

/** Serves the files of `dir` (no subdirectories, as a chart repository needs none). */
function serveDirectory(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const name = basename(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    readFile(join(dir, name)).then(
      (body) => response.writeHead(200).end(body),
      () => response.writeHead(404).end(),
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
    }),
  );
}

describe('the chart as a Helm repository', () => {
  let work: string;
  let served: { server: Server; url: string };
  // Helm's own state (repositories.yaml, caches) kept out of the user's home.
  let helmEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'scribe-chart-repo-'));
    helmEnv = {
      HELM_CONFIG_HOME: join(work, 'config'),
      HELM_CACHE_HOME: join(work, 'cache'),
      HELM_DATA_HOME: join(work, 'data'),
    };
    served = await serveDirectory(join(work, 'repo'));
    await packageChart(join(work, 'repo'), served.url);
  });

  afterAll(async () => {
    served?.server.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('indexes the packaged chart at the URL it is served from', async () => {
    const index = parse(await readFile(join(work, 'repo', 'index.yaml'), 'utf8')) as {
      entries: Record<string, Array<{ version: string; urls: string[] }>>;
    };
    const chart = parse(await readFile(join('helm', 'scribe', 'Chart.yaml'), 'utf8')) as { version: string };
    expect(index.entries.scribe?.map((e) => e.version)).toEqual([chart.version]);
    expect(index.entries.scribe?.[0]?.urls).toEqual([`${served.url}scribe-${chart.version}.tgz`]);
  });

  it("installs with the seed's commands: helm repo add, then helm install -n scribe-system scribe backube/scribe", async () => {
    const kubeconfig = inject('kubeconfig');
    const namespace = `scribe-system-${randomBytes(3).toString('hex')}`;
    await helm(['repo', 'add', 'backube', served.url], helmEnv);
    const search = await helm(['search', 'repo', 'backube/scribe', '-o', 'json'], helmEnv);
    expect((JSON.parse(search) as Array<{ name: string }>).map((c) => c.name)).toEqual(['backube/scribe']);
    await helm(
      ['install', '--create-namespace', '-n', namespace, 'scribe', 'backube/scribe', '--kubeconfig', kubeconfig],
      helmEnv,
    );
    try {
      const releases = JSON.parse(
        await helm(['list', '-n', namespace, '-o', 'json', '--kubeconfig', kubeconfig], helmEnv),
      ) as Array<{ name: string; chart: string; status: string }>;
      expect(releases).toEqual([expect.objectContaining({ name: 'scribe', status: 'deployed' })]);
      expect(releases[0]?.chart).toMatch(/^scribe-\d+\.\d+\.\d+/);
      const deployment = await kubeRequest<{ metadata: { name: string } }>(testKubeConfig(), {
        method: 'GET',
        path: `/apis/apps/v1/namespaces/${namespace}/deployments/scribe`,
      });
      expect(deployment.metadata.name).toBe('scribe');
    } finally {
      await helm(['uninstall', 'scribe', '-n', namespace, '--kubeconfig', kubeconfig], helmEnv).catch(() => undefined);
      await deleteNamespace(testKubeConfig(), namespace);
    }
  });
});
