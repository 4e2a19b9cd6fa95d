import { AwsChunkedDecoder } from './aws-chunked.ts';
import { createHash, type Hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { crc32, crc32c } from '@node-rs/crc32';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../../core/auth.ts';
import type { Platform } from '../../../core/platform.ts';
import type { BlobStore } from '../../../platform/blobs.ts';
import type { ObjectRecord } from '../object-store.ts';
import type { ObjectMetadataInput, ObjectPreconditions, ObjectsService } from '../objects.ts';
import { bucketResource } from '../routes.ts';
import type { BucketsService } from '../service.ts';
import type { BucketRecord } from '../store.ts';
import { S3Error } from './errors.ts';
import type { MultipartUploads } from './multipart.ts';
import { renderXml, type XmlNode } from './xml.ts';
import { bucketContext, objectContext } from '../access-context.ts';

/** What every XML-face handler is given. */
export interface XmlFace {
  platform: Platform;
  buckets: BucketsService;
  objects: ObjectsService;
  objectBlobs: BlobStore;
  uploads: MultipartUploads;
}

/** One request to the XML face, after addressing and authentication. */
export interface S3Call {
  request: FastifyRequest;
  reply: FastifyReply;
  bucket: string;
  key: string;
  query: URLSearchParams;
  principal: Principal;
  /** The request body (decoded when the auth scheme frames it). */
  body: Readable;
  /** Length of `body` when known (Content-Length, or the decoded length of a framed body). */
  bodyLength: number | undefined;
  /** Whether `body` was unframed (aws-chunked decoded) by the auth scheme or the face. */
  bodyDecoded: boolean;
  /** Responses name user metadata `x-amz-meta-*` (S3 clients) or `x-goog-meta-*` (Google's). */
  metaPrefix: 'x-amz-meta-' | 'x-goog-meta-';
}

/** Fields the XML face keeps on an object generation (see ObjectsService.setXmlFields). */
export type XmlObjectRecord = ObjectRecord & { s3Tags?: Record<string, string>; s3Etag?: string };

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value.join(',') : value;
  return text === undefined || text === '' ? undefined : text;
}

export function sendXml(reply: FastifyReply, node: XmlNode, status = 200): FastifyReply {
  return reply.code(status).type('application/xml').send(renderXml(node));
}

export function hexOfBase64(value: string): string {
  return Buffer.from(value, 'base64').toString('hex');
}

/** The S3 ETag: hex md5 for simple objects, `"md5(part md5s)-N"` for multipart ones. */
export function s3Etag(record: ObjectRecord): string {
  const extended = record as XmlObjectRecord;
  if (extended.s3Etag !== undefined) {
    return extended.s3Etag;
  }
  if (record.componentCount !== undefined) {
    // Composite objects (compose through the JSON API) have no md5: derive a stable tag.
    return `"${hexOfBase64(record.crc32c)}${record.generation}-${record.componentCount}"`;
  }
  return `"${hexOfBase64(record.md5Hash)}"`;
}

export function tagsOf(record: ObjectRecord): Record<string, string> {
  return (record as XmlObjectRecord).s3Tags ?? {};
}

/** S3 timestamps in XML: ISO 8601 with milliseconds. */
export function isoTime(rfc: string): string {
  return new Date(rfc).toISOString();
}

export function httpDate(rfc: string): string {
  return new Date(rfc).toUTCString();
}

/** Loads a bucket and checks `permission` on it (a missing bucket is 404 for anyone, as on Google). */
export function loadBucket(face: XmlFace, call: S3Call, permission: string): BucketRecord {
  const bucket = face.buckets.getBucket(call.bucket);
  const onObject = call.key !== '' && /^storage\.(objects|multipartUploads)\./.test(permission);
  face.platform.access.authorize(
    call.principal,
    permission,
    bucketResource(bucket),
    onObject ? objectContext(bucket.name, call.key) : bucketContext(bucket.name),
  );
  return bucket;
}

const STORAGE_CLASSES: Record<string, string> = {
  STANDARD: 'STANDARD',
  NEARLINE: 'NEARLINE',
  COLDLINE: 'COLDLINE',
  ARCHIVE: 'ARCHIVE',
  MULTI_REGIONAL: 'STANDARD',
  REGIONAL: 'STANDARD',
  REDUCED_REDUNDANCY: 'STANDARD',
  INTELLIGENT_TIERING: 'STANDARD',
  STANDARD_IA: 'NEARLINE',
  ONEZONE_IA: 'NEARLINE',
  GLACIER_IR: 'COLDLINE',
  GLACIER: 'ARCHIVE',
  DEEP_ARCHIVE: 'ARCHIVE',
};

