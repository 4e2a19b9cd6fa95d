import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryDocumentStore } from '../platform/memory-store.ts';
import { ManualClock } from './clock.ts';
import { NotFound } from './errors.ts';
import { Operations, presentLongRunning } from './operations.ts';

const spec = {
  family: 'longrunning' as const,
  project: 'p1',
  scope: 'locations/us-central1',
  operationType: 'create',
  targetLink: 'projects/p1/locations/us-central1/functions/f',
  user: 'owner@nimbus.local',
};

describe('Operations', () => {
  it('runs work in the background and records the response', async () => {
    const ops = new Operations(new MemoryDocumentStore(), new ManualClock());
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const op = ops.start(spec, async () => {
      await gate;
      return { name: 'f' };
    });
    assert.equal(ops.get(op.name).status, 'RUNNING');
    assert.equal(presentLongRunning(ops.get(op.name)).done, false);
    release();
    const done = await ops.wait(op.name, 5000);
    assert.equal(done.status, 'DONE');
    assert.deepEqual(presentLongRunning(done), { name: op.name, done: true, response: { name: 'f' } });
  });

  it('records a failure as a google.rpc.Status', async () => {
    const ops = new Operations(new MemoryDocumentStore(), new ManualClock());
    const op = ops.start(spec, () => {
      throw new NotFound('no such thing');
    });
    const done = await ops.wait(op.name, 5000);
    assert.deepEqual(presentLongRunning(done).error, { code: 5, message: 'no such thing' });
  });

  it('wait returns the running operation when the timeout passes', async () => {
    const ops = new Operations(new MemoryDocumentStore(), new ManualClock());
    const op = ops.start(spec, () => new Promise(() => undefined));
    const still = await ops.wait(op.name, 20);
    assert.equal(still.status, 'RUNNING');
  });

  it('fails operations interrupted by a restart', () => {
    const store = new MemoryDocumentStore();
    const ops = new Operations(store, new ManualClock());
    const op = ops.start(spec, () => new Promise(() => undefined));
    const restarted = new Operations(store, new ManualClock());
    assert.equal(restarted.recoverInterrupted(), 1);
    const after = restarted.get(op.name);
    assert.equal(after.status, 'DONE');
    assert.equal(after.error?.code, 'ABORTED');
  });

  it('lists by prefix and deletes', () => {
    const ops = new Operations(new MemoryDocumentStore(), new ManualClock());
    const a = ops.completed(spec);
    ops.completed({ ...spec, scope: 'locations/europe-west1' });
    const page = ops.list('projects/p1/locations/us-central1/operations/', {});
    assert.deepEqual(
      page.items.map((o) => o.name),
      [a.name],
    );
    ops.delete(a.name);
    assert.throws(() => ops.get(a.name), { httpStatus: 404 });
  });
});
