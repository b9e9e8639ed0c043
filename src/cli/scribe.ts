/** `scribe`: the command of Scribe's image — the operator, or one mover entrypoint. */
import { Command } from 'commander';
import { moverCommands } from '../movers/index.js';

/** Mover entrypoints by name, from the catalog; each module runs its main() when imported and exits itself. */
const MOVERS = moverCommands();

const program = new Command('scribe').description('Asynchronous replication of Kubernetes persistent volumes.');

program
  .command('operator')
  .description('run the controller')
  .option('--kubeconfig <file>', 'kubeconfig to use (default: in-cluster, then KUBECONFIG)')
  .option('--context <name>', 'kubeconfig context')
  // Every other flag (and --help) belongs to main.ts's parser, which gets the words as they are.
  .helpOption(false)
  .allowUnknownOption(true)
  .allowExcessArguments(true)
  .action(async () => {
    const { main } = await import('../main.js');
    await main(process.argv.slice(3));
  });

program
  .command('mover')
  .description('run a mover entrypoint inside a mover pod')
  .argument('<name>', `one of: ${Object.keys(MOVERS).join(', ')}`)
  .action(async (name: string) => {
    const entrypoint = MOVERS[name];
    if (!entrypoint) return program.error(`unknown mover "${name}": expected one of ${Object.keys(MOVERS).join(', ')}`);
    await import(entrypoint);
  });

await program.parseAsync();
