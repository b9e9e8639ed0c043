/**
 * Loopback addresses for pods (127.1.0.0/16) and LoadBalancer Services (127.97.0.0/16).
 * Linux routes all of 127.0.0.0/8 to lo, so each pod can listen on its own address and two
 * pods can use the same port. An address is derived from the owner's uid (stable across agent
 * restarts) and probed linearly past addresses already taken.
 */
import { createHash } from 'node:crypto';

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
