import { describe, expect, it } from 'vitest';
import { describeErrors, quantityBytes, validateSpec } from '../../../machines/validate.js';
import { destination, pvc, source } from './fixtures.js';

const fields = (errors: { field: string }[]) => errors.map((e) => e.field);

describe('validateSpec', () => {
  it('accepts the fixtures', () => {
    expect(validateSpec(source())).toEqual([]);
    expect(validateSpec(destination())).toEqual([]);
  });
  it('names spec.trigger.schedule for minute 61', () => {
    const errors = validateSpec(source({ trigger: { schedule: '61 * * * *' } }));
    expect(fields(errors)).toEqual(['spec.trigger.schedule']);
    expect(describeErrors(errors)).toMatch(/^spec\.trigger\.schedule: .*61/);
  });
  it('decision 5: names spec.trigger.schedule for a 6-field value', () => {
    expect(describeErrors(validateSpec(source({ trigger: { schedule: '0 */30 * * * *' } })))).toMatch(
      /spec\.trigger\.schedule: .*6-field/,
    );
  });
  it('names spec.<mover>.moverPodLabels for keys the API server would refuse on the pod', () => {
    const good = { team: 'a', 'example.com/tier': 'b', 'A_b.c-d': 'c' };
    expect(validateSpec(source({ rsync: { ...source().spec.rsync, moverPodLabels: good } as never }))).toEqual([]);
    const bad = { 'has space': 'a', '-leading': 'b', ['x'.repeat(64)]: 'c', 'Upper.Case/name': 'd' };
    const errors = validateSpec(source({ rsync: { ...source().spec.rsync, moverPodLabels: bad } as never }));
    expect(fields(errors)).toEqual(['spec.rsync.moverPodLabels']);
    expect(describeErrors(errors)).toContain('"has space", "-leading", "' + 'x'.repeat(64) + '", "Upper.Case/name"');
  });
  it('decision 6: a CR without a mover is refused (the CRD rule names the catalog, test/unit/movers/catalog.test.ts)', () => {
    const cr = source();
    delete cr.spec.rsync;
    expect(validateSpec(cr)).toEqual([{ field: 'spec', message: expect.stringMatching(/^a mover is required/) }]);
  });
  it('decision 6: a CR with two movers names both', () => {
    const cr = source({ restic: { copyMethod: 'None', repository: 'r' } });
    expect(describeErrors(validateSpec(cr))).toBe(
      'spec: exactly one mover may be set, found spec.rsync and spec.restic',
    );
  });
  it('decision 6: a destination copyMethod of Clone is refused', () => {
    const cr = destination({ rsync: { copyMethod: 'Clone' as never, capacity: '1Gi' } });
    expect(fields(validateSpec(cr))).toEqual(['spec.rsync.copyMethod']);
  });
  it('decision 6: a block-mode source PVC is refused clearly', () => {
    expect(fields(validateSpec(source(), { volume: pvc('data', { volumeMode: 'Block' }) }))).toEqual([
      'spec.sourcePVC',
    ]);
  });
  it('a destination needs a capacity or a destinationPVC', () => {
    expect(fields(validateSpec(destination({ rsync: { copyMethod: 'None' } })))).toEqual(['spec.rsync.capacity']);
    expect(validateSpec(destination({ rsync: { copyMethod: 'None', destinationPVC: 'mine' } }))).toEqual([]);
  });
  it('a source capacity smaller than the source PVC names spec.<mover>.capacity (a clone cannot shrink)', () => {
    const volume = pvc('data', { capacity: '5Gi' });
    const small = (copyMethod: 'Clone' | 'Snapshot' | 'None', capacity: string) =>
      validateSpec(source({ rsync: { copyMethod, capacity, address: 'a.example', sshKeys: 'k' } }), { volume });
    expect(fields(small('Clone', '1Gi'))).toEqual(['spec.rsync.capacity']);
    expect(describeErrors(small('Snapshot', '4Gi'))).toMatch(
      /^spec\.rsync\.capacity: 4Gi is smaller than PVC data's 5Gi; a volume restored from a snapshot cannot be smaller/,
    );
    expect(small('Clone', '5Gi')).toEqual([]);
    expect(small('Clone', '6G')).toEqual([]);
    // copyMethod None copies nothing: the capacity is not used.
    expect(small('None', '1Gi')).toEqual([]);
    // Without the PVC's facts (not there yet) nothing can be said.
    expect(
      validateSpec(source({ rsync: { copyMethod: 'Clone', capacity: '1Mi', address: 'a', sshKeys: 'k' } })),
    ).toEqual([]);
    const restic = source({ rsync: undefined, restic: { copyMethod: 'Clone', repository: 'r', capacity: '100Mi' } });
    expect(fields(validateSpec(restic, { volume }))).toEqual(['spec.restic.capacity']);
  });
  it('reads resource quantities', () => {
    expect(quantityBytes('1Gi')).toBe(2 ** 30);
    expect(quantityBytes('1500M')).toBe(1.5e9);
    expect(quantityBytes('1e3')).toBe(1000);
    expect(quantityBytes('0.5Ki')).toBe(512);
    expect(quantityBytes(42)).toBe(42);
    expect(quantityBytes('ten gigs')).toBeUndefined();
    expect(quantityBytes('1Xi')).toBeUndefined();
    expect(quantityBytes(undefined)).toBeUndefined();
  });
  it('decision 7: external CRs are not checked', () => {
    expect(validateSpec(source({ external: { provider: 'x.io/p' }, trigger: { schedule: 'bad' } }))).toEqual([]);
  });
});
