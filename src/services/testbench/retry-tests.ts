import { randomUUID } from 'node:crypto';
import { InvalidArgument, NotFound } from '../../core/errors.ts';
import { isRetryMethod, type RetryMethod } from './classify.ts';

/**
 * The storage testbench's Retry Test resources: per test, a queue of fault instructions per method.
 * A request naming the test (header `x-retry-test-id`) consumes the head of its method's queue when
 * that instruction applies to it; the test is `completed` once every queue is empty. Kept in
 * memory: retry tests are scaffolding for one test run, not state worth surviving a restart.
 */

/** One parsed fault instruction (the grammar of the testbench README). */
export type Fault =
  /** `return-503`: answer with that status and a Google JSON error, before the method runs. */
  | { kind: 'status'; status: number }
  /** `return-reset-connection`: reset the TCP connection (RST) before answering. */
  | { kind: 'reset' }
  /** `return-broken-stream[-after-NK]`: close the connection after that many response bytes. */
  | { kind: 'broken-stream'; afterBytes: number; downloadsOnly: boolean }
  /** `return-503-after-256K`: on resumable uploads, keep the first N KiB, then answer with the status. */
  | { kind: 'status-after-upload'; status: number; afterBytes: number }
  /** `return-broken-stream-final-chunk-after-NB`: truncate the final chunk's response to N bytes. */
  | { kind: 'short-final-response'; bytes: number }
  /** `stall-for-Ts-after-NK`: pause T seconds once N KiB have been downloaded or uploaded. */
  | { kind: 'stall'; seconds: number; afterBytes: number };

/** Bytes `return-broken-stream` lets through before closing (the testbench's "a few bytes"). */
export const BROKEN_STREAM_BYTES = 4;
const KiB = 1024;

export function parseFault(text: string): Fault | undefined {
  let match = /^return-(\d{3})$/.exec(text);
  if (match !== null) {
    return { kind: 'status', status: Number(match[1]) };
  }
  if (text === 'return-reset-connection') {
    return { kind: 'reset' };
  }
  if (text === 'return-broken-stream') {
    return { kind: 'broken-stream', afterBytes: BROKEN_STREAM_BYTES, downloadsOnly: false };
  }
  match = /^return-broken-stream-after-(\d+)K$/.exec(text);
  if (match !== null) {
    return { kind: 'broken-stream', afterBytes: Number(match[1]) * KiB, downloadsOnly: true };
  }
  match = /^return-broken-stream-final-chunk-after-(\d+)B$/.exec(text);
  if (match !== null) {
    return { kind: 'short-final-response', bytes: Number(match[1]) };
  }
  match = /^return-(\d{3})-after-(\d+)K$/.exec(text);
  if (match !== null) {
    return { kind: 'status-after-upload', status: Number(match[1]), afterBytes: Number(match[2]) * KiB };
  }
  match = /^stall-for-(\d+)s-after-(\d+)K$/.exec(text);
  if (match !== null) {
    return { kind: 'stall', seconds: Number(match[1]), afterBytes: Number(match[2]) * KiB };
  }
  return undefined;
}

function checkStatus(fault: Fault, text: string): void {
  if (
    (fault.kind === 'status' || fault.kind === 'status-after-upload') &&
    (fault.status < 400 || fault.status > 599)
  ) {
    throw new InvalidArgument(
      `Invalid fault injection instruction '${text}': the status must be an HTTP error from 400 to 599.`,
      { reason: 'invalid' },
    );
  }
  if (fault.kind === 'stall' && fault.seconds > 600) {
    throw new InvalidArgument(`Invalid fault injection instruction '${text}': stalls are at most 600s.`, {
      reason: 'invalid',
    });
  }
}

/** storage testbench wire shape of a retry test. */
export interface RetryTestView {
  id: string;
  instructions: Record<string, string[]>;
  completed: boolean;
  transport: 'HTTP';
}

interface RetryTest {
  id: string;
  queues: Map<RetryMethod, { text: string; fault: Fault }[]>;
  completed: boolean;
}

export class RetryTests {
  private readonly tests = new Map<string, RetryTest>();

  /** Validates and stores a new retry test (400 on an unknown method, instruction or transport). */
  create(instructions: unknown, transport: unknown): RetryTestView {
    if (transport !== undefined && (typeof transport !== 'string' || transport.toUpperCase() !== 'HTTP')) {
      const shown = typeof transport === 'string' ? transport : JSON.stringify(transport);
      throw new InvalidArgument(
        `The requested transport '${shown}' is not supported: Nimbus serves Cloud Storage over HTTP only.`,
        { reason: 'invalid' },
      );
    }
    if (typeof instructions !== 'object' || instructions === null || Array.isArray(instructions)) {
      throw new InvalidArgument('instructions is not defined: send {"instructions": {"METHOD": [...]}}.', {
        reason: 'required',
      });
    }
    const entries = Object.entries(instructions as Record<string, unknown>);
    if (entries.length === 0) {
      throw new InvalidArgument('instructions is empty.', { reason: 'required' });
    }
    const queues = new Map<RetryMethod, { text: string; fault: Fault }[]>();
    for (const [method, list] of entries) {
      if (!isRetryMethod(method)) {
        throw new InvalidArgument(`The requested method <${method}> for fault injection is not supported.`, {
          reason: 'invalid',
        });
      }
      if (!Array.isArray(list) || list.some((item) => typeof item !== 'string')) {
        throw new InvalidArgument(`The instructions for ${method} must be a list of strings.`, {
          reason: 'invalid',
        });
      }
      const parsed = (list as string[]).map((text) => {
        const fault = parseFault(text);
        if (fault === undefined) {
          throw new InvalidArgument(`The fault injection request <${text}> is not valid.`, {
            reason: 'invalid',
          });
        }
        checkStatus(fault, text);
        return { text, fault };
      });
      queues.set(method, parsed);
    }
    const test: RetryTest = {
      id: randomUUID().replaceAll('-', ''),
      queues,
      completed: [...queues.values()].every((queue) => queue.length === 0),
    };
    this.tests.set(test.id, test);
    return this.view(test);
  }

  get(id: string): RetryTestView {
    return this.view(this.require(id));
  }

  list(): RetryTestView[] {
    return [...this.tests.values()].map((test) => this.view(test));
  }

  delete(id: string): void {
    this.require(id);
    this.tests.delete(id);
  }

  /** The instruction at the head of `method`'s queue, if any (404 for an unknown test id). */
  peek(id: string, method: RetryMethod): Fault | undefined {
    return this.require(id).queues.get(method)?.[0]?.fault;
  }

  /** Consumes the head of `method`'s queue (the fault was applied). */
  consume(id: string, method: RetryMethod): void {
    const test = this.tests.get(id);
    const queue = test?.queues.get(method);
    if (test === undefined || queue === undefined || queue.length === 0) {
      return;
    }
    queue.shift();
    test.completed = [...test.queues.values()].every((left) => left.length === 0);
  }

  clear(): void {
    this.tests.clear();
  }

  private require(id: string): RetryTest {
    const test = this.tests.get(id);
    if (test === undefined) {
      throw new NotFound(`Retry Test ${id} not found.`, { reason: 'notFound' });
    }
    return test;
  }

  private view(test: RetryTest): RetryTestView {
    return {
      id: test.id,
      instructions: Object.fromEntries(
        [...test.queues.entries()].map(([method, queue]) => [method, queue.map((item) => item.text)]),
      ),
      completed: test.completed,
      transport: 'HTTP',
    };
  }
}
