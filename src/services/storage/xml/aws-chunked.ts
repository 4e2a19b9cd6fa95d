import { createHash, createHmac, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { S3Error } from './errors.ts';

/**
 * Decoder for `Content-Encoding: aws-chunked` bodies (S3 streaming uploads):
 *   signed:    `HEX;chunk-signature=SIG\r\nDATA\r\n` ... `0;chunk-signature=SIG\r\n` [trailers] `\r\n`
 *   unsigned:  `HEX\r\nDATA\r\n` ... `0\r\n` trailers `\r\n`
 * Trailers are `name:value\r\n` lines (`x-amz-checksum-crc32:BASE64`, and in signed-trailer mode
 * `x-amz-trailer-signature:SIG`). Chunk and trailer signatures chain from the seed signature of the
 * request; checksums are computed over the decoded bytes and compared with the trailer.
 */
export interface ChunkSigning {
  /** Derived SigV4 signing key. */
  signingKey: Buffer;
  /** `AWS4-HMAC-SHA256` (or `GOOG4-HMAC-SHA256`). */
  algorithm: string;
  amzDate: string;
  scope: string;
  seedSignature: string;
}

export interface ChunkedOptions {
  /** Present for STREAMING-*-HMAC-SHA256-PAYLOAD[-TRAILER]; absent for STREAMING-UNSIGNED-PAYLOAD-TRAILER. */
  signing?: ChunkSigning;
  /** Whether a trailer section is expected (the *-TRAILER variants). */
  trailer: boolean;
  /** `x-amz-decoded-content-length`, checked at the end when given. */
  decodedLength?: number;
  /** Checksum trailer announced by `x-amz-trailer` (e.g. `x-amz-checksum-crc32`). */
  announcedTrailer?: string;
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');
const MAX_LINE = 8192;

export type Checksum = { update(data: Buffer): void; digest(): string };

function crcChecksum(fn: (data: Buffer, initial?: number) => number): Checksum {
  let value = 0;
  return {
    update(data) {
      value = fn(data, value);
    },
    digest() {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(value >>> 0);
      return out.toString('base64');
    },
  };
}

function hashChecksum(algorithm: string): Checksum {
  const hash = createHash(algorithm);
  return {
    update(data) {
      hash.update(data);
    },
    digest() {
      return hash.digest('base64');
    },
  };
}

/** CRC-64/NVME lookup table (reflected polynomial 0x9a6c9329ac4bc9b5) as 32-bit halves. */
const CRC64_HI = new Uint32Array(256);
const CRC64_LO = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let hi = 0;
  let lo = n;
  for (let bit = 0; bit < 8; bit++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry !== 0) {
      hi = (hi ^ 0x9a6c9329) >>> 0;
      lo = (lo ^ 0xac4bc9b5) >>> 0;
    }
  }
  CRC64_HI[n] = hi;
  CRC64_LO[n] = lo;
}

/** CRC-64/NVME (the `x-amz-checksum-crc64nvme` algorithm), big-endian base64 like S3 prints it. */
export function crc64nvme(): Checksum {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  return {
    update(data) {
      let h = hi;
      let l = lo;
      const length = data.length;
      for (let i = 0; i < length; i++) {
        const index = (l ^ (data[i] ?? 0)) & 0xff;
        l = ((l >>> 8) | ((h & 0xff) << 24)) ^ (CRC64_LO[index] ?? 0);
        h = (h >>> 8) ^ (CRC64_HI[index] ?? 0);
      }
      hi = h >>> 0;
      lo = l >>> 0;
    },
    digest() {
      const out = Buffer.alloc(8);
      out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
      out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
      return out.toString('base64');
    },
  };
}

/** Checksum trailers Nimbus verifies. */
export function checksumFor(name: string): Checksum | undefined {
  switch (name) {
    case 'x-amz-checksum-crc32':
    case 'x-goog-checksum-crc32':
      return crcChecksum((data, initial) => zlibCrc32(data, initial));
    case 'x-amz-checksum-crc32c':
      return crcChecksum((data, initial) => crc32c(data, initial));
    case 'x-amz-checksum-crc64nvme':
      return crc64nvme();
    case 'x-amz-checksum-sha1':
      return hashChecksum('sha1');
    case 'x-amz-checksum-sha256':
      return hashChecksum('sha256');
    default:
      return undefined;
  }
}

