import { prefixEnd, type DocumentStore, type ListOptions } from '../core/store.ts';

/** Byte values live in their own collections, under this prefix. */
const BYTES = '\u0000bytes/';

/** In-memory document store for unit tests; same contract as the SQLite store. */
export class MemoryDocumentStore implements DocumentStore {
  private collections = new Map<string, Map<string, string>>();
  private snapshot: Map<string, Map<string, string>> | undefined;

  private collection(name: string): Map<string, string> {
    let found = this.collections.get(name);
    if (found === undefined) {
      found = new Map();
      this.collections.set(name, found);
    }
    return found;
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- typed view of a stored document
  get<T>(collection: string, key: string): T | undefined {
    const doc = this.collection(collection).get(key);
    return doc === undefined ? undefined : (JSON.parse(doc) as T);
  }

  put(collection: string, key: string, doc: unknown): void {
    this.collection(collection).set(key, JSON.stringify(doc));
  }

  insert(collection: string, key: string, doc: unknown): boolean {
    const docs = this.collection(collection);
    if (docs.has(key)) {
      return false;
    }
    docs.set(key, JSON.stringify(doc));
    return true;
  }

  delete(collection: string, key: string): boolean {
    return this.collection(collection).delete(key);
  }

  list<T>(collection: string, options: ListOptions = {}): T[] {
    const prefix = options.prefix ?? '';
    const end = prefixEnd(prefix);
    const keys = [...this.collection(collection).keys()]
      .filter((key) => key >= prefix && key < end && (options.after === undefined || key > options.after))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const limited = options.limit === undefined || options.limit < 0 ? keys : keys.slice(0, options.limit);
    return limited.map((key) => this.get<T>(collection, key) as T);
  }

  count(collection: string, prefix = ''): number {
    return this.list(collection, { prefix }).length;
  }

  transaction<R>(fn: () => R): R {
    if (this.snapshot !== undefined) {
      return fn();
    }
    this.snapshot = new Map([...this.collections].map(([name, docs]) => [name, new Map(docs)]));
    try {
      const result = fn();
      this.snapshot = undefined;
      return result;
    } catch (error) {
      this.collections = this.snapshot ?? this.collections;
      this.snapshot = undefined;
      throw error;
    }
  }

  deferredTransaction<R>(fn: () => R): R {
    return this.transaction(fn);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  savepoint<R>(fn: () => R): R {
    if (this.snapshot === undefined) {
      return this.transaction(fn);
    }
    const before = new Map([...this.collections].map(([name, docs]) => [name, new Map(docs)]));
    try {
      return fn();
    } catch (error) {
      this.collections = before;
      throw error;
    }
  }

  putBytes(collection: string, key: string, data: Buffer): void {
    this.put(`${BYTES}${collection}`, key, data.toString('base64'));
  }

  getBytes(collection: string, key: string): Buffer | undefined {
    const text = this.get<string>(`${BYTES}${collection}`, key);
    return text === undefined ? undefined : Buffer.from(text, 'base64');
  }

  deleteBytes(collection: string, key: string): boolean {
    return this.delete(`${BYTES}${collection}`, key);
  }

  clear(): void {
    this.collections.clear();
  }

  close(): void {
    // nothing to release
  }
}
