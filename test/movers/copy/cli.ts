/**
 * `scribe mover <name>` of a catalog with the copy mover added, as src/cli/scribe.ts runs it for
 * the shipped catalog: the entrypoint's module URL from moverCommands(), imported.
 */
import { catalogWith, moverCommands } from '../../../src/movers/index.js';
import { copy } from './index.js';

const commands = moverCommands(catalogWith(copy));
const entrypoint = commands[process.argv[2] ?? ''];
if (!entrypoint) {
  console.error(`unknown mover "${process.argv[2] ?? ''}": expected one of ${Object.keys(commands).join(', ')}`);
  process.exit(2);
}
await import(entrypoint);
