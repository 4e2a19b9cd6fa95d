import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryDocumentStore } from '../platform/memory-store.ts';
import { ManualClock } from './clock.ts';
import { EventBus, type NimbusEvent } from './events.ts';

describe('EventBus', () => {
  it('delivers matching events to subscribers in order', async () => {
    const bus = new EventBus(new MemoryDocumentStore(), new ManualClock());
    const seen: string[] = [];
    bus.subscribe('audit', 'storage.object.*', (event) => {
      seen.push(`${event.type}:${event.subject}`);
    });
    bus.start();
    bus.publish('storage.object.finalize', 'b/o1', {});
    bus.publish('compute.instance.started', 'i1', {});
    bus.publish('storage.object.delete', 'b/o1', {});
    await new Promise((resolve) => setImmediate(resolve));
    await bus.drain();
    assert.deepEqual(seen, ['storage.object.finalize:b/o1', 'storage.object.delete:b/o1']);
  });

  it('replays unacknowledged events after a restart (persisted outbox)', async () => {
    const store = new MemoryDocumentStore();
    const first = new EventBus(store, new ManualClock());
    first.subscribe('trigger', 'storage.object.finalize', () => {
      throw new Error('handler down');
    });
    first.setErrorReporter(() => undefined);
    first.start();
    first.publish('storage.object.finalize', 'b/o1', { size: 1 });
    first.publish('storage.object.finalize', 'b/o2', { size: 2 });
    await new Promise((resolve) => setImmediate(resolve));
    await first.drain();

    // A new process: same store, working handler.
    const second = new EventBus(store, new ManualClock());
    const delivered: NimbusEvent[] = [];
    second.subscribe('trigger', 'storage.object.finalize', (event) => {
      delivered.push(event);
    });
    second.start();
    await second.drain();
    assert.deepEqual(
      delivered.map((e) => e.subject),
      ['b/o1', 'b/o2'],
    );
    // Sequence numbers continue after the restart.
    const next = second.publish('storage.object.finalize', 'b/o3', {});
    assert.ok(next.id > (delivered[1]?.id ?? ''));
  });

  it('retries a failed delivery on the next publish (at-least-once)', async () => {
    const bus = new EventBus(new MemoryDocumentStore(), new ManualClock());
    let failures = 1;
    const got: string[] = [];
    bus.setErrorReporter(() => undefined);
    bus.subscribe('flaky', 'x', (event) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error('once');
      }
      got.push(event.subject);
    });
    bus.start();
    bus.publish('x', 'a', {});
    await new Promise((resolve) => setImmediate(resolve));
    await bus.drain();
    assert.deepEqual(got, []);
    bus.publish('x', 'b', {});
    await new Promise((resolve) => setImmediate(resolve));
    await bus.drain();
    assert.deepEqual(got, ['a', 'b']);
  });

  it('skips events while a durable subscriber is not interested, and delivers only later ones', async () => {
    const store = new MemoryDocumentStore();
    const bus = new EventBus(store, new ManualClock());
    let interested = false;
    let handled = 0;
    const seen: string[] = [];
    bus.subscribe(
      'notify',
      'storage.object.*',
      (event) => {
        handled += 1;
        seen.push(event.subject);
      },
      { interested: () => interested },
    );
    bus.start();
    const tick = async (): Promise<void> => {
      await new Promise((resolve) => setImmediate(resolve));
      await bus.drain();
    };
    for (let i = 0; i < 300; i++) {
      bus.publish('storage.object.finalize', `b/skipped-${String(i)}`, {});
      await tick();
    }
    assert.equal(handled, 0, 'nothing delivered while not interested');
    interested = true;
    bus.publish('storage.object.finalize', 'b/wanted', {});
    await tick();
    assert.deepEqual(seen, ['b/wanted']);

    // After a restart the stored cursor is past everything delivered or skipped.
    const again = new EventBus(store, new ManualClock());
    const replayed: string[] = [];
    again.subscribe('notify', 'storage.object.*', (event) => {
      replayed.push(event.subject);
    });
    again.start();
    await new Promise((resolve) => setImmediate(resolve));
    await again.drain();
    assert.deepEqual(replayed, []);
  });
});