/** A storage class header (Google's names, or S3's mapped onto them). */
export function storageClassOf(headers: IncomingHttpHeaders): string | undefined {
  const value = header(headers, 'x-goog-storage-class') ?? header(headers, 'x-amz-storage-class');
  if (value === undefined) {
    return undefined;
  }
  const mapped = STORAGE_CLASSES[value.toUpperCase()];
  if (mapped === undefined) {
    throw new S3Error(400, 'InvalidStorageClass', 'The storage class you specified is not valid.', {
      StorageClassRequested: value,
    });
  }
  return mapped;
}

/** The S3 name of a Google storage class (what S3 clients print). */
export function s3StorageClass(storageClass: string): string {
  return storageClass;
}

/** Object metadata from request headers (PutObject, CreateMultipartUpload, CopyObject REPLACE). */
export function metadataFromHeaders(headers: IncomingHttpHeaders): ObjectMetadataInput {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    const prefix = lower.startsWith('x-amz-meta-') ? 11 : lower.startsWith('x-goog-meta-') ? 12 : 0;
    if (prefix > 0 && value !== undefined && lower.length > prefix) {
      metadata[lower.slice(prefix)] = Array.isArray(value) ? value.join(',') : value;
    }
  }
  const encoding = header(headers, 'content-encoding')
    ?.split(',')
    .map((token) => token.trim())
    .filter((token) => token !== '' && token.toLowerCase() !== 'aws-chunked')
    .join(', ');
  return {
    contentType: header(headers, 'content-type'),
    contentEncoding: encoding === '' ? undefined : encoding,
    contentDisposition: header(headers, 'content-disposition'),
    contentLanguage: header(headers, 'content-language'),
    cacheControl: header(headers, 'cache-control'),
    metadata: Object.keys(metadata).length === 0 ? undefined : metadata,
    storageClass: storageClassOf(headers),
  };
}

/** The metadata of an existing object, to copy it (CopyObject with the COPY directive). */
export function metadataOfRecord(record: ObjectRecord): ObjectMetadataInput {
  return {
    contentType: record.contentType,
    contentEncoding: record.contentEncoding,
    contentDisposition: record.contentDisposition,
    contentLanguage: record.contentLanguage,
    cacheControl: record.cacheControl,
    metadata: record.metadata,
  };
}

