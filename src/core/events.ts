import type { Clock } from './clock.ts';
import type { DocumentStore } from './store.ts';

/**
 * In-process events bus with a persisted outbox. `publish` writes the event into the store (inside
 * the caller's transaction when there is one) and then delivers it to subscribers. Durable
 * subscribers keep a cursor in the store, advanced only after their handler succeeds, so delivery is
 * at-least-once and survives a restart: `start()` replays what a subscriber has not acknowledged.
 */
export interface NimbusEvent<T = unknown> {
  /** Monotonic sequence number, as a zero-padded string so key order is publish order. */
  id: string;
  /** Dotted type, e.g. `storage.object.finalize`. */
  type: string;
  /** Full resource name the event is about. */
  subject: string;
  time: string;
  data: T;
}

export type EventHandler = (event: NimbusEvent) => Promise<void> | void;

interface Subscription {
  name: string;
  matches: (type: string) => boolean;
  handler: EventHandler;
  durable: boolean;
  running: boolean;
  pending: boolean;
  /** False while the subscriber has nothing to do with any event (see subscribe's `interested`). */
  interested?: () => boolean;
  /** Sequence of the last skipped event not yet recorded in the stored cursor. */
  skippedTo?: number;
  /** Sequence the stored cursor was last advanced to by skipping. */
  skipSaved?: number;
}

interface Cursor {
  name: string;
  lastId: string;
}

const OUTBOX = 'events/outbox';
const CURSORS = 'events/cursors';
const SEQUENCE_WIDTH = 16;
const SKIP_SAVE_EVERY = 256;

export class EventBus {
  private readonly subscriptions: Subscription[] = [];
  private sequence: number;
  private started = false;
  private idle: Promise<void> = Promise.resolve();
  private onError: (subscription: string, error: unknown) => void = () => undefined;

  constructor(
    private readonly store: DocumentStore,
    private readonly clock: Clock,
  ) {
    const last = store.list<NimbusEvent>(OUTBOX).at(-1);
    this.sequence = last === undefined ? 0 : Number(last.id);
  }

  setErrorReporter(report: (subscription: string, error: unknown) => void): void {
    this.onError = report;
  }

  /**
   * Subscribes to event types matching `pattern` (exact, or a prefix ending in `*`). A durable
   * subscription (the default) persists its cursor; a transient one only sees events published while
   * it is subscribed.
   */
  subscribe(
    name: string,
    pattern: string,
    handler: EventHandler,
    options: {
      durable?: boolean;
      /**
       * A durable subscriber whose handler would ignore every event right now (e.g. no bucket has a
       * notification config) says so here: its events are then skipped without being read back from
       * the outbox, and its cursor moves past them.
       */
      interested?: () => boolean;
    } = {},
  ): void {
    const matches = pattern.endsWith('*')
      ? (type: string) => type.startsWith(pattern.slice(0, -1))
      : (type: string) => type === pattern;
    const durable = options.durable ?? true;
    const subscription: Subscription = { name, matches, handler, durable, running: false, pending: false };
    if (options.interested !== undefined) {
      subscription.interested = options.interested;
    }
    if (durable && this.store.get<Cursor>(CURSORS, name) === undefined) {
      this.store.put(CURSORS, name, { name, lastId: this.formatId(this.sequence) });
    }
    this.subscriptions.push(subscription);
    if (this.started) {
      this.kick(subscription);
    }
  }

  publish<T>(type: string, subject: string, data: T): NimbusEvent<T> {
    this.sequence += 1;
    const event: NimbusEvent<T> = {
      id: this.formatId(this.sequence),
      type,
      subject,
      time: new Date(this.clock.now()).toISOString(),
      data,
    };
    this.store.put(OUTBOX, event.id, event);
    if (this.started) {
      queueMicrotask(() => {
        for (const subscription of this.subscriptions) {
          if (subscription.matches(type)) {
            if (subscription.durable) {
              this.kick(subscription);
            } else {
              this.deliverTransient(subscription, event);
            }
          }
        }
      });
    }
    return event;
  }

