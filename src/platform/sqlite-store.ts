import { closeSync, fsync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { prefixEnd, type DocumentStore, type ListOptions } from '../core/store.ts';

interface Migration {
  id: string;
  sql: string;
}

/** Schema migrations, applied in order once each; append only. */
const MIGRATIONS: Migration[] = [
  {
    id: '0001-documents',
    sql: `CREATE TABLE documents (
            collection TEXT NOT NULL,
            key TEXT NOT NULL,
            doc TEXT NOT NULL,
            PRIMARY KEY (collection, key)
          ) WITHOUT ROWID;`,
  },
  {
    // Raw bytes (small object contents) in a rowid table: large rows do not belong in a
    // WITHOUT ROWID b-tree, and base64 inside JSON cost a third more bytes and CPU on every write.
    id: '0002-bytes',
    sql: `CREATE TABLE bytes (
            collection TEXT NOT NULL,
            key TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (collection, key)
          );`,
  },
];

interface DocRow {
  doc: string;
}

/** The read cache holds document JSON text (parsed again on every get) up to this many characters. */
const CACHE_CHARS = 4 * 1024 * 1024;
const CACHE_MAX_DOC_CHARS = 16 * 1024;

/**
 * SQLite document store: WAL journal, synchronous=FULL, one transaction per mutation, so an
 * acknowledged write survives `kill -9` (and power loss).
 *
 * Reads go through a small cache of document text (a query costs ~5 us, a Map hit ~1 us, and
 * authorizing one call reads several policies). This connection is the only writer of the data
 * dir (`nimbus start` refuses a data dir another server uses), so the cache is updated on every
 * write and dropped when a transaction rolls back.
 */
export class SqliteDocumentStore implements DocumentStore {
  private readonly db: Database.Database;
  private readonly stmts;
  /** `collection\0key` -> document JSON, or null when known to be absent. */
  private readonly cache = new Map<string, string | null>();
  private cacheChars = 0;

  /** The fsync of the WAL in progress, and the one queued behind it (see sync()). */
  private syncing: Promise<void> | undefined;
  private queuedSync: Promise<void> | undefined;
  private walFd: number | undefined;

  constructor(private readonly file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('wal_autocheckpoint = 20000');
    this.migrate();
    this.stmts = {
      get: this.db.prepare<[string, string], DocRow>(
        'SELECT doc FROM documents WHERE collection = ? AND key = ?',
      ),
      put: this.db.prepare('INSERT OR REPLACE INTO documents (collection, key, doc) VALUES (?, ?, ?)'),
      insert: this.db.prepare('INSERT OR IGNORE INTO documents (collection, key, doc) VALUES (?, ?, ?)'),
      delete: this.db.prepare('DELETE FROM documents WHERE collection = ? AND key = ?'),
      list: this.db.prepare<[string, string, string, number], DocRow>(
        'SELECT doc FROM documents WHERE collection = ? AND key > ? AND key < ? ORDER BY key LIMIT ?',
      ),
      listFrom: this.db.prepare<[string, string, string, number], DocRow>(
        'SELECT doc FROM documents WHERE collection = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?',
      ),
      count: this.db.prepare<[string, string, string], { n: number }>(
        'SELECT count(*) AS n FROM documents WHERE collection = ? AND key >= ? AND key < ?',
      ),
      putBytes: this.db.prepare('INSERT OR REPLACE INTO bytes (collection, key, data) VALUES (?, ?, ?)'),
      getBytes: this.db.prepare<[string, string], { data: Buffer }>(
        'SELECT data FROM bytes WHERE collection = ? AND key = ?',
      ),
      deleteBytes: this.db.prepare('DELETE FROM bytes WHERE collection = ? AND key = ?'),
    };
  }

  private migrate(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)',
    );
    const applied = new Set(
      this.db
        .prepare<[], { id: string }>('SELECT id FROM schema_migrations')
        .all()
        .map((row) => row.id),
    );
    const apply = this.db.transaction((migration: Migration) => {
      this.db.exec(migration.sql);
      this.db
        .prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)')
        .run(migration.id, new Date().toISOString());
    });
    for (const migration of MIGRATIONS) {
      if (!applied.has(migration.id)) {
        apply(migration);
      }
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- typed view of a stored document
  get<T>(collection: string, key: string): T | undefined {
    const id = `${collection}\u0000${key}`;
    let text = this.cache.get(id);
    if (text === undefined) {
      text = this.stmts.get.get(collection, key)?.doc ?? null;
      this.remember(id, text);
    }
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  put(collection: string, key: string, doc: unknown): void {
    const text = JSON.stringify(doc);
    this.stmts.put.run(collection, key, text);
    this.remember(`${collection}\u0000${key}`, text);
  }

  insert(collection: string, key: string, doc: unknown): boolean {
    const text = JSON.stringify(doc);
    const inserted = this.stmts.insert.run(collection, key, text).changes === 1;
    if (inserted) {
      this.remember(`${collection}\u0000${key}`, text);
    }
    return inserted;
  }

  delete(collection: string, key: string): boolean {
    const deleted = this.stmts.delete.run(collection, key).changes === 1;
    this.remember(`${collection}\u0000${key}`, null);
    return deleted;
  }

  private remember(id: string, text: string | null): void {
    this.forget(id);
    if (text !== null && text.length > CACHE_MAX_DOC_CHARS) {
      return;
    }
    const size = id.length + (text?.length ?? 0);
    // Oldest first: Map keeps insertion order and every write re-inserts its key.
    for (const oldest of this.cache.keys()) {
      if (this.cacheChars + size <= CACHE_CHARS) {
        break;
      }
      this.forget(oldest);
    }
    this.cache.set(id, text);
    this.cacheChars += size;
  }

  private forget(id: string): void {
    const text = this.cache.get(id);
    if (text !== undefined) {
      this.cache.delete(id);
      this.cacheChars -= id.length + (text?.length ?? 0);
    }
  }

  private dropCache(): void {
    this.cache.clear();
    this.cacheChars = 0;
  }

  list<T>(collection: string, options: ListOptions = {}): T[] {
    const prefix = options.prefix ?? '';
    const end = prefixEnd(prefix);
    const limit = options.limit ?? -1;
    const rows =
      options.after !== undefined && options.after >= prefix
        ? this.stmts.list.all(collection, options.after, end, limit)
        : this.stmts.listFrom.all(collection, prefix, end, limit);
    return rows.map((row) => JSON.parse(row.doc) as T);
  }

  count(collection: string, prefix = ''): number {
    return this.stmts.count.get(collection, prefix, prefixEnd(prefix))?.n ?? 0;
  }

  putBytes(collection: string, key: string, data: Buffer): void {
    this.stmts.putBytes.run(collection, key, data);
  }

  getBytes(collection: string, key: string): Buffer | undefined {
    return this.stmts.getBytes.get(collection, key)?.data;
  }

  deleteBytes(collection: string, key: string): boolean {
    return this.stmts.deleteBytes.run(collection, key).changes === 1;
  }

  transaction<R>(fn: () => R): R {
    if (this.db.inTransaction) {
      return fn();
    }
    try {
      return this.db.transaction(fn)();
    } catch (error) {
      // Rolled back: the cache may hold writes that never committed.
      this.dropCache();
      throw error;
    }
  }

  deferredTransaction<R>(fn: () => R): R {
    if (this.db.inTransaction) {
      return fn();
    }
    // WAL + synchronous=NORMAL commits without syncing the WAL; sync() fsyncs it afterwards,
    // which leaves the same bytes on disk as synchronous=FULL would have.
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.transaction(fn);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  sync(): Promise<void> {
    if (this.queuedSync !== undefined) {
      return this.queuedSync;
    }
    if (this.syncing === undefined) {
      this.syncing = this.fsyncWal().finally(() => {
        this.syncing = undefined;
      });
      return this.syncing;
    }
    // An fsync is running, but it may have started before the caller's commit: queue one more,
    // shared by everyone who asks until it starts.
    const queued = this.syncing.then(() => {
      this.queuedSync = undefined;
      return this.sync();
    });
    this.queuedSync = queued;
    return queued;
  }

  /** fsync of the WAL through a descriptor kept open (SQLite keeps the file while we are open). */
  private async fsyncWal(): Promise<void> {
    if (this.file === ':memory:') {
      return;
    }
    if (this.walFd === undefined) {
      try {
        this.walFd = openSync(`${this.file}-wal`, 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          return; // no WAL: every commit is already checkpointed into the synced database file
        }
        throw error;
      }
    }
    const fd = this.walFd;
    await new Promise<void>((resolve, reject) => {
      fsync(fd, (error) => {
        if (error === null) {
          resolve();
        } else {
          reject(error);
        }
      });
    });
  }

  savepoint<R>(fn: () => R): R {
    if (!this.db.inTransaction) {
      return this.transaction(fn);
    }
    try {
      // better-sqlite3 runs a nested transaction function as a SAVEPOINT.
      return this.db.transaction(fn)();
    } catch (error) {
      this.dropCache();
      throw error;
    }
  }

  clear(): void {
    this.db.exec('DELETE FROM documents; DELETE FROM bytes;');
    this.dropCache();
  }

  close(): void {
    this.dropCache();
    if (this.walFd !== undefined) {
      closeSync(this.walFd);
      this.walFd = undefined;
    }
    if (this.db.open) {
      this.db.close();
    }
  }
}
