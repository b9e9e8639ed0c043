/** Address ranges of nodes side by side (issue 23): apart from each other, the lone node's and the ClusterIPs. */
import { describe, expect, it } from 'vitest';
import {
  AddressPool,
  DEFAULT_ADDRESS_RANGES,
  LOAD_BALANCER_RANGE_OCTETS,
  POD_RANGE_OCTETS,
  sideBySideRanges,
} from '../../../src/local/agent/addresses.js';

const octet = (prefix: string) => Number(prefix.split('.')[1]);

describe('sideBySideRanges', () => {
  it('gives each node its own pod and LoadBalancer /16, none of them a default or ClusterIP range', () => {
    for (let run = 0; run < 50; run++) {
      const ranges = sideBySideRanges(5);
      const all = ranges.flatMap((r) => [r.pods, r.loadBalancers]);
      expect(new Set(all).size).toBe(10);
      for (const { pods, loadBalancers } of ranges) {
        expect(octet(pods)).toBeGreaterThanOrEqual(POD_RANGE_OCTETS.first);
        expect(octet(pods)).toBeLessThanOrEqual(POD_RANGE_OCTETS.last);
        expect(octet(loadBalancers)).toBeGreaterThanOrEqual(LOAD_BALANCER_RANGE_OCTETS.first);
        expect(octet(loadBalancers)).toBeLessThanOrEqual(LOAD_BALANCER_RANGE_OCTETS.last);
        expect([DEFAULT_ADDRESS_RANGES.pods, DEFAULT_ADDRESS_RANGES.loadBalancers]).not.toContain(pods);
        expect([DEFAULT_ADDRESS_RANGES.pods, DEFAULT_ADDRESS_RANGES.loadBalancers]).not.toContain(loadBalancers);
        // 127.100–127.199 are the control planes' ClusterIP ranges.
        for (const prefix of [pods, loadBalancers]) expect(octet(prefix) >= 100 && octet(prefix) <= 199).toBe(false);
      }
    }
  });

  it('refuses more nodes than it has ranges for', () => {
    expect(() => sideBySideRanges(LOAD_BALANCER_RANGE_OCTETS.last - LOAD_BALANCER_RANGE_OCTETS.first + 2)).toThrow(
      /at most 51 nodes side by side/,
    );
  });

  it("a pool hands out addresses of its own range only, keeps a status's address and frees it", () => {
    const pool = new AddressPool('127.201');
    const ip = pool.allocate('uid-1');
    expect(ip).toMatch(/^127\.201\.\d+\.\d+$/);
    expect(pool.allocate('uid-1')).toBe(ip);
    pool.reserve('uid-2', '127.97.0.5');
    expect(pool.contains('127.97.0.5')).toBe(false);
    expect(pool.allocate('uid-3', ip)).not.toBe(ip);
    pool.release('uid-1');
    expect(pool.allocate('uid-4', ip)).toBe(ip);
  });
});
