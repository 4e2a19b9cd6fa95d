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
];

interface DocRow {
  doc: string;
}

/**
 * SQLite document store: WAL journal, synchronous=FULL, one transaction per mutation, so an
 * acknowledged write survives `kill -9` (and power loss).
 */
export class SqliteDocumentStore implements DocumentStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
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
    const row = this.stmts.get.get(collection, key);
    return row === undefined ? undefined : (JSON.parse(row.doc) as T);
  }

  put(collection: string, key: string, doc: unknown): void {
    this.stmts.put.run(collection, key, JSON.stringify(doc));
  }

  insert(collection: string, key: string, doc: unknown): boolean {
    return this.stmts.insert.run(collection, key, JSON.stringify(doc)).changes === 1;
  }

  delete(collection: string, key: string): boolean {
    return this.stmts.delete.run(collection, key).changes === 1;
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

  transaction<R>(fn: () => R): R {
    if (this.db.inTransaction) {
      return fn();
    }
    return this.db.transaction(fn)();
  }

  clear(): void {
    this.db.exec('DELETE FROM documents');
  }

  close(): void {
    if (this.db.open) {
      this.db.close();
    }
  }
}
