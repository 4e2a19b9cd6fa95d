import { crc32c } from '@node-rs/crc32';
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  type WriteStream,
} from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgument, PayloadTooLarge } from '../core/errors.ts';
import { OffloadedMd5 } from './md5-worker.ts';

/** Running md5 + crc32c of a byte stream, as Cloud Storage reports them (base64). */
export class ObjectHasher {
  private readonly md5 = createHash('md5');
  private crc = 0;
  size = 0;

  update(chunk: Buffer): void {
    this.md5.update(chunk);
    this.crc = crc32c(chunk, this.crc);
    this.size += chunk.length;
  }

  digest(): { md5Hash: string; crc32c: string; size: number } {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(this.crc >>> 0);
    return { md5Hash: this.md5.digest('base64'), crc32c: crc.toString('base64'), size: this.size };
  }
}

export function hashBuffer(data: Buffer): { md5Hash: string; crc32c: string; size: number } {
  const hasher = new ObjectHasher();
  hasher.update(data);
  return hasher.digest();
}

/** What an ingest produced: small content inline, large content in a durable file. */
export interface IngestedBlob {
  md5Hash: string;
  crc32c: string;
  size: number;
  /** Content kept in memory (small objects are stored inline in the metadata store). */
  inline?: Buffer;
  /** Id of a file in the blob store. */
  fileId?: string;
}

const FILE_ID = /^[0-9a-f]{32}$/;

/**
 * Bytes a blob file's write stream may buffer before ingest waits: large enough that hashing the next
 * chunks overlaps the write of the previous ones (and buffered chunks go down in one writev).
 */
const WRITE_WINDOW = 4 * 1024 * 1024;

/**
 * Object bytes on disk. A file is written to `tmp/`, fsync'd, renamed into `xx/ID` and its directory
 * fsync'd, so a blob id that metadata refers to always names a complete file. Ids are random hex:
 * user-supplied names never become paths.
 */
export class BlobStore {
  private readonly tmp: string;

  constructor(private readonly root: string) {
    this.tmp = join(root, 'tmp');
    mkdirSync(this.tmp, { recursive: true });
    // Half-written temp files from a crash are garbage.
    for (const entry of readdirSync(this.tmp)) {
      rmSync(join(this.tmp, entry), { force: true });
    }
  }

  path(fileId: string): string {
    if (!FILE_ID.test(fileId)) {
      throw new Error(`invalid blob id ${fileId}`);
    }
    return join(this.root, fileId.slice(0, 2), fileId);
  }

  /**
   * Reads `source` to its end. Content up to `inlineLimit` bytes stays in memory; beyond that it is
   * spilled to a durable file. Refuses more than `maxSize` bytes, or a length other than
   * `expectedSize` when given (a lying Content-Length).
   */
  async ingest(
    input: AsyncIterable<Buffer | string> | Readable,
    options: { inlineLimit: number; maxSize?: number; expectedSize?: number },
  ): Promise<IngestedBlob> {
    const source = input as AsyncIterable<Buffer | string>;
    // crc32c and size on this thread; md5 here for inline content, on the worker once it spills.
    let crc = 0;
    let size = 0;
    let md5: OffloadedMd5 | undefined;
    const chunks: Buffer[] = [];
    let file: { id: string; temp: string; stream: WriteStream } | undefined;
    try {
      for await (const raw of source) {
        const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
        crc = crc32c(chunk, crc);
        size += chunk.length;
        if (options.maxSize !== undefined && size > options.maxSize) {
          throw new PayloadTooLarge(`The object is larger than the ${options.maxSize} byte limit.`);
        }
        if (file === undefined) {
          chunks.push(chunk);
          if (size > options.inlineLimit) {
            const id = randomBytes(16).toString('hex');
            const temp = join(this.tmp, id);
            file = { id, temp, stream: createWriteStream(temp, { highWaterMark: WRITE_WINDOW }) };
            md5 = new OffloadedMd5();
            for (const pending of chunks.splice(0)) {
              await md5.update(pending);
              await writeChunk(file.stream, pending);
            }
          }
        } else {
          await md5?.update(chunk);
          await writeChunk(file.stream, chunk);
        }
      }
      if (options.expectedSize !== undefined && size !== options.expectedSize) {
        throw new InvalidArgument(
          `The body has ${size} bytes but the request announced ${options.expectedSize}.`,
          { reason: 'badContent' },
        );
      }
      const crcBytes = Buffer.alloc(4);
      crcBytes.writeUInt32BE(crc >>> 0);
      const crc32cHash = crcBytes.toString('base64');
      if (file === undefined || md5 === undefined) {
        const inline = Buffer.concat(chunks);
        return {
          md5Hash: createHash('md5').update(inline).digest('base64'),
          crc32c: crc32cHash,
          size,
          inline,
        };
      }
      const [md5Hash] = await Promise.all([md5.digest(), closeStream(file.stream)]);
      md5 = undefined;
      await this.commit(file.id, file.temp);
      const id = file.id;
      file = undefined;
      return { md5Hash, crc32c: crc32cHash, size, fileId: id };
    } finally {
      md5?.drop();
      if (file !== undefined) {
        file.stream.destroy();
        await unlink(file.temp).catch(() => undefined);
      }
    }
  }

