import { rfc3339, type Clock } from './clock.ts';
import { ApiError, grpcCode, NotFound, type CanonicalStatus } from './errors.ts';
import { numericId, hexId } from './ids.ts';
import { paginate, type Page, type PageRequest } from './paging.ts';
import type { DocumentStore } from './store.ts';

/**
 * Long-running operations for both Google families:
 * - Compute style: `projects/P/zones/Z/operations/NAME` (also regions/R and global), status
 *   PENDING/RUNNING/DONE, polled with get or `wait`.
 * - google.longrunning: `projects/P/locations/L/operations/ID`, `done` + `response` | `error`.
 * One record shape holds both; presenters in the services render the wire form.
 */
export type OperationFamily = 'compute' | 'longrunning';
export type OperationStatus = 'PENDING' | 'RUNNING' | 'DONE';

export interface OperationError {
  code: CanonicalStatus;
  httpStatus: number;
  message: string;
  reason: string;
}

export interface OperationRecord {
  /** Full resource name (the store key). */
  name: string;
  /** Last path segment. */
  shortName: string;
  id: string;
  family: OperationFamily;
  project: string;
  /** Compute: `zones/Z`, `regions/R` or `global`; longrunning: `locations/L`. */
  scope: string;
  operationType: string;
  targetLink: string;
  targetId?: string;
  user: string;
  status: OperationStatus;
  progress: number;
  insertTime: string;
  startTime?: string;
  endTime?: string;
  error?: OperationError;
  /** longrunning: the `response` (a resource) when done; compute ignores it. */
  response?: unknown;
  /** longrunning: the `metadata` message (with `@type`). */
  metadata?: unknown;
  cancelRequested?: boolean;
}

export interface StartOperation {
  family: OperationFamily;
  project: string;
  scope: string;
  operationType: string;
  targetLink: string;
  targetId?: string;
  user: string;
  metadata?: unknown;
}

const COLLECTION = 'operations';

type Waiter = () => void;

