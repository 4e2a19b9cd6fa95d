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
});