/** Whether an `If-Match`/`If-None-Match` list names `etag` (`*` names any). */
export function etagListMatches(list: string, etag: string): boolean {
  const wanted = etag.replace(/^"(.*)"$/, '$1');
  return list
    .split(',')
    .map((item) =>
      item
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .some((item) => item === '*' || item === wanted);
}

function integerHeader(headers: IncomingHttpHeaders, name: string): number | undefined {
  const value = header(headers, name);
  if (value === undefined) {
    return undefined;
  }
  if (!/^\d{1,20}$/.test(value)) {
    throw new S3Error(400, 'InvalidArgument', `Invalid value for ${name}: '${value}'.`, {
      ArgumentName: name,
    });
  }
  return Number(value);
}

/** Google's generation preconditions, as XML headers. */
export function googPreconditions(headers: IncomingHttpHeaders): ObjectPreconditions {
  return {
    ifGenerationMatch: integerHeader(headers, 'x-goog-if-generation-match'),
    ifMetagenerationMatch: integerHeader(headers, 'x-goog-if-metageneration-match'),
  };
}

function dateHeader(headers: IncomingHttpHeaders, name: string): number | undefined {
  const value = header(headers, name);
  if (value === undefined) {
    return undefined;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * RFC 7232 conditions of a read (S3's order): a failing If-Match / If-Unmodified-Since is 412, a
 * matching If-None-Match / unchanged If-Modified-Since is 304; then Google's generation headers.
 */
export function readCondition(headers: IncomingHttpHeaders, record: ObjectRecord): 304 | 412 | undefined {
  const etag = s3Etag(record);
  const modified = Math.floor(Date.parse(record.updated) / 1000) * 1000;
  const ifMatch = header(headers, 'if-match');
  if (ifMatch !== undefined && !etagListMatches(ifMatch, etag)) {
    return 412;
  }
  const unmodifiedSince = dateHeader(headers, 'if-unmodified-since');
  if (ifMatch === undefined && unmodifiedSince !== undefined && modified > unmodifiedSince) {
    return 412;
  }
  const goog = googPreconditions(headers);
  if (
    (goog.ifGenerationMatch !== undefined && String(goog.ifGenerationMatch) !== record.generation) ||
    (goog.ifMetagenerationMatch !== undefined && goog.ifMetagenerationMatch !== record.metageneration)
  ) {
    return 412;
  }
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifNoneMatch !== undefined && etagListMatches(ifNoneMatch, etag)) {
    return 304;
  }
  const modifiedSince = dateHeader(headers, 'if-modified-since');
  if (ifNoneMatch === undefined && modifiedSince !== undefined && modified <= modifiedSince) {
    return 304;
  }
  return undefined;
}

export function preconditionFailed(condition: string): S3Error {
  return new S3Error(
    412,
    'PreconditionFailed',
    'At least one of the pre-conditions you specified did not hold.',
    {
      Condition: condition,
    },
  );
}

/**
 * Preconditions of a write (PutObject, CopyObject destination, CompleteMultipartUpload): Google's
 * generation headers, `If-None-Match: *` (create only) and `If-Match: ETAG`, turned into a
 * generation match so the commit checks them atomically.
 */
export function writePreconditions(
  headers: IncomingHttpHeaders,
  current: ObjectRecord | undefined,
): ObjectPreconditions {
  const conditions = googPreconditions(headers);
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') {
      throw new S3Error(501, 'NotImplemented', 'Only If-None-Match: * is supported on writes.', {
        Header: 'If-None-Match',
      });
    }
    if (current !== undefined) {
      throw preconditionFailed('If-None-Match');
    }
    conditions.ifGenerationMatch = 0;
  }
  const ifMatch = header(headers, 'if-match');
  if (ifMatch !== undefined) {
    if (current === undefined) {
      throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.');
    }
    if (!etagListMatches(ifMatch, s3Etag(current))) {
      throw preconditionFailed('If-Match');
    }
    conditions.ifGenerationMatch ??= Number(current.generation);
  }
  return conditions;
}

/** Reads a small request body (XML documents) into memory, refusing more than `limit` bytes. */
export async function readSmallBody(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > limit) {
      body.resume();
      throw new S3Error(400, 'MaxMessageLengthExceeded', 'Your request was too big.');
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function uint32Base64(value: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out.toString('base64');
}

interface ExpectedChecksum {
  name: string;
  expected: string;
  update(chunk: Buffer): void;
  digest(): string;
}

function hashChecksum(name: string, expected: string, hash: Hash): ExpectedChecksum {
  return {
    name,
    expected,
    update: (chunk) => hash.update(chunk),
    digest: () => hash.digest('base64'),
  };
}

function crcChecksum(name: string, expected: string, fn: (data: Buffer, initial?: number) => number) {
  let state = 0;
  return {
    name,
    expected,
    update: (chunk: Buffer) => {
      state = fn(chunk, state);
    },
    digest: () => uint32Base64(state),
  };
}

/** The checksums a request announces (Content-MD5, x-amz-checksum-*, x-goog-hash). */
export function announcedChecksums(headers: IncomingHttpHeaders): ExpectedChecksum[] {
  const out: ExpectedChecksum[] = [];
  const md5 = header(headers, 'content-md5');
  if (md5 !== undefined) {
    if (Buffer.from(md5, 'base64').length !== 16) {
      throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
    }
    out.push(hashChecksum('Content-MD5', md5, createHash('md5')));
  }
  for (const part of (header(headers, 'x-goog-hash') ?? '').split(',')) {
    const eq = part.indexOf('=');
    const kind = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (kind === 'md5' && md5 === undefined) {
      out.push(hashChecksum('MD5', value, createHash('md5')));
    } else if (kind === 'crc32c') {
      out.push(crcChecksum('CRC32C', value, crc32c));
    }
  }
  const amz: [string, () => ExpectedChecksum][] = [];
  for (const [name, make] of [
    ['x-amz-checksum-crc32c', (v: string) => crcChecksum('CRC32C', v, crc32c)],
    ['x-amz-checksum-crc32', (v: string) => crcChecksum('CRC32', v, crc32)],
    ['x-amz-checksum-sha1', (v: string) => hashChecksum('SHA1', v, createHash('sha1'))],
    ['x-amz-checksum-sha256', (v: string) => hashChecksum('SHA256', v, createHash('sha256'))],
  ] as const) {
    const value = header(headers, name);
    if (value !== undefined) {
      amz.push([name, () => make(value)]);
    }
  }
  return [...out, ...amz.map(([, make]) => make())];
}

/** Passes `source` through, checking the announced checksums at its end (BadDigest on mismatch). */
export async function* verified(
  source: AsyncIterable<Buffer | string>,
  checksums: ExpectedChecksum[],
): AsyncGenerator<Buffer> {
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    for (const checksum of checksums) {
      checksum.update(chunk);
    }
    yield chunk;
  }
  for (const checksum of checksums) {
    const actual = checksum.digest();
    if (actual !== checksum.expected) {
      throw checksum.name === 'Content-MD5'
        ? new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', {
            ExpectedDigest: checksum.expected,
            CalculatedDigest: actual,
          })
        : new S3Error(
            400,
            'BadDigest',
            `The ${checksum.name} you specified did not match the calculated checksum.`,
          );
    }
  }
}

