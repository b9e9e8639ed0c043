/**
 * The seed's make targets for people working from a checkout (`make install`, `make deploy`,
 * `make scribe`), against the current kubeconfig:
 *
 *   npm run install-crds [-- --with-snapshot-crds]   install (or update) the CRDs
 *   npm run deploy [-- --namespace N --set k=v …]    helm upgrade --install the chart from helm/scribe
 *   npm run chart:package [-- --out DIR --url URL]   helm package + repo index: a chart repository
 *
 * (`make run` is `npm run operator`, `make scribe` is `npm run build:plugin`.)
 */
import { Command } from 'commander';
import { join, resolve } from 'node:path';
import { loadKubeConfig } from '../src/kube/config.js';
import { crdFiles, installCrds } from '../src/local/crds.js';
import { CHART_DIR, helm, packageChart } from '../src/local/helm.js';
import { repoRoot } from '../src/local/tools.js';

const program = new Command('dev').description("The seed's make targets, from a checkout.");
const kubeOptions = (command: Command) =>
  command
    .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>');

kubeOptions(
  program
    .command('install-crds')
    .description("install or update Scribe's CRDs (and, if asked, the VolumeSnapshot CRDs) in the current cluster")
    .option(
      '--with-snapshot-crds',
      'also the snapshot.storage.k8s.io CRDs, for clusters without a snapshot controller yet',
    ),
).action(async (options: { kubeconfig?: string; context?: string; withSnapshotCrds?: boolean }) => {
  const files = await crdFiles();
  const chosen = options.withSnapshotCrds ? files : files.filter((file) => file.startsWith(join(repoRoot(), 'crds')));
  const names = await installCrds(loadKubeConfig(options), chosen);
  for (const name of names) console.log(`customresourcedefinition ${name} established`);
});

kubeOptions(
  program
    .command('deploy')
    .description('helm upgrade --install the chart from this checkout (the seed: `make deploy`)')
    .option('-n, --namespace <namespace>', 'namespace to install into', 'scribe-system')
    .option('--release <name>', 'Helm release name', 'scribe')
    .option('--set <value...>', 'chart values (key=value), as helm --set'),
).action(
  async (options: { kubeconfig?: string; context?: string; namespace: string; release: string; set?: string[] }) => {
    const args = ['upgrade', '--install', options.release, CHART_DIR, '-n', options.namespace, '--create-namespace'];
    for (const value of options.set ?? []) args.push('--set', value);
    if (options.kubeconfig) args.push('--kubeconfig', options.kubeconfig);
    if (options.context) args.push('--kube-context', options.context);
    process.stdout.write(await helm(args));
  },
);

program
  .command('package-chart')
  .description('helm package the chart and index it, so the directory served at --url is a chart repository')
  .option('--out <dir>', 'output directory', 'dist/charts')
  .requiredOption('--url <url>', 'the URL the directory will be served at (written into index.yaml)')
  .action(async (options: { out: string; url: string }) => {
    const packaged = await packageChart(resolve(options.out), options.url);
    console.log(`${packaged}\n${join(resolve(options.out), 'index.yaml')}`);
    console.log(`Serve ${options.out} at ${options.url}, then: helm repo add backube ${options.url}`);
  });

await program.parseAsync();
