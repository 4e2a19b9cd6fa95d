import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { appendVary } from './cors.ts';
import type { ObjectRecord } from './object-store.ts';

/** True when `Accept-Encoding` lists gzip (or x-gzip) with a non-zero quality. */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text.split(',').some((part) => {
    const [coding = '', ...params] = part.split(';').map((item) => item.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip') {
      return false;
    }
    const q = params.find((param) => param.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** The stored bytes start with the gzip magic number. */
async function looksGzipped(
  record: ObjectRecord,
  open: (start?: number, end?: number) => Readable,
): Promise<boolean> {
  if (record.size < 2) {
    return false;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of open(0, 1)) {
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  const head = Buffer.concat(chunks);
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** Stored gzip-encoded and not marked `Cache-Control: no-transform`: Google may decompress it. */
export function transcodable(record: ObjectRecord): boolean {
  return (
    record.contentEncoding?.trim().toLowerCase() === 'gzip' &&
    !/(^|,)\s*no-transform\s*(,|$)/i.test(record.cacheControl ?? '')
  );
}

/**
 * Decompressive transcoding (cloud.google.com/storage/docs/transcoding): a transcodable object
 * requested without `Accept-Encoding: gzip` is served decompressed, whole (any Range is ignored,
 * 200), without Content-Encoding or Content-Length; `x-goog-stored-content-encoding: gzip` and
 * `x-goog-stored-content-length` still describe the stored bytes. Returns false (nothing sent) when
 * the object is to be served as stored.
 */
export async function sendTranscoded(
  request: FastifyRequest,
  reply: FastifyReply,
  record: ObjectRecord,
  open: (start?: number, end?: number) => Readable,
): Promise<boolean> {
  if (!transcodable(record)) {
    return false;
  }
  // The same URL answers differently depending on Accept-Encoding.
  appendVary(reply, 'Accept-Encoding');
  if (acceptsGzip(request.headers['accept-encoding']) || !(await looksGzipped(record, open))) {
    // Bytes that are not gzip at all are served as stored rather than failing mid-response.
    return false;
  }
  reply.removeHeader('content-encoding');
  reply.removeHeader('content-length');
  reply.removeHeader('content-range');
  reply.removeHeader('accept-ranges');
  reply.header('warning', '214 UploadServer gzipped');
  reply.code(200);
  // A stored body that is not valid gzip ends the response early (headers are already sent).
  const gunzip = pipeline(open(), createGunzip(), () => undefined);
  void reply.send(gunzip);
  return true;
}
