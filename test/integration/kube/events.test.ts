import { describe, expect, it } from 'vitest';
import { EventRecorder } from '../../../src/kube/events.js';
import { kubeRequest } from '../../../src/kube/rest.js';
import { collectionPath, RESOURCES } from '../../../src/kube/resources.js';
import { createIn } from '../../support/apply.js';
import { testKubeConfig, testNamespace } from '../../support/cluster.js';

const source = {
  apiVersion: 'scribe.backube/v1alpha1',
  kind: 'ReplicationSource',
  metadata: { name: 'events-test' },
  spec: { sourcePVC: 'data', rsync: { copyMethod: 'None', address: 'dest.example' } },
};

describe('events', () => {
  it('records an Event about a CR and counts repeats in its series', async () => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'events');
    const created = await createIn(kc, namespace, source);
    const recorder = new EventRecorder(kc, 'test');
    const event = { type: 'Warning' as const, reason: 'TransferFailed', message: 'rsync exited with code 12' };
    expect(await recorder.record(created, event)).toBeUndefined();
    expect(await recorder.record(created, event)).toBeUndefined();
    const events = await kubeRequest<{ items: Array<Record<string, unknown>> }>(kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.Event, namespace),
    });
    expect(events.items).toHaveLength(1);
    const [stored] = events.items;
    expect(stored).toMatchObject({
      type: 'Warning',
      reason: 'TransferFailed',
      note: 'rsync exited with code 12',
      regarding: { kind: 'ReplicationSource', name: 'events-test', uid: created.metadata?.uid },
      series: { count: 2 },
    });
  });

  it('remembers a bounded number of series, the most recently used kept', async () => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'series');
    const created = await createIn(kc, namespace, source);
    const recorder = new EventRecorder(kc, 'test', () => new Date(), 2);
    const event = (message: string) => ({ type: 'Normal' as const, reason: 'Synced', message });
    for (const message of ['one', 'two', 'one', 'three', 'one', 'two']) {
      expect(await recorder.record(created, event(message))).toBeUndefined();
    }
    const events = await kubeRequest<{ items: Array<{ note?: string; series?: { count: number } }> }>(kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.Event, namespace),
    });
    const counts = events.items.map((e) => `${e.note}:${e.series?.count ?? 1}`).sort();
    // "one" stayed remembered (used last before "three" came); "two" fell out and started anew.
    expect(counts).toEqual(['one:3', 'three:1', 'two:1', 'two:1']);
  });

  it('sends queued Events without the caller waiting, and reports a drop when the queue is full', async () => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'queued');
    const created = await createIn(kc, namespace, source);
    const recorder = new EventRecorder(kc, 'test', () => new Date(), 4096, 5);
    const errors: string[] = [];
    // post() returns before anything is sent: 4 go out at once, 5 wait, the tenth is dropped.
    for (let i = 0; i < 10; i++)
      recorder.post(created, { type: 'Normal', reason: 'Queued', message: `event ${i}` }, (e) =>
        errors.push(e.message),
      );
    expect(errors).toEqual(['5 Events are already waiting to be sent; this one was dropped']);
    await recorder.whenSent();
    const events = await kubeRequest<{ items: Array<{ note?: string }> }>(kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.Event, namespace),
    });
    expect(events.items.map((e) => e.note).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `event ${i}`));
  });

  it('sends held Events one at a time, then all at once when let go, with the time they happened', async () => {
    const kc = testKubeConfig();
    const namespace = await testNamespace(kc, 'held');
    const created = await createIn(kc, namespace, source);
    const happened = new Date('2026-01-02T03:04:05.678Z');
    const recorder = new EventRecorder(kc, 'test', () => happened);
    recorder.hold(true);
    for (const message of ['held 1', 'held 2', 'held 3'])
      recorder.post(created, { type: 'Normal', reason: 'Held', message }, () => {});
    // post() starts a send synchronously when it may; held, only one goes and the others wait.
    expect(recorder.waiting).toBe(2);
    recorder.hold(false);
    expect(recorder.waiting).toBe(0);
    await recorder.whenSent();
    const events = await kubeRequest<{ items: Array<{ note?: string; eventTime?: string }> }>(kc, {
      method: 'GET',
      path: collectionPath(RESOURCES.Event, namespace),
    });
    expect(events.items.map((e) => [e.note, e.eventTime]).sort()).toEqual(
      ['held 1', 'held 2', 'held 3'].map((note) => [note, '2026-01-02T03:04:05.678000Z']),
    );
  });
});
