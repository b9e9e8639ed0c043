/**
 * The `kubectl-scribe` command line: the seed's four replication commands with every option of
 * its list, plus sync, status, inspect, dashboard and restore.
 */
import { Command, Option } from 'commander';
import type { ScribeCr } from '../../machines/api.js';
import { chartOf } from '../inspect/chart.js';
import { renderHtml } from '../inspect/html.js';
import { parseKindName } from '../inspect/kinds.js';
import { renderMermaid } from '../inspect/mermaid.js';
import { renderSvg } from '../inspect/svg.js';
import { renderText } from '../inspect/text.js';
import { inspectionOf, renderJson } from '../inspect/view.js';
import { mergeOptions } from './config-file.js';
import { listCrs, readCr } from './crs.js';
import { openBrowser, serveDashboard } from './dashboard.js';
import { PluginError } from './errors.js';
import { connect, parseTimeout } from './kube.js';
import { camelOf, OPTION_HELP, OPTION_KEYS, type OptionValues } from './options.js';
import { planOf } from './plan.js';
import { followSync, manualToken, setManualTrigger, type Print } from './progress.js';
import {
  continueReplication,
  removeReplication,
  setReplication,
  startReplication,
  type RunOptions,
} from './replication.js';
import { restore } from './restore.js';
import { AS_OF_HELP, parseAsOf } from './restore-choice.js';
import { renderStatusTable } from './status-table.js';

/** Where the program writes; tests pass their own. */
export interface ProgramIo {
  out: Print;
  /** Raw output, for documents (svg, html, json) that must not gain a newline per call. */
  write: (text: string) => void;
}

const defaultIo: ProgramIo = {
  out: (line) => console.log(line),
  write: (text) => process.stdout.write(text),
};

const OUTPUTS = ['text', 'mermaid', 'svg', 'html', 'json'] as const;

/** An output format of `inspect -o`. */
export type InspectOutput = (typeof OUTPUTS)[number];

/** What `inspect -o <output>` prints for a CR (exported so tests render exactly the same documents). */
export async function renderInspection(cr: ScribeCr, output: InspectOutput, now = Date.now()): Promise<string> {
  const inspection = inspectionOf(cr, chartOf(), now);
  const render = {
    text: () => renderText(inspection),
    json: () => renderJson(inspection),
    mermaid: () => renderMermaid(inspection.chart, inspection.state),
    svg: async () =>
      `${await renderSvg(inspection.chart, {
        current: inspection.state,
        title: `${cr.kind} ${cr.metadata.namespace}/${cr.metadata.name}`,
        journal: inspection.journal,
        now,
      })}\n`,
    html: () => renderHtml(inspection),
  }[output];
  return render();
}

/** Adds the seed's options, `--config` and `--timeout` to a replication command. */
function withSeedOptions(command: Command): Command {
  command.option('--config <file>', 'config file (default: ./config.yaml, else ~/.scribeconfig/config.yaml)');
  for (const key of OPTION_KEYS) {
    const { help, defaultText } = OPTION_HELP[key];
    command.option(`--${key} <value>`, defaultText ? `${help} (default: ${defaultText})` : help);
  }
  command.option('--timeout <duration>', 'how long to wait for the cluster (e.g. 90s, 5m)', '10m');
  return command;
}

/** The option values given as flags, by seed key. */
export function flagValues(opts: Record<string, unknown>): OptionValues {
  const values: OptionValues = {};
  for (const key of OPTION_KEYS) {
    const v = opts[camelOf(key)];
    if (typeof v === 'string') values[key] = v;
  }
  return values;
}

/** A seed command's action: merge flags over the config file, plan, run. */
function seedAction(io: ProgramIo, run: (plan: ReturnType<typeof planOf>, options: RunOptions) => Promise<unknown>) {
  return async (opts: Record<string, unknown>) => {
    const { values, configFile } = mergeOptions(flagValues(opts), { explicit: opts.config as string | undefined });
    if (configFile) io.out(`using config ${configFile}`);
    const plan = planOf(values);
    const bindTimeoutMs = typeof opts.bindTimeout === 'string' ? parseTimeout(opts.bindTimeout) : undefined;
    await run(plan, {
      print: io.out,
      timeoutMs: parseTimeout(String(opts.timeout)),
      ...(bindTimeoutMs === undefined ? {} : { bindTimeoutMs }),
    });
  };
}

