import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DocumentStore } from '../core/store.ts';
import { tempDir } from '../../test/helpers.ts';
import { MemoryDocumentStore } from './memory-store.ts';
import { SqliteDocumentStore } from './sqlite-store.ts';

/** One contract suite, run against every DocumentStore implementation. */
const implementations: [string, () => { store: DocumentStore; cleanup: () => void }][] = [
  ['memory', () => ({ store: new MemoryDocumentStore(), cleanup: () => undefined })],
  [
    'sqlite',
    () => {
      const dir = tempDir();
      const store = new SqliteDocumentStore(join(dir, 'test.db'));
      return {
        store,
        cleanup: () => {
          store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

for (const [name, make] of implementations) {
  describe(`DocumentStore contract: ${name}`, () => {
    it('puts, gets and deletes documents', () => {
      const { store, cleanup } = make();
      store.put('c', 'k1', { a: 1 });
      assert.deepEqual(store.get('c', 'k1'), { a: 1 });
      assert.equal(store.get('c', 'missing'), undefined);
      assert.equal(store.get('other', 'k1'), undefined);
      assert.equal(store.delete('c', 'k1'), true);
      assert.equal(store.delete('c', 'k1'), false);
      cleanup();
    });

    it('insert refuses an existing key', () => {
      const { store, cleanup } = make();
      assert.equal(store.insert('c', 'k', { v: 1 }), true);
      assert.equal(store.insert('c', 'k', { v: 2 }), false);
      assert.deepEqual(store.get('c', 'k'), { v: 1 });
      cleanup();
    });

    it('lists by key order with prefix, after and limit', () => {
      const { store, cleanup } = make();
      for (const key of ['p/b', 'p/a', 'q/a', 'p/c', 'p']) {
        store.put('c', key, { key });
      }
      const keys = (opts: Parameters<DocumentStore['list']>[1]) =>
        store.list<{ key: string }>('c', opts).map((d) => d.key);
      assert.deepEqual(keys({ prefix: 'p/' }), ['p/a', 'p/b', 'p/c']);
      assert.deepEqual(keys({ prefix: 'p/', after: 'p/a' }), ['p/b', 'p/c']);
      assert.deepEqual(keys({ prefix: 'p/', limit: 2 }), ['p/a', 'p/b']);
      assert.deepEqual(keys({}), ['p', 'p/a', 'p/b', 'p/c', 'q/a']);
      assert.equal(store.count('c', 'p/'), 3);
      cleanup();
    });

    it('rolls back a failed transaction', () => {
      const { store, cleanup } = make();
      store.put('c', 'k', { v: 1 });
      assert.throws(() =>
        store.transaction(() => {
          store.put('c', 'k', { v: 2 });
          store.put('c', 'k2', { v: 2 });
          throw new Error('boom');
        }),
      );
      assert.deepEqual(store.get('c', 'k'), { v: 1 });
      assert.equal(store.get('c', 'k2'), undefined);
      cleanup();
    });

    it('keeps raw bytes apart from documents, in and out of transactions', async () => {
      const { store, cleanup } = make();
      const data = Buffer.from([0, 1, 2, 255, 0x80]);
      store.putBytes('c', 'k', data);
      assert.deepEqual(store.getBytes('c', 'k'), data);
      assert.equal(store.get('c', 'k'), undefined, 'bytes are not a document');
      assert.throws(() =>
        store.transaction(() => {
          store.putBytes('c', 'k', Buffer.from('replaced'));
          store.putBytes('c', 'k2', Buffer.from('new'));
          throw new Error('boom');
        }),
      );
      assert.deepEqual(store.getBytes('c', 'k'), data);
      assert.equal(store.getBytes('c', 'k2'), undefined);
      // A deferred transaction is visible at once and durable after sync().
      store.deferredTransaction(() => {
        store.putBytes('c', 'k3', Buffer.alloc(4096, 7));
      });
      await store.sync();
      assert.equal(store.getBytes('c', 'k3')?.length, 4096);
      assert.equal(store.deleteBytes('c', 'k'), true);
      assert.equal(store.deleteBytes('c', 'k'), false);
      store.clear();
      assert.equal(store.getBytes('c', 'k3'), undefined);
      cleanup();
    });

    it('clear removes everything', () => {
      const { store, cleanup } = make();
      store.put('a', 'x', 1);
      store.put('b', 'y', 2);
      store.clear();
      assert.equal(store.count('a'), 0);
      assert.equal(store.count('b'), 0);
      cleanup();
    });
  });
}
