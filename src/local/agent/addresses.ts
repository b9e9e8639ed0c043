/**
 * Loopback addresses for pods (127.1.0.0/16 by default) and LoadBalancer Services
 * (127.97.0.0/16 by default). Linux routes all of 127.0.0.0/8 to lo, so each pod can listen on
 * its own address and two pods can use the same port. An address is derived from the owner's uid
 * (stable across agent restarts) and probed linearly past addresses already taken.
 *
 * Several local clusters on one machine (clusters.ts) give each node ranges of its own
 * (NodeAddressRanges): pods in 127.2–127.96, load balancers in 127.200–127.250, apart from each
 * other and from every control plane's ClusterIP range (127.100–127.199, control-plane.ts), so
 * two nodes never hand out the same address.
 */
import { createHash } from 'node:crypto';

/** The first two octets of a node's pod and LoadBalancer address ranges, e.g. "127.1". */
export interface NodeAddressRanges {
  pods: string;
  loadBalancers: string;
}

/** The ranges of a node that runs alone (the default local runtime). */
export const DEFAULT_ADDRESS_RANGES: Readonly<NodeAddressRanges> = { pods: '127.1', loadBalancers: '127.97' };

/** Second octets for the pod ranges of side-by-side nodes (below 127.97 and the ClusterIP ranges). */
export const POD_RANGE_OCTETS = { first: 2, last: 96 } as const;
/** Second octets for the LoadBalancer ranges of side-by-side nodes (above every ClusterIP range). */
export const LOAD_BALANCER_RANGE_OCTETS = { first: 200, last: 250 } as const;

/**
 * Ranges for `count` nodes side by side: distinct from each other and from the default ones,
 * picked at random in their octet ranges so that two sets started at once rarely meet.
 */
export function sideBySideRanges(count: number, random: () => number = Math.random): NodeAddressRanges[] {
  const pick = (first: number, last: number) => {
    const octets = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    for (let i = octets.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [octets[i], octets[j]] = [octets[j] as number, octets[i] as number];
    }
    if (count > octets.length) throw new Error(`at most ${octets.length} nodes side by side, not ${count}`);
    return octets.slice(0, count);
  };
  const pods = pick(POD_RANGE_OCTETS.first, POD_RANGE_OCTETS.last);
  const balancers = pick(LOAD_BALANCER_RANGE_OCTETS.first, LOAD_BALANCER_RANGE_OCTETS.last);
  return pods.map((octet, i) => ({ pods: `127.${octet}`, loadBalancers: `127.${balancers[i]}` }));
}

/** A /16 of loopback addresses handed out by key. */
export class AddressPool {
  private readonly byKey = new Map<string, string>();
  private readonly taken = new Set<string>();

  /** `prefix` is the first two octets, e.g. "127.1". */
  constructor(private readonly prefix: string) {}

  /** True when `ip` lies in this pool's /16. */
  contains(ip: string | undefined): boolean {
    return Boolean(ip?.startsWith(`${this.prefix}.`));
  }

  /** The address of `key`: `preferred` if it is free and in range, else one derived from the key. */
  allocate(key: string, preferred?: string): string {
    const existing = this.byKey.get(key);
    if (existing) return existing;
    let ip = preferred && this.contains(preferred) && !this.taken.has(preferred) ? preferred : undefined;
    if (!ip) {
      const hash = createHash('sha256').update(key).digest().readUInt16BE(0);
      // Skip .0 and .255 host parts so addresses look ordinary; 254*256 candidates remain.
      for (let i = 0; i < 256 * 254 && !ip; i++) {
        const n = (hash + i) % (256 * 254);
        const candidate = `${this.prefix}.${Math.floor(n / 254)}.${(n % 254) + 1}`;
        if (!this.taken.has(candidate)) ip = candidate;
      }
    }
    if (!ip) throw new Error(`address pool ${this.prefix}.0.0/16 is exhausted`);
    this.byKey.set(key, ip);
    this.taken.add(ip);
    return ip;
  }

  /** Marks an address as in use by `key` (one found in an object's status). */
  reserve(key: string, ip: string): void {
    if (!this.contains(ip) || this.byKey.has(key) || this.taken.has(ip)) return;
    this.byKey.set(key, ip);
    this.taken.add(ip);
  }

  /** Frees the address of `key`. */
  release(key: string): void {
    const ip = this.byKey.get(key);
    if (ip) this.taken.delete(ip);
    this.byKey.delete(key);
  }
}
