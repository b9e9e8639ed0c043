/**
 * rsync's own rules (src/movers/rsync/validate.ts, the descriptor's `validate`), which the
 * operator hands to the machine as the mover's problems: decision 16's topology and the address.
 */
import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../../machines/validate.js';
import { rsync } from '../../../src/movers/rsync/index.js';
import { destination, source } from '../machines/fixtures.js';

const fields = (errors: { field: string }[]) => errors.map((e) => e.field);

describe('rsync validate', () => {
  it('accepts the fixtures', () => {
    expect(rsync.validate(source())).toEqual([]);
    expect(rsync.validate(destination())).toEqual([]);
  });
  it('decision 16: a destination only receives, so an address is refused', () => {
    const cr = destination({ rsync: { copyMethod: 'None', capacity: '1Gi', address: '10.0.0.1', sshKeys: 'k' } });
    expect(rsync.validate(cr)).toEqual([
      { field: 'spec.rsync.address', message: expect.stringMatching(/only receives/) },
    ]);
  });
  it('decision 16: a source only sends, so it needs an address', () => {
    const cr = source({ rsync: { copyMethod: 'Clone', sshKeys: 'k' } });
    expect(rsync.validate(cr)).toEqual([{ field: 'spec.rsync.address', message: expect.stringMatching(/only sends/) }]);
  });
  it('an address must be a host name or an IP address', () => {
    expect(fields(rsync.validate(source({ rsync: { copyMethod: 'None', address: 'not a host!' } })))).toEqual([
      'spec.rsync.address',
    ]);
    expect(rsync.validate(source({ rsync: { copyMethod: 'None', address: 'fd00::1' } }))).toEqual([]);
  });
  it('a source exposes no Service: serviceType LoadBalancer is refused', () => {
    const cr = source({ rsync: { copyMethod: 'None', address: 'a.example', serviceType: 'LoadBalancer' } });
    expect(fields(rsync.validate(cr))).toEqual(['spec.rsync.serviceType']);
  });
  it('a CR of another mover has no rsync problems', () => {
    expect(rsync.validate(source({ rsync: undefined, restic: { copyMethod: 'None', repository: 'r' } }))).toEqual([]);
  });
  it('the machine says them as it says any spec problem, after its own', () => {
    const cr = source({ rsync: { copyMethod: 'Clone', sshKeys: 'k' }, trigger: { schedule: '61 * * * *' } });
    expect(fields(validateSpec(cr, { moverProblems: rsync.validate(cr) }))).toEqual([
      'spec.trigger.schedule',
      'spec.rsync.address',
    ]);
  });
});
