import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/helpers.ts';
import { GroupCommit } from './group-commit.ts';
import { MemoryDocumentStore } from './memory-store.ts';
import { SqliteDocumentStore } from './sqlite-store.ts';

for (const [name, make] of [
  ['memory', () => ({ store: new MemoryDocumentStore(), done: () => undefined })],
  [
    'sqlite',
    () => {
      const dir = tempDir();
      const store = new SqliteDocumentStore(join(dir, 'g.db'));
      return {
        store,
        done: () => {
          store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
] as const) {
  describe(`GroupCommit over ${name}`, () => {
    it('commits concurrent mutations together and isolates a failing one', async () => {
      const { store, done } = make();
      const group = new GroupCommit(store);
      const results = await Promise.allSettled([
        group.run(() => {
          store.put('c', 'a', 1);
          return 'a';
        }),
        group.run(() => {
          store.put('c', 'b', 2);
          throw new Error('b fails');
        }),
        group.run(() => {
          store.put('c', 'c', 3);
          return 'c';
        }),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.equal(store.get('c', 'a'), 1);
      assert.equal(store.get('c', 'b'), undefined);
      assert.equal(store.get('c', 'c'), 3);
      done();
    });
  });
}
