import { describe, expect, it } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import { OwnerIndex } from '../../../src/controller/owner-index.js';

const object = (kind: string, name: string, uid: string, owner?: string): KubernetesObject => ({
  kind,
  metadata: {
    name,
    uid,
    ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'o', uid: owner, controller: true }] } : {}),
  },
});

describe('OwnerIndex', () => {
  it('files objects under their controller owner and forgets them on delete', () => {
    const index = new OwnerIndex();
    index.upsert(object('Job', 'a', 'j1', 'cr1'));
    index.upsert(object('Job', 'b', 'j2', 'cr2'));
    index.upsert(object('Pod', 'p', 'p1', 'j1'));
    index.upsert(object('Secret', 'unowned', 's1'));
    expect(index.owned('cr1', 'Job').map((o) => o.metadata?.name)).toEqual(['a']);
    expect(index.owned('j1', 'Pod').map((o) => o.metadata?.name)).toEqual(['p']);
    index.remove(object('Job', 'a', 'j1', 'cr1'));
    expect(index.owned('cr1', 'Job')).toEqual([]);
    expect(index.owned('cr2', 'Job')).toHaveLength(1);
  });

  it("files an Event under the object it is about (a mover Job's FailedCreate)", () => {
    const index = new OwnerIndex();
    const event = {
      kind: 'Event',
      metadata: { name: 'job.1', uid: 'e1' },
      involvedObject: { kind: 'Job', name: 'a', uid: 'j1' },
    } as KubernetesObject;
    index.upsert(event);
    expect(index.owned('j1', 'Event').map((o) => o.metadata?.name)).toEqual(['job.1']);
    index.remove(event);
    expect(index.owned('j1', 'Event')).toEqual([]);
  });

  it('moves an object whose owner changed, and keeps a same-named successor', () => {
    const index = new OwnerIndex();
    index.upsert(object('Job', 'a', 'j1', 'cr1'));
    index.upsert(object('Job', 'a', 'j1', 'cr2'));
    expect(index.owned('cr1', 'Job')).toEqual([]);
    expect(index.owned('cr2', 'Job')).toHaveLength(1);
    // A new object of the same name (new uid) replaces the old one; deleting the old one later
    // must not remove the successor.
    index.upsert(object('Job', 'a', 'j2', 'cr2'));
    index.remove(object('Job', 'a', 'j1', 'cr2'));
    expect(index.owned('cr2', 'Job').map((o) => o.metadata?.uid)).toEqual(['j2']);
  });
});