  /** fsync the temp file, rename it into place, fsync the directory. */
  private async commit(id: string, temp: string): Promise<void> {
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const dir = join(this.root, id.slice(0, 2));
    mkdirSync(dir, { recursive: true });
    await rename(temp, this.path(id));
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  /** Bytes `start..end` inclusive (end defaults to the last byte). */
  read(fileId: string, start?: number, end?: number): Readable {
    return createReadStream(this.path(fileId), { start, end });
  }

  /** Every committed blob file with its modification time (for the orphan sweep). */
  listFiles(): { fileId: string; mtimeMs: number }[] {
    const out: { fileId: string; mtimeMs: number }[] = [];
    for (const dir of readdirSync(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(dir)) {
        continue;
      }
      for (const entry of readdirSync(join(this.root, dir))) {
        if (FILE_ID.test(entry)) {
          out.push({ fileId: entry, mtimeMs: statSync(join(this.root, dir, entry)).mtimeMs });
        }
      }
    }
    return out;
  }

  async remove(fileId: string): Promise<void> {
    await unlink(this.path(fileId)).catch(() => undefined);
  }
}

/** Writes with backpressure: waits only when the stream's buffer is full, so writes pipeline. */
async function writeChunk(stream: WriteStream, chunk: Buffer): Promise<void> {
  if (!stream.write(chunk)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        stream.off('error', onError);
        resolve();
      };
      const onError = (error: Error): void => {
        stream.off('drain', onDrain);
        reject(error);
      };
      stream.once('drain', onDrain);
      stream.once('error', onError);
    });
  }
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.end((error?: Error | null) => {
      if (error) {
        reject(error);
      } else {
        resolve();
      }
    });
  });
}

/** Appends to and adopts upload files (resumable uploads), kept across restarts. */
export class UploadFiles {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  path(uploadId: string): string {
    if (!/^[0-9a-zA-Z_-]{16,64}$/.test(uploadId)) {
      throw new Error(`invalid upload id ${uploadId}`);
    }
    return join(this.dir, uploadId);
  }

  /** Appends a stream durably (fsync) and returns how many bytes were appended. */
  async append(
    uploadId: string,
    source: AsyncIterable<Buffer | string>,
    skip: number,
    limit?: number,
  ): Promise<number> {
    const handle = await open(this.path(uploadId), 'a');
    let written = 0;
    let toSkip = skip;
    try {
      for await (const raw of source) {
        let chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
        if (toSkip > 0) {
          const drop = Math.min(toSkip, chunk.length);
          chunk = chunk.subarray(drop);
          toSkip -= drop;
        }
        if (limit !== undefined && written + chunk.length > limit) {
          throw new InvalidArgument('The chunk is larger than its Content-Range says.', {
            reason: 'badContent',
          });
        }
        if (chunk.length > 0) {
          await handle.write(chunk);
          written += chunk.length;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    return written;
  }

  async truncate(uploadId: string, size: number): Promise<void> {
    const handle = await open(this.path(uploadId), 'a');
    try {
      await handle.truncate(size);
    } finally {
      await handle.close();
    }
  }

  async create(uploadId: string): Promise<void> {
    const handle = await open(this.path(uploadId), 'w');
    await handle.close();
  }

  read(uploadId: string): Readable {
    return createReadStream(this.path(uploadId));
  }

  async remove(uploadId: string): Promise<void> {
    await unlink(this.path(uploadId)).catch(() => undefined);
  }
}
