import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type CanonicalStatus } from '../../core/errors.ts';
import { classifyStorageRequest, type StorageCall } from './classify.ts';
import type { Fault, RetryTests } from './retry-tests.ts';

/** The header naming the retry test whose instructions apply to a request. */
export const RETRY_TEST_HEADER = 'x-retry-test-id';

const STATUS_NAMES: Record<number, CanonicalStatus> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  408: 'DEADLINE_EXCEEDED',
  409: 'ABORTED',
  412: 'FAILED_PRECONDITION',
  416: 'OUT_OF_RANGE',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The Google-shaped error an injected `return-NNN` answers with. */
export function injectedError(status: number, message = `Retry Test: Caused a ${status}`): ApiError {
  const name = STATUS_NAMES[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
  return new ApiError(status, name, message);
}

/** A fault that must act on the response body (decided in onRequest, applied in onSend). */
interface PendingFault {
  testId: string;
  call: StorageCall;
  fault: Fault;
}

const sleep = async (ms: number): Promise<void> => {
  await new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
};

/** Waits until what was written to the response reached the kernel, so a close cuts after it. */
async function flushed(reply: FastifyReply, socket: Socket): Promise<void> {
  for (let i = 0; i < 1000 && !socket.destroyed; i++) {
    if (reply.raw.writableLength === 0 && socket.writableLength === 0) {
      return;
    }
    await sleep(1);
  }
}

async function* chunksOf(payload: unknown): AsyncGenerator<Buffer> {
  if (typeof payload === 'string') {
    yield Buffer.from(payload);
  } else if (Buffer.isBuffer(payload)) {
    yield payload;
  } else if (payload instanceof Readable) {
    for await (const chunk of payload as AsyncIterable<Buffer | string>) {
      yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    }
  }
}

function hasBody(payload: unknown): boolean {
  return typeof payload === 'string' || Buffer.isBuffer(payload) || payload instanceof Readable;
}

/**
 * Re-streams `payload`: after `afterBytes` bytes, `onLimit` runs, then either the connection is
 * closed (broken stream) or the stream pauses `stallMs` and goes on (stall). A body shorter than
 * the limit goes through untouched and the instruction stays pending, as on the testbench.
 */
function faultyStream(
  payload: unknown,
  reply: FastifyReply,
  socket: Socket,
  afterBytes: number,
  onLimit: () => void,
  stallMs: number | undefined,
): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    let sent = 0;
    let fired = false;
    for await (const chunk of chunksOf(payload)) {
      if (fired) {
        yield chunk;
        continue;
      }
      const room = afterBytes - sent;
      if (chunk.length < room) {
        sent += chunk.length;
        yield chunk;
        continue;
      }
      if (room > 0) {
        yield chunk.subarray(0, room);
      }
      fired = true;
      onLimit();
      await flushed(reply, socket);
      if (stallMs === undefined) {
        socket.resetAndDestroy();
        throw new Error(`retry test: broken stream after ${afterBytes} bytes`);
      }
      await sleep(stallMs);
      if (room < chunk.length) {
        yield chunk.subarray(Math.max(room, 0));
      }
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

async function readBody(request: FastifyRequest): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of request.raw as AsyncIterable<Buffer>) {
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** `Content-Range: bytes FIRST-LAST/TOTAL` (any part may be `*`). */
function contentRange(header: string | undefined): { first?: number; total?: string } {
  const match = /^bytes\s+(\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec((header ?? '').trim());
  if (match === null) {
    return {};
  }
  return {
    ...(match[2] === undefined ? {} : { first: Number(match[2]) }),
    total: match[4] ?? '*',
  };
}

/** Headers to forward on an internal re-send of an upload chunk. */
function forwardHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (
      value === undefined ||
      name === RETRY_TEST_HEADER ||
      name === 'content-length' ||
      name === 'transfer-encoding' ||
      name === 'connection' ||
      name === 'content-range'
    ) {
      continue;
    }
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * Applies the retry tests' instructions to Cloud Storage requests that carry `x-retry-test-id`.
 * Hooks on the root instance, so every storage route (and those added later) is covered.
 */
export function installFaultHooks(app: FastifyInstance, tests: RetryTests): void {
  const pending = new WeakMap<FastifyRequest, PendingFault>();

  /** Re-sends an upload chunk internally (without the retry header) and returns the answer. */
  const resend = async (request: FastifyRequest, body: Buffer, range: string | undefined) => {
    const headers = forwardHeaders(request);
    if (range !== undefined) {
      headers['content-range'] = range;
    }
    return await app.inject({ method: 'PUT', url: request.url, headers, payload: body });
  };

  /**
   * `return-NNN-after-YK` on a resumable chunk: the bytes before the limit are kept (sent on as a
   * shorter chunk), then the status is returned; a chunk that ends before the limit goes through.
   */
  const uploadAfterBytes = async (
    request: FastifyRequest,
    reply: FastifyReply,
    testId: string,
    call: StorageCall,
    fault: Fault & { kind: 'status-after-upload' },
  ): Promise<FastifyReply | undefined> => {
    const range = contentRange(request.headers['content-range']);
    const hasData = range.first !== undefined || request.headers['content-range'] === undefined;
    if (!hasData) {
      return undefined;
    }
    const first = range.first ?? 0;
    const body = await readBody(request);
    const end = first + body.length;
    if (end < fault.afterBytes) {
      const answer = await resend(request, body, request.headers['content-range']);
      for (const [name, value] of Object.entries(answer.headers)) {
        if (
          value !== undefined &&
          !['content-length', 'connection', 'transfer-encoding', 'date'].includes(name)
        ) {
          void reply.header(name, value);
        }
      }
      return reply.code(answer.statusCode).send(answer.rawPayload);
    }
    if (first < fault.afterBytes) {
      const kept = body.subarray(0, fault.afterBytes - first);
      await resend(request, kept, `bytes ${first}-${fault.afterBytes - 1}/*`);
    }
    tests.consume(testId, call.method);
    throw injectedError(
      fault.status,
      `Fault injected during a resumable upload after ${fault.afterBytes} bytes`,
    );
  };

  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers[RETRY_TEST_HEADER];
    const testId = Array.isArray(header) ? header[0] : header;
    if (testId === undefined || testId === '') {
      return;
    }
    const call = classifyStorageRequest(request.method, request.url);
    if (call === undefined) {
      return;
    }
    const fault = tests.peek(testId, call.method);
    if (fault === undefined) {
      return;
    }
    switch (fault.kind) {
      case 'status':
        tests.consume(testId, call.method);
        throw injectedError(fault.status);
      case 'reset': {
        tests.consume(testId, call.method);
        reply.hijack();
        request.raw.socket.resetAndDestroy();
        return;
      }
      case 'broken-stream':
        if (!fault.downloadsOnly || (call.method === 'storage.objects.get' && call.media)) {
          pending.set(request, { testId, call, fault });
        }
        return;
      case 'status-after-upload':
        if (call.uploadChunk) {
          await uploadAfterBytes(request, reply, testId, call, fault);
        }
        return;
      case 'short-final-response':
        if (call.uploadChunk) {
          pending.set(request, { testId, call, fault });
        }
        return;
      case 'stall':
        if (call.method === 'storage.objects.get' && call.media) {
          pending.set(request, { testId, call, fault });
        } else if (call.uploadChunk) {
          const range = contentRange(request.headers['content-range']);
          const length = Number(request.headers['content-length'] ?? '0');
          if (range.first !== undefined && range.first + length >= fault.afterBytes) {
            tests.consume(testId, call.method);
            await sleep(fault.seconds * 1000);
          }
        }
        return;
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const entry = pending.get(request);
    if (entry === undefined) {
      return payload;
    }
    pending.delete(request);
    const { testId, call, fault } = entry;
    const ok = reply.statusCode >= 200 && reply.statusCode < 300;
    if (!ok || !hasBody(payload)) {
      return payload;
    }
    const consume = (): void => {
      tests.consume(testId, call.method);
    };
    switch (fault.kind) {
      case 'broken-stream':
        return faultyStream(payload, reply, request.raw.socket, fault.afterBytes, consume, undefined);
      case 'stall':
        return faultyStream(
          payload,
          reply,
          request.raw.socket,
          fault.afterBytes,
          consume,
          fault.seconds * 1000,
        );
      case 'short-final-response': {
        // Only the answer that completes the upload is cut short.
        consume();
        const parts: Buffer[] = [];
        for await (const chunk of chunksOf(payload)) {
          parts.push(chunk);
        }
        const whole = Buffer.concat(parts);
        void reply.removeHeader('content-length');
        return whole.subarray(0, fault.bytes);
      }
      default:
        return payload;
    }
  });
}