/** Adds --context and --namespace as kubectl has them. */
function withTarget(command: Command): Command {
  return command
    .option('--context <name>', 'kubeconfig context (default: current context)')
    .option('-n, --namespace <namespace>', "namespace (default: the context's namespace)");
}

/** The local zone's offset (minutes east of UTC) at a wall time without zone, which Date reads as local. */
function localOffsetAt(text: string): number | undefined {
  const local = new Date(text.replace(' ', 'T'));
  return Number.isNaN(local.getTime()) ? undefined : -local.getTimezoneOffset();
}

/** Builds the program. */
export function buildProgram(io: ProgramIo = defaultIo): Command {
  const program = new Command('kubectl-scribe')
    .description('Scribe replication from the command line: set up, trigger, watch and inspect replications.')
    .showHelpAfterError('(run with --help for usage)');

  withSeedOptions(
    program
      .command('start-replication')
      .description(
        'create the destination PVC (if none is given and dest copy method is None), the ReplicationDestination, copy its SSH Secret to the source namespace, and create the ReplicationSource',
      ),
  ).action(seedAction(io, startReplication));

  withSeedOptions(
    program
      .command('set-replication')
      .description(
        'set a manual trigger on the ReplicationSource, wait for the final sync, and create a destination PVC <source-pvc>-<YYYYMMDDhhmmss> from the latest snapshot (if no dest PVC is given and dest copy method is Snapshot), then wait until that PVC is Bound, i.e. restored from the snapshot (a StorageClass that binds WaitForFirstConsumer binds only once a pod uses the PVC: then it says so instead of waiting)',
      ),
  )
    .option(
      '--bind-timeout <duration>',
      'how long to wait for the restored PVC to be Bound (e.g. 90s, 5m; 0: do not wait); exit code 2 after it',
      '10m',
    )
    .action(seedAction(io, setReplication));

  withSeedOptions(
    program.command('continue-replication').description('remove the manual trigger from the ReplicationSource'),
  ).action(seedAction(io, continueReplication));

  withSeedOptions(
    program
      .command('remove-replication')
      .description(
        'remove the ReplicationSource, the SSH Secret copied to the source namespace and the ReplicationDestination (never PVCs); refused while a PVC still restores from a snapshot the removal would delete (a PVC not yet Bound whose dataSource names it)',
      ),
  ).action(seedAction(io, removeReplication));

  withTarget(
    program
      .command('sync')
      .description('set a manual trigger on a CR and follow the sync until it completes or fails')
      .argument('<kind/name>', 'replicationsource/NAME (rs) or replicationdestination/NAME (rd)')
      .option('--timeout <duration>', 'give up after this long (e.g. 90s, 5m); exit code 2', '10m')
      .option(
        '--fail-fast',
        "exit with code 1 at the first failed attempt of this sync, naming the failure, instead of following the operator's retries until --timeout",
      ),
  ).action(async (ref: string, opts: { context?: string; namespace?: string; timeout: string; failFast?: boolean }) => {
    const { kind, name } = parseKindName(ref);
    const timeoutMs = parseTimeout(opts.timeout);
    const cluster = connect(opts.context);
    const namespace = opts.namespace ?? cluster.namespace;
    const token = await setManualTrigger(cluster, kind, namespace, name, manualToken(), { print: io.out, timeoutMs });
    io.out(`set manual trigger ${token} on ${kind} ${namespace}/${name}`);
    await followSync(cluster, kind, namespace, name, token, {
      timeoutMs,
      print: io.out,
      failFast: opts.failFast === true,
    });
  });

  withTarget(
    program
      .command('restore')
      .description(
        'create a new PVC from an image of a ReplicationDestination (copyMethod Snapshot): the latest, or with --as-of the newest taken at or before TIME, and wait until it is Bound; a restic destination given --as-of restores through restic (restoreAsOf) by a one-off ReplicationDestination, deleted once the PVC is Bound',
      )
      .requiredOption('--from <rd/name>', 'the ReplicationDestination: rd/NAME (or replicationdestination/NAME)')
      .requiredOption('--to <pvc>', 'name of the PVC to create (it must not exist), in the same namespace')
      .option('--as-of <time>', AS_OF_HELP)
      .option('--storage-class <class>', "StorageClass of the new PVC (default: the destination's, else the default)")
      .option(
        '--timeout <duration>',
        'give up after this long, for the restic restore and for the PVC to be Bound each (e.g. 90s, 5m); exit code 2',
        '10m',
      ),
  ).action(
    async (opts: {
      context?: string;
      namespace?: string;
      from: string;
      to: string;
      asOf?: string;
      storageClass?: string;
      timeout: string;
    }) => {
      const { kind, name } = (() => {
        try {
          return parseKindName(opts.from);
        } catch {
          throw new PluginError(`--from ${opts.from}: name a ReplicationDestination, as rd/NAME`);
        }
      })();
      if (kind !== 'ReplicationDestination') {
        throw new PluginError(`--from ${opts.from}: name a ReplicationDestination, as rd/NAME`);
      }
      const asOf =
        opts.asOf === undefined
          ? undefined
          : parseAsOf(opts.asOf, Intl.DateTimeFormat().resolvedOptions().timeZone, localOffsetAt(opts.asOf));
      const timeoutMs = parseTimeout(opts.timeout);
      const cluster = connect(opts.context);
      await restore({
        cluster,
        namespace: opts.namespace ?? cluster.namespace,
        from: name,
        to: opts.to,
        ...(asOf ? { asOf } : {}),
        ...(opts.storageClass ? { storageClass: opts.storageClass } : {}),
        timeoutMs,
        print: io.out,
      });
    },
  );

  withTarget(
    program
      .command('status')
      .description('a table of the ReplicationSources and ReplicationDestinations: state, last sync, next sync, result')
      .option('-A, --all-namespaces', 'list across all namespaces'),
  ).action(async (opts: { context?: string; namespace?: string; allNamespaces?: boolean }) => {
    const cluster = connect(opts.context);
    const namespace = opts.allNamespaces ? undefined : (opts.namespace ?? cluster.namespace);
    io.write(renderStatusTable(await listCrs(cluster, namespace), namespace === undefined));
  });

  withTarget(
    program
      .command('inspect')
      .description(
        "show a CR's state chart with its current state, its recent transitions and the objects of its current cycle",
      )
      .argument('<kind/name>', 'replicationsource/NAME (rs) or replicationdestination/NAME (rd)')
      .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUTS).default('text')),
  ).action(async (ref: string, opts: { context?: string; namespace?: string; output: InspectOutput }) => {
    const { kind, name } = parseKindName(ref);
    const cluster = connect(opts.context);
    const cr = await readCr(cluster, kind, opts.namespace ?? cluster.namespace, name);
    io.write(await renderInspection(cr, opts.output));
  });

  withTarget(
    program
      .command('dashboard')
      .description(
        "serve the /debug pages (every CR's state chart, live) on a loopback port with your kubeconfig's credentials, print the URL and open a browser if there is one",
      )
      .option('--port <port>', 'loopback port (default: one the kernel picks)', '0')
      .option('--no-open', 'only print the URL, do not open a browser'),
  ).action(async (opts: { context?: string; namespace?: string; port: string; open: boolean }) => {
    const port = Number(opts.port);
    if (!/^[0-9]+$/.test(opts.port) || port > 65535) throw new PluginError(`--port "${opts.port}": use 0 to 65535`);
    const cluster = connect(opts.context);
    const dashboard = await serveDashboard(cluster, { port, namespace: opts.namespace, log: io.out });
    io.out(`Scribe dashboard of context ${cluster.context}: ${dashboard.url} (Ctrl-C to stop)`);
    if (opts.open) openBrowser(dashboard.url, io.out);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await dashboard.close();
  });

  return program;
}
