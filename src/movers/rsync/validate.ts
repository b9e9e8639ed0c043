/**
 * rsync's rules the CRD cannot make (pure), each naming its field. Decision 16: the kind fixes
 * the data direction. A source only sends, so it connects to the destination's address; a
 * destination only receives, so it listens and takes no address. Either reverse topology would
 * write into a volume that should only be read, so both are refused here as the CRD's CEL rules
 * refuse them at `kubectl apply`.
 */
import type { ScribeCr } from '../../../machines/api.js';
import type { FieldError } from '../../../machines/validate.js';

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]+$/i;

/** The problems of a CR's spec.rsync; none for a CR of another mover. */
export function validateRsync(cr: ScribeCr): FieldError[] {
  const options = cr.kind === 'ReplicationSource' ? cr.spec.rsync : cr.spec.rsync;
  if (!options) return [];
  const errors: FieldError[] = [];
  const address = options.address;
  if (cr.kind === 'ReplicationSource' && typeof address !== 'string') {
    errors.push({
      field: 'spec.rsync.address',
      message: "required: a ReplicationSource only sends, to its ReplicationDestination's status.rsync.address",
    });
  }
  if (cr.kind === 'ReplicationDestination' && address !== undefined) {
    errors.push({
      field: 'spec.rsync.address',
      message: 'not allowed: a ReplicationDestination only receives; it listens for its source and never connects out',
    });
  }
  if (typeof address === 'string') {
    const host = address.trim();
    if (!(HOSTNAME.test(host) || IPV4.test(host) || (host.includes(':') && IPV6.test(host)))) {
      errors.push({ field: 'spec.rsync.address', message: `"${address}" is not a host name or an IP address` });
    }
  }
  // serviceType defaults to ClusterIP in the schema, so only a LoadBalancer asked of a source is wrong.
  if (cr.kind === 'ReplicationSource' && options.serviceType === 'LoadBalancer') {
    errors.push({
      field: 'spec.rsync.serviceType',
      message: 'a ReplicationSource connects out and exposes no Service; set serviceType on the ReplicationDestination',
    });
  }
  return errors;
}
