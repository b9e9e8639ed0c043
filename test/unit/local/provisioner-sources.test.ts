import { describe, expect, it } from 'vitest';
import { isProvisionerSource } from '../../../src/local/agent/provisioner.js';

describe("the local provisioner's data sources", () => {
  it('fills clones and snapshot restores itself, as the CSI external-provisioner does', () => {
    expect(isProvisionerSource({ kind: 'PersistentVolumeClaim' })).toBe(true);
    expect(isProvisionerSource({ apiGroup: '', kind: 'PersistentVolumeClaim' })).toBe(true);
    expect(isProvisionerSource({ apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot' })).toBe(true);
  });

  it("leaves any other kind to that kind's volume populator", () => {
    expect(isProvisionerSource({ apiGroup: 'scribe.backube', kind: 'ReplicationDestination' })).toBe(false);
    expect(isProvisionerSource({ apiGroup: 'example.com', kind: 'PersistentVolumeClaim' })).toBe(false);
    expect(isProvisionerSource({ apiGroup: 'example.com', kind: 'VolumeSnapshot' })).toBe(false);
  });
});