function hmacHex(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

function signatureMismatch(message: string): S3Error {
  return new S3Error(
    403,
    'SignatureDoesNotMatch',
    `The request signature we calculated does not match the signature you provided. ${message}`,
  );
}

function incomplete(message: string): S3Error {
  return new S3Error(400, 'IncompleteBody', message);
}

type State = 'header' | 'data' | 'dataEnd' | 'trailer' | 'done';

/** A Transform that turns an aws-chunked body into the object's bytes, verifying as it goes. */
export class AwsChunkedDecoder extends Transform {
  private state: State = 'header';
  private line: Buffer[] = [];
  private lineLength = 0;
  private remaining = 0;
  private chunkSignature = '';
  private chunkHash: Hash | undefined;
  private previousSignature: string;
  private decoded = 0;
  private readonly trailers = new Map<string, string>();
  private readonly trailerLines: string[] = [];
  private checksum: { name: string; state: Checksum } | undefined;
  private finalWithoutTrailer = false;

  constructor(private readonly options: ChunkedOptions) {
    super();
    this.previousSignature = options.signing?.seedSignature ?? '';
    const announced = options.announcedTrailer?.toLowerCase();
    if (announced !== undefined) {
      const state = checksumFor(announced);
      if (state !== undefined) {
        this.checksum = { name: announced, state };
      }
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      // Some clients end the body without the final empty line.
      if (this.state === 'trailer' && this.lineLength === 0) {
        this.finishTrailers();
      } else if (this.state === 'dataEnd' && this.finalWithoutTrailer && this.lineLength === 0) {
        this.finishBody();
      }
      if (this.state !== 'done') {
        throw incomplete('The request body terminated unexpectedly');
      }
      callback();
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private consume(input: Buffer): void {
    let offset = 0;
    while (offset < input.length) {
      switch (this.state) {
        case 'header':
        case 'trailer': {
          const newline = input.indexOf(0x0a, offset);
          const end = newline < 0 ? input.length : newline + 1;
          this.appendLine(input.subarray(offset, end));
          offset = end;
          if (newline >= 0) {
            const text = this.takeLine();
            if (this.state === 'header') {
              this.onChunkHeader(text);
            } else {
              this.onTrailerLine(text);
            }
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, input.length - offset);
          const piece = input.subarray(offset, offset + take);
          this.chunkHash?.update(piece);
          this.checksum?.state.update(piece);
          this.decoded += take;
          this.remaining -= take;
          offset += take;
          this.push(piece);
          if (this.remaining === 0) {
            this.state = 'dataEnd';
          }
          break;
        }
        case 'dataEnd': {
          const newline = input.indexOf(0x0a, offset);
          const end = newline < 0 ? input.length : newline + 1;
          this.appendLine(input.subarray(offset, end));
          offset = end;
          if (newline >= 0) {
            if (this.takeLine() !== '') {
              throw incomplete('Chunk data is not followed by CRLF.');
            }
            if (this.finalWithoutTrailer) {
              this.finishBody();
            } else {
              this.verifyChunk();
              this.state = 'header';
            }
          }
          break;
        }
        case 'done':
          if (input.subarray(offset).some((byte) => byte !== 0x0d && byte !== 0x0a)) {
            throw incomplete('Unexpected data after the final chunk.');
          }
          offset = input.length;
          break;
      }
    }
  }

  private appendLine(piece: Buffer): void {
    this.lineLength += piece.length;
    if (this.lineLength > MAX_LINE) {
      throw incomplete('A chunk header or trailer line is too long.');
    }
    this.line.push(piece);
  }

  /** The buffered line without its CRLF. */
  private takeLine(): string {
    const text = Buffer.concat(this.line).toString('latin1');
    this.line = [];
    this.lineLength = 0;
    return text.replace(/\r?\n$/, '');
  }

  private onChunkHeader(text: string): void {
    const [sizeText = '', ...extensions] = text.split(';');
    if (!/^[0-9a-fA-F]{1,12}$/.test(sizeText.trim())) {
      throw incomplete(`Invalid chunk header: '${text.slice(0, 64)}'.`);
    }
    const size = Number.parseInt(sizeText.trim(), 16);
    this.chunkSignature = '';
    for (const extension of extensions) {
      const eq = extension.indexOf('=');
      if (eq > 0 && extension.slice(0, eq).trim() === 'chunk-signature') {
        this.chunkSignature = extension.slice(eq + 1).trim();
      }
    }
    if (this.options.signing !== undefined && this.chunkSignature === '') {
      throw signatureMismatch('A chunk has no chunk-signature.');
    }
    this.chunkHash = this.options.signing === undefined ? undefined : createHash('sha256');
    if (size > 0) {
      this.remaining = size;
      this.state = 'data';
      return;
    }
    // The final, empty chunk.
    this.verifyChunk();
    // Without trailers the final chunk is followed by one empty line.
    this.state = this.options.trailer ? 'trailer' : 'dataEnd';
    this.finalWithoutTrailer = !this.options.trailer;
  }

  private verifyChunk(): void {
    const signing = this.options.signing;
    if (signing === undefined || this.chunkHash === undefined) {
      return;
    }
    const dataHash = this.chunkHash.digest('hex');
    this.chunkHash = undefined;
    const stringToSign = [
      `${signing.algorithm}-PAYLOAD`,
      signing.amzDate,
      signing.scope,
      this.previousSignature,
      EMPTY_SHA256,
      dataHash,
    ].join('\n');
    const expected = hmacHex(signing.signingKey, stringToSign);
    if (expected !== this.chunkSignature.toLowerCase()) {
      throw signatureMismatch('A chunk signature does not match.');
    }
    this.previousSignature = expected;
  }

  private onTrailerLine(text: string): void {
    if (text === '') {
      this.finishTrailers();
      return;
    }
    const colon = text.indexOf(':');
    if (colon <= 0) {
      throw incomplete(`Invalid trailer line: '${text.slice(0, 64)}'.`);
    }
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    this.trailers.set(name, value);
    if (name !== 'x-amz-trailer-signature') {
      this.trailerLines.push(`${name}:${value}\n`);
    }
  }

  private finishTrailers(): void {
    const signing = this.options.signing;
    if (signing !== undefined) {
      const provided = this.trailers.get('x-amz-trailer-signature');
      if (provided === undefined) {
        throw signatureMismatch('The trailer has no x-amz-trailer-signature.');
      }
      const trailerHash = createHash('sha256').update(this.trailerLines.join(''), 'utf8').digest('hex');
      const stringToSign = [
        `${signing.algorithm}-TRAILER`,
        signing.amzDate,
        signing.scope,
        this.previousSignature,
        trailerHash,
      ].join('\n');
      if (hmacHex(signing.signingKey, stringToSign) !== provided.toLowerCase()) {
        throw signatureMismatch('The trailer signature does not match.');
      }
    }
    if (this.checksum === undefined) {
      for (const name of this.trailers.keys()) {
        const state = checksumFor(name);
        if (state !== undefined) {
          // Announced by the trailer only: nothing was computed as data streamed.
          throw new S3Error(
            400,
            'InvalidRequest',
            `The trailer ${name} was not announced in the x-amz-trailer header.`,
          );
        }
      }
    } else {
      const provided = this.trailers.get(this.checksum.name);
      if (provided === undefined) {
        throw new S3Error(
          400,
          'InvalidRequest',
          `The trailer announced in x-amz-trailer (${this.checksum.name}) is missing.`,
        );
      }
      const computed = this.checksum.state.digest();
      if (computed !== provided) {
        const algorithm = this.checksum.name.replace(/^x-(amz|goog)-checksum-/, '').toUpperCase();
        throw new S3Error(
          400,
          'BadDigest',
          `The ${algorithm} you specified did not match the calculated checksum.`,
        );
      }
    }
    this.finishBody();
  }

  private finishBody(): void {
    const expected = this.options.decodedLength;
    if (expected !== undefined && expected !== this.decoded) {
      throw incomplete(
        `You did not provide the number of bytes specified by the x-amz-decoded-content-length header (${String(expected)}; received ${String(this.decoded)}).`,
      );
    }
    this.state = 'done';
  }

  /** Trailer values received (after the body ended), e.g. for the face to store a checksum. */
  trailerValues(): ReadonlyMap<string, string> {
    return this.trailers;
  }
}
