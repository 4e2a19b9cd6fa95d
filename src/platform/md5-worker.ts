import { Worker } from 'node:worker_threads';

/**
 * md5 of large uploads on a worker thread. md5 is the most expensive thing Nimbus does per byte
 * (~700 MiB/s on one core here); on the main thread it serialises with receiving and writing, so a
 * large PUT ran at half the speed of a bare node:http server writing the same file. Offloaded, the
 * hash of one batch overlaps the receive and write of the next.
 *
 * Chunks are copied into 1 MiB batches whose ArrayBuffers are transferred (not cloned); at most
 * MAX_IN_FLIGHT bytes are queued per session before `update` asks the caller to wait, so memory stays
 * flat however large the object is.
 */

// The worker is plain CommonJS source (no bundling, no file to locate at run time).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let hash = sessions.get(m.id);
    if (hash === undefined) {
      hash = createHash('md5');
      sessions.set(m.id, hash);
    }
    hash.update(new Uint8Array(m.data, 0, m.length));
    parentPort.postMessage({ op: 'ack', id: m.id, bytes: m.length, data: m.data }, [m.data]);
  } else if (m.op === 'digest') {
    const hash = sessions.get(m.id) ?? createHash('md5');
    sessions.delete(m.id);
    parentPort.postMessage({ op: 'digest', id: m.id, md5: hash.digest('base64') });
  } else if (m.op === 'drop') {
    sessions.delete(m.id);
  }
});
`;

const BATCH = 1024 * 1024;
const MAX_IN_FLIGHT = 4 * 1024 * 1024;

// Batch buffers travel to the worker and back (transferred both ways), so they are reused.
const FREE_LIMIT = 8;
const free: ArrayBuffer[] = [];

function recycle(buffer: ArrayBuffer): void {
  if (free.length < FREE_LIMIT && buffer.byteLength === BATCH) {
    free.push(buffer);
  }
}

function batchBuffer(): Uint8Array {
  return new Uint8Array(free.pop() ?? new ArrayBuffer(BATCH));
}

type WorkerReply =
  { op: 'ack'; id: number; bytes: number; data: ArrayBuffer } | { op: 'digest'; id: number; md5: string };

interface SessionState {
  inFlight: number;
  onAck?: () => void;
  onDigest?: (md5: string) => void;
  onError: (error: Error) => void;
}

let shared: Md5Worker | undefined;

class Md5Worker {
  private readonly worker: Worker;
  private readonly sessions = new Map<number, SessionState>();
  private nextId = 1;
  private failed: Error | undefined;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // It holds no data of its own (batches are external buffers): a small heap keeps RSS flat.
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
    });
    this.worker.on('message', (reply: WorkerReply) => {
      const session = this.sessions.get(reply.id);
      if (session === undefined) {
        if (reply.op === 'ack') {
          recycle(reply.data);
        }
        return;
      }
      if (reply.op === 'ack') {
        recycle(reply.data);
        session.inFlight -= reply.bytes;
        session.onAck?.();
      } else {
        this.close(reply.id);
        session.onDigest?.(reply.md5);
      }
    });
    this.worker.on('error', (error) => {
      this.fail(error);
    });
    this.worker.on('exit', () => {
      this.fail(new Error('md5 worker exited'));
    });
    // Referenced only while a hash is pending (after the listeners: adding one refs the port).
    this.worker.unref();
  }

  private fail(error: Error): void {
    this.failed = error;
    if (shared === this) {
      shared = undefined;
    }
    for (const session of this.sessions.values()) {
      session.onError(error);
    }
    this.sessions.clear();
  }

  private close(id: number): void {
    if (this.sessions.delete(id) && this.sessions.size === 0) {
      this.worker.unref();
    }
  }

  open(state: SessionState): number {
    if (this.failed !== undefined) {
      throw this.failed;
    }
    const id = this.nextId++;
    if (this.sessions.size === 0) {
      this.worker.ref();
    }
    this.sessions.set(id, state);
    return id;
  }

  post(
    message:
      { op: 'update'; id: number; data: ArrayBuffer; length: number } | { op: 'digest' | 'drop'; id: number },
  ): void {
    if (this.failed !== undefined) {
      throw this.failed;
    }
    if (message.op === 'update') {
      this.worker.postMessage(message, [message.data]);
    } else {
      this.worker.postMessage(message);
      if (message.op === 'drop') {
        this.close(message.id);
      }
    }
  }
}

function worker(): Md5Worker {
  shared ??= new Md5Worker();
  return shared;
}

/** One running md5 on the worker thread. Call `update` with every chunk, then `digest` or `drop`. */
export class OffloadedMd5 {
  private readonly worker = worker();
  private readonly state: SessionState;
  private readonly id: number;
  private batch = batchBuffer();
  private filled = 0;
  private error: Error | undefined;

  constructor() {
    this.state = {
      inFlight: 0,
      onError: (error) => {
        this.error = error;
        this.state.onAck?.();
        this.state.onDigest?.('');
      },
    };
    this.id = this.worker.open(this.state);
  }

  /** Adds bytes; resolves at once unless too much is queued, then after the worker caught up. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, BATCH - this.filled);
      this.batch.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === BATCH) {
        this.flush();
      }
    }
    return this.state.inFlight > MAX_IN_FLIGHT ? this.caughtUp() : undefined;
  }

  private flush(): void {
    if (this.filled === 0) {
      return;
    }
    this.state.inFlight += this.filled;
    this.worker.post({
      op: 'update',
      id: this.id,
      data: this.batch.buffer as ArrayBuffer,
      length: this.filled,
    });
    this.batch = batchBuffer();
    this.filled = 0;
  }

  private caughtUp(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.state.onAck = () => {
        if (this.error !== undefined) {
          this.state.onAck = undefined;
          reject(this.error);
        } else if (this.state.inFlight <= MAX_IN_FLIGHT / 2) {
          this.state.onAck = undefined;
          resolve();
        }
      };
    });
  }

  /** The base64 md5 of everything passed to `update`. */
  digest(): Promise<string> {
    this.flush();
    return new Promise((resolve, reject) => {
      if (this.error !== undefined) {
        reject(this.error);
        return;
      }
      this.state.onDigest = (md5) => {
        if (this.error !== undefined) {
          reject(this.error);
        } else {
          resolve(md5);
        }
      };
      this.worker.post({ op: 'digest', id: this.id });
    });
  }

  /** Abandons the hash (upload failed). */
  drop(): void {
    try {
      this.worker.post({ op: 'drop', id: this.id });
    } catch {
      // the worker is gone: nothing to drop
    }
  }
}