/** Echoes the `x-amz-checksum-*` headers a client sent (as S3 does on PutObject and UploadPart). */
export function echoChecksums(call: S3Call): void {
  for (const name of [
    'x-amz-checksum-crc32c',
    'x-amz-checksum-crc32',
    'x-amz-checksum-sha1',
    'x-amz-checksum-sha256',
  ]) {
    const value = header(call.request.headers, name);
    if (value !== undefined) {
      call.reply.header(name, value);
    }
  }
  // Checksums sent as aws-chunked trailers (verified by the decoder while the body streamed).
  if (call.body instanceof AwsChunkedDecoder) {
    for (const [name, value] of call.body.trailerValues()) {
      if (name.startsWith('x-amz-checksum-')) {
        call.reply.header(name, value);
      }
    }
  }
}

/** Tags from `x-amz-tagging` (a URL-encoded query string). */
export function tagsFromHeader(headers: IncomingHttpHeaders): Record<string, string> | undefined {
  const value = header(headers, 'x-amz-tagging');
  if (value === undefined) {
    return undefined;
  }
  const tags: Record<string, string> = {};
  for (const [key, tagValue] of new URLSearchParams(value)) {
    tags[key] = tagValue;
  }
  validateTags(tags, [...new URLSearchParams(value).keys()].length);
  return tags;
}

export function validateTags(tags: Record<string, string>, count: number): void {
  const invalid = (message: string): S3Error => new S3Error(400, 'InvalidTag', message);
  if (count !== Object.keys(tags).length) {
    throw invalid('Cannot provide multiple Tags with the same key');
  }
  if (count > 10) {
    throw invalid('Object tags cannot be greater than 10');
  }
  for (const [key, value] of Object.entries(tags)) {
    if (key.length === 0 || key.length > 128) {
      throw invalid('The TagKey you have provided is invalid');
    }
    if (value.length > 256) {
      throw invalid('The TagValue you have provided is too long');
    }
  }
}

/** Sets the object headers S3 and Google's XML clients read on GET/HEAD. */
export function objectResponseHeaders(call: S3Call, record: ObjectRecord, bucket: BucketRecord): void {
  const reply = call.reply;
  reply.header('etag', s3Etag(record));
  reply.header('last-modified', httpDate(record.updated));
  reply.header('accept-ranges', 'bytes');
  reply.header('x-goog-generation', record.generation);
  reply.header('x-goog-metageneration', String(record.metageneration));
  reply.header(
    'x-goog-hash',
    record.componentCount === undefined
      ? `crc32c=${record.crc32c},md5=${record.md5Hash}`
      : `crc32c=${record.crc32c}`,
  );
  reply.header('x-goog-stored-content-length', String(record.size));
  reply.header('x-goog-stored-content-encoding', record.contentEncoding ?? 'identity');
  reply.header('x-goog-storage-class', record.storageClass);
  if (record.componentCount !== undefined) {
    reply.header('x-goog-component-count', String(record.componentCount));
  }
  if (record.storageClass !== 'STANDARD') {
    reply.header('x-amz-storage-class', s3StorageClass(record.storageClass));
  }
  if (bucket.versioningEnabled === true) {
    reply.header('x-amz-version-id', record.generation);
  }
  const tagCount = Object.keys(tagsOf(record)).length;
  if (tagCount > 0) {
    reply.header('x-amz-tagging-count', String(tagCount));
  }
  for (const [name, value] of Object.entries(record.metadata ?? {})) {
    if (/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(name)) {
      reply.header(`${call.metaPrefix}${name}`, encodeHeaderValue(value));
    }
  }
}

