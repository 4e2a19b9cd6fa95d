import type { DocumentStore } from '../core/store.ts';

interface Pending {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: mutations that arrive in the same turn of the event loop run in one transaction,
 * each in its own savepoint so a failing one undoes only its own writes. The transaction commits
 * without a synchronous fsync; one fsync of the log off the event loop then makes every batch
 * committed meanwhile durable. Every caller's promise settles after that fsync, so an acknowledged
 * write is as durable as with a transaction of its own. This is what lets many small objects beat the
 * one-fsync'd-file-per-object limit of the disk.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(private readonly store: DocumentStore) {}

  run<R>(fn: () => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.store.deferredTransaction(() => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: this.store.savepoint(item.fn) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) {
        item.reject(error);
      }
      return;
    }
    // Settle only once the commit is on disk; the fsync runs off the event loop, shared with every
    // batch committed while it waits.
    const settle = (syncError?: unknown): void => {
      batch.forEach((item, i) => {
        const outcome = outcomes[i];
        if (syncError !== undefined) {
          item.reject(syncError);
        } else if (outcome?.ok === true) {
          item.resolve(outcome.value);
        } else {
          item.reject(outcome?.error);
        }
      });
    };
    this.store.sync().then(
      () => {
        settle();
      },
      (error: unknown) => {
        settle(error ?? new Error('sync failed'));
      },
    );
  }
}
