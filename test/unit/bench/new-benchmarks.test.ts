/**
 * The command lines and settings of issue 24's benchmark additions: the rsync benchmark's
 * unchanged runs, the whole cycle, the controller at 10,000 CRs, the pod's environment and
 * login of every timed process, the controller's repeated burst rounds.
 */
import { describe, expect, it } from 'vitest';
import { parseScaleArgs } from '../../../bench/controller-scale.js';
import { parseControllerArgs } from '../../../bench/controller/options.js';
import { medianRatio } from '../../../bench/controller/report.js';
import { planWorkload } from '../../../bench/controller/workload.js';
import { cycleCommand, parseCycleTailArgs } from '../../../bench/cycle-tail.js';
import { parseRsyncArgs } from '../../../bench/rsync.js';
import { withPodLogin } from '../../../bench/scaffold/pod-login.js';
import { IMAGE_PATH, podEnv } from '../../../bench/scaffold/processes.js';
import { readRss } from '../../../bench/scaffold/proc.js';
import { parseWholeCycleArgs, WHOLE_CYCLE_BENCHMARK } from '../../../bench/whole-cycle.js';

describe('the rsync benchmark', () => {
  it('runs 5 times on the unchanged tree by default, and as many as --unchanged-runs says', () => {
    expect(parseRsyncArgs([]).unchangedRuns).toBe(5);
    expect(parseRsyncArgs(['--unchanged-runs', '12']).unchangedRuns).toBe(12);
    expect(() => parseRsyncArgs(['--unchanged-runs', '0'])).toThrow(/--unchanged-runs/);
  });
});

describe('the whole cycle', () => {
  it('syncs an unchanged 1 GiB volume of 1,000 files against raw rsync, copyMethod Clone then None', () => {
    const options = parseWholeCycleArgs([]);
    expect(options).toMatchObject({
      syncs: 5,
      tree: { sizeMiB: 1024, files: 1000, seed: 1 },
      sourceCopyMethod: 'Clone',
      destinationCopyMethod: 'None',
      raw: true,
    });
    // The recorded command reproduces the run.
    expect(parseWholeCycleArgs(WHOLE_CYCLE_BENCHMARK.command(options).split(' ').slice(4))).toEqual(options);
  });

  it('refuses a copy method it does not know, naming the flag', () => {
    expect(() => parseWholeCycleArgs(['--copy-method', 'Copy'])).toThrow(
      /--copy-method must be one of Clone, Snapshot, None/,
    );
  });

  it("keeps the cycle tail's demo volume unless a size is given, and wants one for --raw", () => {
    expect(parseCycleTailArgs([]).tree).toBeUndefined();
    expect(parseCycleTailArgs(['--files', '10']).tree).toEqual({ sizeMiB: 1024, files: 10, seed: 1 });
    expect(() => parseCycleTailArgs(['--raw'])).toThrow(/--raw needs a generated volume/);
    expect(cycleCommand('cycle-tail')(parseCycleTailArgs([]))).toBe('npm run bench:cycle-tail -- --syncs 50');
  });
});

describe("the controller's burst rounds", () => {
  it('runs 3 bursts against the floor by default, at least 1', () => {
    expect(parseControllerArgs([]).burstRounds).toBe(3);
    expect(parseControllerArgs(['--burst-rounds', '5']).burstRounds).toBe(5);
    expect(() => parseControllerArgs(['--burst-rounds', '0'])).toThrow(/--burst-rounds/);
  });

  it("takes the median of the rounds' ratios, the mean of the middle two for an even count", () => {
    const round = (p99Ms: number, floorP99Ms: number) => ({ p99Ms, floorP99Ms });
    expect(medianRatio([round(4000, 2000), round(3000, 3000), round(3900, 3000)])).toBeCloseTo(1.3);
    expect(medianRatio([round(4000, 2000), round(3000, 3000)])).toBeCloseTo(1.5);
  });
});

describe('the controller at 10,000 CRs', () => {
  it('spreads the CRs over one namespace per 100, up to 100', () => {
    expect(planWorkload(1000).namespaces).toBe(10);
    expect(planWorkload(10_000).namespaces).toBe(100);
    expect(planWorkload(20_000).namespaces).toBe(100);
    const workload = planWorkload(10_000);
    expect(new Set(workload.crs.map((cr) => cr.namespace)).size).toBe(100);
    expect(workload.crs).toHaveLength(10_000);
  });

  it('takes a list of counts', () => {
    expect(parseScaleArgs([]).counts).toEqual([1000, 10_000]);
    expect(parseScaleArgs(['--crs', '200, 2000']).counts).toEqual([200, 2000]);
    expect(() => parseScaleArgs(['--crs', '1000,x'])).toThrow(/--crs/);
  });

  it("reads every process's RSS by name, as readCpu names them", () => {
    const rss = readRss(new Map([[process.pid, 'this test']]));
    expect(rss.get('this test')).toBeGreaterThan(0);
  });
});

describe("a pod's environment and login", () => {
  it("gives the image's PATH, the user's home and the settings, nothing of the shell's", () => {
    const env = podEnv({ LANG: 'C' });
    expect(env.PATH).toBe(IMAGE_PATH);
    expect(env.HOME).toBeTruthy();
    expect(env.LANG).toBe('C');
    expect(env.NODE_EXTRA_CA_CERTS).toBeUndefined();
    expect(env.USER).toBeUndefined();
  });

  it('puts the login prefix before the command, or nothing when there is none', () => {
    expect(withPodLogin({ prefix: [], description: '' }, 'sshd', ['-D'])).toEqual(['sshd', ['-D']]);
    expect(withPodLogin({ prefix: ['unshare', '--mount'], description: '' }, 'sshd', ['-D'])).toEqual([
      'unshare',
      ['--mount', 'sshd', '-D'],
    ]);
  });
});