/** Header values must be Latin-1 without control characters: others are sent RFC 2047-encoded. */
function encodeHeaderValue(value: string): string {
  return /^[\u0020-\u007e\u00a0-\u00ff\t]*$/.test(value)
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The written object's headers (PutObject, CompleteMultipartUpload, CopyObject). */
export function writeResponseHeaders(call: S3Call, record: ObjectRecord, bucket: BucketRecord): void {
  call.reply.header('etag', s3Etag(record));
  call.reply.header('x-goog-generation', record.generation);
  call.reply.header('x-goog-metageneration', String(record.metageneration));
  call.reply.header(
    'x-goog-hash',
    record.componentCount === undefined
      ? `crc32c=${record.crc32c},md5=${record.md5Hash}`
      : `crc32c=${record.crc32c}`,
  );
  call.reply.header('x-goog-stored-content-length', String(record.size));
  if (bucket.versioningEnabled === true) {
    call.reply.header('x-amz-version-id', record.generation);
  }
}

/** `versionId` (S3) or `generation` (Google) of the request; `null` is the live version. */
export function versionOf(query: URLSearchParams): string | undefined {
  const value = query.get('versionId') ?? query.get('generation') ?? undefined;
  if (value === undefined || value === '' || value === 'null') {
    return undefined;
  }
  if (!/^\d{1,20}$/.test(value)) {
    throw new S3Error(400, 'InvalidArgument', 'Invalid version id specified', {
      ArgumentName: 'versionId',
      ArgumentValue: value,
    });
  }
  return value;
}

/** An integer query parameter in [min, max]; `fallback` when absent. */
export function intQuery(
  query: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = query.get(name);
  if (value === null || value === '') {
    return fallback;
  }
  if (!/^-?\d{1,12}$/.test(value) || Number(value) < min) {
    throw new S3Error(400, 'InvalidArgument', `Provided ${name} not an integer or within integer range`, {
      ArgumentName: name,
      ArgumentValue: value,
    });
  }
  return Math.min(Number(value), max);
}

/** Parses `x-amz-copy-source` / `x-goog-copy-source`: `[/]BUCKET/KEY[?versionId=V]`, URL-encoded. */
export function copySourceOf(
  headers: IncomingHttpHeaders,
): { bucket: string; key: string; version?: string } | undefined {
  const raw = header(headers, 'x-amz-copy-source') ?? header(headers, 'x-goog-copy-source');
  if (raw === undefined) {
    return undefined;
  }
  const invalid = (): S3Error =>
    new S3Error(
      400,
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      {
        ArgumentName: 'x-amz-copy-source',
      },
    );
  const query = raw.indexOf('?');
  const path = (query < 0 ? raw : raw.slice(0, query)).replace(/^\//, '');
  const params = new URLSearchParams(query < 0 ? '' : raw.slice(query + 1));
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw invalid();
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw invalid();
  }
  const version = versionOf(params);
  return {
    bucket: decoded.slice(0, slash),
    key: decoded.slice(slash + 1),
    ...(version === undefined ? {} : { version }),
  };
}

/** `x-amz-copy-source-if-*`: the copy's conditions on its source. */
export function checkCopySourceConditions(headers: IncomingHttpHeaders, source: ObjectRecord): void {
  const etag = s3Etag(source);
  const modified = Math.floor(Date.parse(source.updated) / 1000) * 1000;
  const ifMatch =
    header(headers, 'x-amz-copy-source-if-match') ?? header(headers, 'x-goog-copy-source-if-match');
  if (ifMatch !== undefined && !etagListMatches(ifMatch, etag)) {
    throw preconditionFailed('x-amz-copy-source-If-Match');
  }
  const ifNoneMatch = header(headers, 'x-amz-copy-source-if-none-match');
  if (ifNoneMatch !== undefined && etagListMatches(ifNoneMatch, etag)) {
    throw preconditionFailed('x-amz-copy-source-If-None-Match');
  }
  const unmodifiedSince = dateHeader(headers, 'x-amz-copy-source-if-unmodified-since');
  if (ifMatch === undefined && unmodifiedSince !== undefined && modified > unmodifiedSince) {
    throw preconditionFailed('x-amz-copy-source-If-Unmodified-Since');
  }
  const modifiedSince = dateHeader(headers, 'x-amz-copy-source-if-modified-since');
  if (ifNoneMatch === undefined && modifiedSince !== undefined && modified <= modifiedSince) {
    throw preconditionFailed('x-amz-copy-source-If-Modified-Since');
  }
  const generation = header(headers, 'x-goog-copy-source-if-generation-match');
  if (generation !== undefined && generation !== source.generation) {
    throw preconditionFailed('x-goog-copy-source-if-generation-match');
  }
}

/** Whether the body is aws-chunked framed (S3 clients' streaming uploads). */
export function awsChunked(headers: IncomingHttpHeaders): boolean {
  const encoding = header(headers, 'content-encoding') ?? '';
  const sha = header(headers, 'x-amz-content-sha256') ?? '';
  return /(^|,)\s*aws-chunked\s*(,|$)/i.test(encoding) || sha.startsWith('STREAMING-');
}
