/** The controller benchmark's settings and flags. */
import { parseArgs } from 'node:util';
import { positiveNumber } from '../scaffold/common.js';

/** Settings of one controller benchmark run. */
export interface ControllerBenchOptions {
  crs: number;
  idleSeconds: number;
  /** compiled: the operator bundled to plain JavaScript (as the image runs dist/); tsx: through tsx. */
  runtime: 'compiled' | 'tsx';
  cpuProf: boolean;
  /** Also take a CPU profile of the API server over the burst's first APISERVER_PROFILE_SECONDS. */
  apiserverProf: boolean;
  heapSnapshot: boolean;
  /** Triggers of the paced round (after the burst): this many CRs, one every 1/pacedRate s. */
  paced: number;
  pacedRate: number;
  /**
   * Bursts of triggers on every CR, each followed by the running floor's burst (run.ts): the
   * burst's ratio to the floor is the median of these rounds' ratios. At least 1.
   */
  burstRounds: number;
  /** Cycles completed in all before the last heap reading (more rounds on every CR until then). */
  soakCycles: number;
  /** How long a mover "runs": a Job is completed this long after the benchmark sees it (0: at once). */
  moverSeconds: number;
  log: (line: string) => void;
}

export const CONTROLLER_DEFAULTS: ControllerBenchOptions = {
  crs: 1000,
  idleSeconds: 300,
  runtime: 'compiled',
  cpuProf: false,
  apiserverProf: false,
  heapSnapshot: false,
  paced: 200,
  pacedRate: 10,
  burstRounds: 3,
  soakCycles: 10_000,
  moverSeconds: 0,
  log: (line) => process.stdout.write(`${line}\n`),
};

/** Parses the command line of `npm run bench:controller`. */
export function parseControllerArgs(args: string[]): ControllerBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      crs: { type: 'string' },
      'idle-seconds': { type: 'string' },
      runtime: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'apiserver-prof': { type: 'boolean', default: false },
      'heap-snapshot': { type: 'boolean', default: false },
      paced: { type: 'string' },
      'paced-rate': { type: 'string' },
      'burst-rounds': { type: 'string' },
      'soak-cycles': { type: 'string' },
      'mover-seconds': { type: 'string' },
    },
  });
  const runtime = values.runtime ?? CONTROLLER_DEFAULTS.runtime;
  if (runtime !== 'compiled' && runtime !== 'tsx') throw new Error('--runtime must be compiled or tsx');
  return {
    ...CONTROLLER_DEFAULTS,
    crs: Math.max(2, Math.round(positiveNumber('--crs', values.crs, CONTROLLER_DEFAULTS.crs))),
    idleSeconds: positiveNumber('--idle-seconds', values['idle-seconds'], CONTROLLER_DEFAULTS.idleSeconds),
    runtime,
    cpuProf: values['cpu-prof'] ?? false,
    apiserverProf: values['apiserver-prof'] ?? false,
    heapSnapshot: values['heap-snapshot'] ?? false,
    paced: Math.round(positiveNumber('--paced', values.paced, CONTROLLER_DEFAULTS.paced)),
    pacedRate: positiveNumber('--paced-rate', values['paced-rate'], CONTROLLER_DEFAULTS.pacedRate),
    burstRounds: Math.max(
      1,
      Math.round(positiveNumber('--burst-rounds', values['burst-rounds'], CONTROLLER_DEFAULTS.burstRounds)),
    ),
    soakCycles: Math.round(positiveNumber('--soak-cycles', values['soak-cycles'], CONTROLLER_DEFAULTS.soakCycles)),
    moverSeconds:
      values['mover-seconds'] === undefined ? 0 : positiveNumber('--mover-seconds', values['mover-seconds'], 0),
  };
}