export class Operations {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly store: DocumentStore,
    private readonly clock: Clock,
  ) {}

  /** Operations left RUNNING by a previous process can never finish: fail them with ABORTED. */
  recoverInterrupted(): number {
    let recovered = 0;
    this.store.transaction(() => {
      for (const op of this.store.list<OperationRecord>(COLLECTION)) {
        if (op.status !== 'DONE') {
          this.store.put(COLLECTION, op.name, {
            ...op,
            status: 'DONE',
            endTime: rfc3339(this.clock.now()),
            error: {
              code: 'ABORTED',
              httpStatus: 409,
              message: 'The operation was interrupted by a restart of Nimbus.',
              reason: 'aborted',
            },
          } satisfies OperationRecord);
          recovered += 1;
        }
      }
    });
    return recovered;
  }

  /**
   * Creates a record, runs `work` in the background and completes the record with its outcome.
   * With `pending`, the record starts PENDING (queued behind other work) until `work` calls
   * `markRunning` (Compute: PENDING -> RUNNING -> DONE); otherwise it starts RUNNING.
   */
  start(
    spec: StartOperation,
    work: (op: OperationRecord) => unknown,
    options: { pending?: boolean } = {},
  ): OperationRecord {
    const op = this.newRecord(spec, options.pending === true ? 'PENDING' : 'RUNNING');
    if (options.pending === true) {
      delete op.startTime;
    }
    this.store.put(COLLECTION, op.name, op);
    const run = (async () => {
      try {
        const response = await work(op);
        this.finish(op.name, { response });
      } catch (error) {
        this.finish(op.name, { error: toOperationError(error) });
      }
    })();
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return op;
  }

  /** A PENDING operation's work has begun: RUNNING, with its `startTime`. */
  markRunning(name: string): void {
    this.store.transaction(() => {
      const op = this.store.get<OperationRecord>(COLLECTION, name);
      if (op?.status === 'PENDING') {
        this.store.put(COLLECTION, name, {
          ...op,
          status: 'RUNNING',
          startTime: rfc3339(this.clock.now()),
        } satisfies OperationRecord);
      }
    });
  }

  /** Records an operation that is already complete (synchronous mutations still return one). */
  completed(spec: StartOperation, response?: unknown): OperationRecord {
    const op = this.newRecord(spec, 'DONE');
    op.progress = 100;
    op.endTime = op.startTime;
    op.response = response;
    this.store.put(COLLECTION, op.name, op);
    return op;
  }

  private newRecord(spec: StartOperation, status: OperationStatus): OperationRecord {
    const now = rfc3339(this.clock.now());
    const shortName =
      spec.family === 'compute'
        ? `operation-${String(this.clock.now())}-${hexId(6)}`
        : `operation-${hexId(8)}`;
    return {
      ...spec,
      name: `projects/${spec.project}/${spec.scope}/operations/${shortName}`,
      shortName,
      id: numericId(19),
      status,
      progress: 0,
      insertTime: now,
      startTime: now,
    };
  }

  get(name: string): OperationRecord {
    const op = this.store.get<OperationRecord>(COLLECTION, name);
    if (op === undefined) {
      throw new NotFound(`The resource '${name}' was not found`);
    }
    return op;
  }

  list(prefix: string, page: PageRequest, keep?: (op: OperationRecord) => boolean): Page<OperationRecord> {
    return paginate<OperationRecord>(
      page,
      (op) => op.name,
      (after, limit) => this.store.list<OperationRecord>(COLLECTION, { prefix, after, limit }),
      keep,
      500,
    );
  }

  delete(name: string): void {
    if (!this.store.delete(COLLECTION, name)) {
      throw new NotFound(`The resource '${name}' was not found`);
    }
  }

  cancel(name: string): void {
    const op = this.get(name);
    if (op.status !== 'DONE') {
      this.store.put(COLLECTION, name, { ...op, cancelRequested: true });
    }
  }

  /** Resolves with the operation once DONE, or as it is when `timeoutMs` passes. */
  async wait(name: string, timeoutMs: number): Promise<OperationRecord> {
    const op = this.get(name);
    if (op.status === 'DONE') {
      return op;
    }
    await new Promise<void>((resolve) => {
      const waiters = this.waiters.get(name) ?? new Set<Waiter>();
      this.waiters.set(name, waiters);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      waiters.add(done);
    });
    return this.get(name);
  }

  /** Resolves when every running operation has finished (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private finish(name: string, outcome: { response?: unknown; error?: OperationError }): void {
    const op = this.store.get<OperationRecord>(COLLECTION, name);
    if (op === undefined) {
      return;
    }
    const done: OperationRecord = {
      ...op,
      status: 'DONE',
      progress: 100,
      endTime: rfc3339(this.clock.now()),
    };
    if (outcome.error !== undefined) {
      done.error = outcome.error;
    } else if (outcome.response !== undefined) {
      done.response = outcome.response;
    }
    this.store.put(COLLECTION, name, done);
    for (const waiter of [...(this.waiters.get(name) ?? [])]) {
      waiter();
    }
    this.waiters.delete(name);
  }
}

export function toOperationError(error: unknown): OperationError {
  if (error instanceof ApiError) {
    return { code: error.status, httpStatus: error.httpStatus, message: error.message, reason: error.reason };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL', httpStatus: 500, message, reason: 'internalError' };
}

/** google.longrunning wire form. */
export function presentLongRunning(op: OperationRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { name: op.name, done: op.status === 'DONE' };
  if (op.metadata !== undefined) {
    out.metadata = op.metadata;
  }
  if (op.error !== undefined) {
    out.error = { code: grpcCode(op.error.code), message: op.error.message };
  } else if (op.status === 'DONE' && op.response !== undefined) {
    out.response = op.response;
  }
  return out;
}
