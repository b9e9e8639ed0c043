/** The operator alone, as dist/operator.mjs runs it (`node dist/operator.mjs [flags]`); see bundle.ts. */
import { main } from '../main.js';

await main(process.argv.slice(2));