  /** Begins delivery, replaying whatever durable subscribers have not yet acknowledged. */
  start(): void {
    this.started = true;
    for (const subscription of this.subscriptions) {
      if (subscription.durable) {
        this.kick(subscription);
      }
    }
  }

  /** Resolves when every delivery in progress has finished (tests, shutdown). */
  async drain(): Promise<void> {
    for (;;) {
      const before = this.idle;
      await before;
      if (before === this.idle && !this.subscriptions.some((s) => s.running)) {
        return;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Events in the outbox, oldest first (for tests and the audit view). */
  history(limit = 1000): NimbusEvent[] {
    return this.store.list<NimbusEvent>(OUTBOX, { limit });
  }

  private formatId(sequence: number): string {
    return String(sequence).padStart(SEQUENCE_WIDTH, '0');
  }

  private deliverTransient(subscription: Subscription, event: NimbusEvent): void {
    void (async () => {
      try {
        await subscription.handler(event);
      } catch (error) {
        this.onError(subscription.name, error);
      }
    })();
  }

  private kick(subscription: Subscription): void {
    if (!subscription.running && subscription.interested?.() === false) {
      this.skip(subscription);
      return;
    }
    if (subscription.running) {
      subscription.pending = true;
      return;
    }
    subscription.running = true;
    const run = this.pump(subscription).finally(() => {
      subscription.running = false;
      if (subscription.pending) {
        subscription.pending = false;
        this.kick(subscription);
      }
    });
    this.idle = this.idle.then(() => run);
  }

  /**
   * Moves an uninterested subscriber's cursor past everything published so far. The stored cursor
   * is advanced every SKIP_SAVE_EVERY events (not each time): replaying a few skipped events after
   * a crash is harmless, since the subscriber ignores them.
   */
  private skip(subscription: Subscription): void {
    subscription.skippedTo = this.sequence;
    if (this.sequence - (subscription.skipSaved ?? 0) >= SKIP_SAVE_EVERY) {
      this.saveSkip(subscription);
    }
  }

  private saveSkip(subscription: Subscription): void {
    const to = subscription.skippedTo;
    if (to === undefined) {
      return;
    }
    subscription.skippedTo = undefined;
    subscription.skipSaved = to;
    const lastId = this.formatId(to);
    this.store.deferredTransaction(() => {
      const cursor = this.store.get<Cursor>(CURSORS, subscription.name);
      if (cursor === undefined || cursor.lastId < lastId) {
        this.store.put(CURSORS, subscription.name, { name: subscription.name, lastId });
      }
    });
  }

  private async pump(subscription: Subscription): Promise<void> {
    // Interested again: events skipped meanwhile are not delivered.
    this.saveSkip(subscription);
    for (;;) {
      const cursor = this.store.get<Cursor>(CURSORS, subscription.name);
      const after = cursor?.lastId ?? this.formatId(0);
      const batch = this.store.list<NimbusEvent>(OUTBOX, { after, limit: 100 });
      if (batch.length === 0) {
        return;
      }
      // The cursor is written once per batch (and before a failing event), not once per event, and
      // without waiting for its fsync: delivery is at-least-once, so a cursor lost in a crash only
      // means those events are delivered again. (A synchronous fsync per batch here blocked the
      // event loop for every uploaded object.)
      let delivered: string | undefined;
      const saveCursor = (): void => {
        if (delivered !== undefined) {
          const lastId = delivered;
          this.store.deferredTransaction(() => {
            this.store.put(CURSORS, subscription.name, { name: subscription.name, lastId });
          });
        }
      };
      for (const event of batch) {
        if (subscription.matches(event.type)) {
          try {
            await subscription.handler(event);
          } catch (error) {
            // At-least-once: leave the cursor before this event; a later publish or restart retries.
            saveCursor();
            this.onError(subscription.name, error);
            return;
          }
        }
        delivered = event.id;
      }
      saveCursor();
    }
  }
}
