/**
 * The metadata store contract. Every service keeps its control-plane state as JSON documents in
 * named collections, keyed by a string (usually the resource name). Listing is by key order, with an
 * optional prefix, so children of a resource are a key range. One `transaction` per API mutation.
 *
 * Implementations: SQLite (platform/sqlite-store.ts, the embedded default) and memory (tests). A
 * PostgreSQL implementation slots in behind the same interface when Nimbus spans machines.
 */
export interface ListOptions {
  /** Only keys that start with this prefix. */
  prefix?: string | undefined;
  /** Only keys strictly greater than this one. */
  after?: string | undefined;
  limit?: number | undefined;
}

export interface DocumentStore {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- typed view of a stored document
  get<T>(collection: string, key: string): T | undefined;
  put(collection: string, key: string, doc: unknown): void;
  /** Inserts only when the key is new; returns false when it existed. */
  insert(collection: string, key: string, doc: unknown): boolean;
  delete(collection: string, key: string): boolean;
  list<T>(collection: string, options?: ListOptions): T[];
  count(collection: string, prefix?: string): number;
  /** Runs `fn` atomically; nested calls join the outer transaction. */
  transaction<R>(fn: () => R): R;
  /**
   * Inside a transaction, runs `fn` so that if it throws only its own writes are undone (a
   * savepoint) and the outer transaction goes on. Outside one, the same as `transaction`.
   */
  savepoint<R>(fn: () => R): R;
  /**
   * Like `transaction`, but returns before the commit is forced to disk: await `sync()` before
   * acknowledging anything it wrote. Group commit uses it so one fsync (off the main thread)
   * overlaps the next batch's work instead of blocking the event loop.
   */
  deferredTransaction<R>(fn: () => R): R;
  /** Resolves once every transaction committed before the call is durable. */
  sync(): Promise<void>;
  /** Raw bytes under a key (small object contents): stored as they are, not as JSON. */
  putBytes(collection: string, key: string, data: Buffer): void;
  getBytes(collection: string, key: string): Buffer | undefined;
  deleteBytes(collection: string, key: string): boolean;
  /** Removes every document (nimbus reset). */
  clear(): void;
  close(): void;
}

/** Upper bound for a prefix range scan. */
export function prefixEnd(prefix: string): string {
  return prefix + '\u{10ffff}';
}
