import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../../../core/errors.ts';
import { AclStore } from '../acl.ts';
import type { ObjectRecord } from '../object-store.ts';
import { parseRange } from '../object-routes.ts';
import { bucketResource } from '../routes.ts';
import type { BucketRecord } from '../store.ts';
import {
  announcedChecksums,
  awsChunked,
  checkCopySourceConditions,
  copySourceOf,
  echoChecksums,
  header,
  httpDate,
  isoTime,
  loadBucket,
  metadataFromHeaders,
  metadataOfRecord,
  objectResponseHeaders,
  preconditionFailed,
  readCondition,
  readSmallBody,
  s3Etag,
  sendXml,
  tagsFromHeader,
  tagsOf,
  validateTags,
  verified,
  versionOf,
  writePreconditions,
  writeResponseHeaders,
  type S3Call,
  type XmlFace,
} from './common.ts';
import { S3Error, s3ErrorOf } from './errors.ts';
import { childrenNamed, childText, malformedXml, parseXmlDocument, type XmlNode } from './xml.ts';
import { objectContext } from '../access-context.ts';

/** The body of a write, refusing aws-chunked framing no authenticator decoded. */
export function writableBody(call: S3Call): S3Call['body'] {
  if (awsChunked(call.request.headers) && !call.bodyDecoded) {
    throw new S3Error(400, 'InvalidRequest', 'The aws-chunked body could not be decoded.');
  }
  return call.body;
}

/** Write permission for bucket/key: create, and delete when it replaces an object (as on Google). */
function authorizeWrite(
  face: XmlFace,
  call: S3Call,
  bucket: BucketRecord,
  key: string,
): ObjectRecord | undefined {
  const resource = bucketResource(bucket);
  const context = objectContext(bucket.name, key);
  face.platform.access.authorize(call.principal, 'storage.objects.create', resource, context);
  const current = face.objects.findLive(bucket.name, key);
  if (current !== undefined) {
    face.platform.access.authorize(call.principal, 'storage.objects.delete', resource, context);
  }
  return current;
}

/** PUT /BUCKET/KEY : PutObject. */
export async function putObject(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = face.buckets.getBucket(call.bucket);
  const current = authorizeWrite(face, call, bucket, call.key);
  const metadata = metadataFromHeaders(call.request.headers);
  const tags = tagsFromHeader(call.request.headers);
  const conditions = writePreconditions(call.request.headers, current);
  const checksums = announcedChecksums(call.request.headers);
  const body = writableBody(call);
  let record = await face.objects.insertObject({
    bucket: bucket.name,
    name: call.key,
    metadata,
    source: checksums.length === 0 ? body : verified(body, checksums),
    expectedSize: call.bodyLength,
    conditions,
  });
  if (tags !== undefined && Object.keys(tags).length > 0) {
    record = face.objects.setXmlFields(bucket.name, call.key, record.generation, { s3Tags: tags });
  }
  writeResponseHeaders(call, record, bucket);
  echoChecksums(call);
  return call.reply.code(200).send();
}

/** The generation a read addresses, after `storage.objects.get` (or a reading object ACL). */
function readable(face: XmlFace, call: S3Call): { bucket: BucketRecord; record: ObjectRecord } {
  const bucket = face.buckets.getBucket(call.bucket);
  const version = versionOf(call.query);
  try {
    face.platform.access.authorize(
      call.principal,
      'storage.objects.get',
      bucketResource(bucket),
      objectContext(bucket.name, call.key),
    );
  } catch (denied) {
    // On a fine-grained bucket an object's ACL can grant reading where IAM does not.
    const found = face.objects.findLive(bucket.name, call.key);
    if (
      !(denied instanceof ApiError) ||
      found === undefined ||
      (version !== undefined && version !== found.generation) ||
      !new AclStore(face.platform.store).grantsRead(found, bucket, call.principal)
    ) {
      throw denied;
    }
    return { bucket, record: found };
  }
  try {
    return { bucket, record: face.objects.getObject(bucket.name, call.key, version) };
  } catch (error) {
    if (version !== undefined && error instanceof ApiError && error.httpStatus === 404) {
      throw new S3Error(404, 'NoSuchVersion', 'The specified version does not exist.', {
        Key: call.key,
        VersionId: version,
      });
    }
    throw error;
  }
}

const RESPONSE_OVERRIDES = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
] as const;

/** GET and HEAD /BUCKET/KEY : GetObject / HeadObject with Range (206/416) and conditions (304/412). */
export function getObject(face: XmlFace, call: S3Call, head: boolean): FastifyReply {
  const { bucket, record } = readable(face, call);
  const condition = readCondition(call.request.headers, record);
  if (condition === 412) {
    throw preconditionFailed('If-Match');
  }
  const reply = call.reply;
  if (condition === 304) {
    reply.header('etag', s3Etag(record));
    reply.header('last-modified', httpDate(record.updated));
    return reply.code(304).send();
  }
  objectResponseHeaders(call, record, bucket);
  reply.header('content-type', record.contentType ?? 'application/octet-stream');
  for (const [name, field] of [
    ['content-disposition', record.contentDisposition],
    ['content-language', record.contentLanguage],
    ['cache-control', record.cacheControl],
    ['content-encoding', record.contentEncoding],
  ] as const) {
    if (field !== undefined) {
      reply.header(name, field);
    }
  }
  for (const [param, name] of RESPONSE_OVERRIDES) {
    const value = call.query.get(param);
    if (value !== null) {
      reply.header(name, value);
    }
  }
  const rangeHeader = header(call.request.headers, 'range');
  const range = parseRange(rangeHeader, record.size);
  if (range === 'unsatisfiable') {
    reply.header('content-range', `bytes */${record.size}`);
    throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable', {
      RangeRequested: rangeHeader ?? '',
      ActualObjectSize: String(record.size),
    });
  }
  if (
    range === undefined &&
    header(call.request.headers, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED'
  ) {
    reply.header('x-amz-checksum-crc32c', record.crc32c);
    reply.header('x-amz-checksum-type', 'FULL_OBJECT');
  }
  if (range === undefined || record.size === 0) {
    reply.header('content-length', String(record.size));
    if (head || record.size === 0) {
      return reply.code(200).send();
    }
    return reply.code(200).send(face.objects.inlineBytes(record) ?? face.objects.openRead(record));
  }
  reply.code(206);
  reply.header('content-range', `bytes ${range.start}-${range.end}/${record.size}`);
  reply.header('content-length', String(range.end - range.start + 1));
  if (head) {
    return reply.send();
  }
  return reply.send(
    face.objects.inlineBytes(record, range.start, range.end) ??
      face.objects.openRead(record, range.start, range.end),
  );
}

/** Deletes one key (a generation with a version); a missing key is not an error (S3 semantics). */
async function deleteOne(
  face: XmlFace,
  call: S3Call,
  bucket: BucketRecord,
  key: string,
  version: string | undefined,
  useRequestConditions: boolean,
): Promise<void> {
  face.platform.access.authorize(
    call.principal,
    'storage.objects.delete',
    bucketResource(bucket),
    objectContext(bucket.name, key),
  );
  let conditions = {};
  if (useRequestConditions) {
    const current = face.objects.findLive(bucket.name, key);
    const ifMatch = header(call.request.headers, 'if-match');
    if (ifMatch !== undefined && current === undefined) {
      throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    }
    conditions = writePreconditions({ ...call.request.headers, 'if-none-match': undefined }, current);
  }
  try {
    await face.objects.deleteObject(bucket.name, key, version, conditions);
  } catch (error) {
    // Deleting a key (or generation) that does not exist succeeds, as on S3.
    if (
      error instanceof ApiError &&
      error.httpStatus === 404 &&
      face.buckets.findBucket(bucket.name) !== undefined
    ) {
      return;
    }
    throw error;
  }
}

/** DELETE /BUCKET/KEY : DeleteObject (`versionId` deletes that generation for good). */
export async function deleteObject(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = face.buckets.getBucket(call.bucket);
  const version = versionOf(call.query);
  await deleteOne(face, call, bucket, call.key, version, true);
  if (version !== undefined) {
    call.reply.header('x-amz-version-id', version);
  }
  return call.reply.code(204).send();
}

/** POST /BUCKET?delete : DeleteObjects (up to 1000 keys, Quiet reports errors only). */
export async function deleteObjects(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.objects.delete');
  const checksums = announcedChecksums(call.request.headers);
  const raw = await readSmallBody(call.body, 4 * 1024 * 1024);
  if (checksums.length > 0) {
    for await (const _chunk of verified(Readable.from([raw]), checksums)) {
      // consumed to check the digests
    }
  }
  const document = parseXmlDocument(raw, 'Delete');
  const quiet = childText(document, 'Quiet')?.toLowerCase() === 'true';
  const entries = childrenNamed(document, 'Object');
  if (entries.length === 0 || entries.length > 1000) {
    throw malformedXml();
  }
  const results: XmlNode[] = [];
  for (const entry of entries) {
    const key = childText(entry, 'Key');
    if (key === undefined || key === '') {
      throw malformedXml();
    }
    const versionText = childText(entry, 'VersionId');
    try {
      const version = versionOf(
        new URLSearchParams(versionText === undefined ? '' : { versionId: versionText }),
      );
      await deleteOne(face, call, bucket, key, version, false);
      if (!quiet) {
        results.push([
          'Deleted',
          [['Key', key], versionText === undefined ? undefined : ['VersionId', versionText]],
        ]);
      }
    } catch (error) {
      const s3 =
        error instanceof S3Error
          ? error
          : error instanceof ApiError
            ? s3ErrorOf(error, { bucket: bucket.name, key })
            : undefined;
      if (s3 === undefined) {
        throw error;
      }
      results.push([
        'Error',
        [
          ['Key', key],
          versionText === undefined ? undefined : ['VersionId', versionText],
          ['Code', s3.code],
          ['Message', s3.message],
        ],
      ]);
    }
  }
  return sendXml(call.reply, ['DeleteResult', results]);
}

/** PUT /BUCKET/KEY with x-amz-copy-source : CopyObject (metadata directive COPY or REPLACE). */
export async function copyObject(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const headers = call.request.headers;
  const source = copySourceOf(headers);
  if (source === undefined) {
    throw malformedXml();
  }
  const sourceBucket = face.buckets.getBucket(source.bucket);
  face.platform.access.authorize(
    call.principal,
    'storage.objects.get',
    bucketResource(sourceBucket),
    objectContext(sourceBucket.name, source.key),
  );
  let sourceRecord: ObjectRecord;
  try {
    sourceRecord = face.objects.getObject(sourceBucket.name, source.key, source.version);
  } catch (error) {
    if (error instanceof ApiError && error.httpStatus === 404) {
      throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: source.key });
    }
    throw error;
  }
  checkCopySourceConditions(headers, sourceRecord);
  const bucket = face.buckets.getBucket(call.bucket);
  const current = authorizeWrite(face, call, bucket, call.key);
  const directive = (
    header(headers, 'x-amz-metadata-directive') ??
    header(headers, 'x-goog-metadata-directive') ??
    'COPY'
  ).toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error(400, 'InvalidArgument', 'Unknown metadata directive.', {
      ArgumentName: 'x-amz-metadata-directive',
    });
  }
  const replaced = metadataFromHeaders(headers);
  const metadata =
    directive === 'REPLACE'
      ? replaced
      : { ...metadataOfRecord(sourceRecord), storageClass: replaced.storageClass };
  if (
    sourceBucket.name === bucket.name &&
    source.key === call.key &&
    directive === 'COPY' &&
    replaced.storageClass === undefined &&
    header(headers, 'x-amz-tagging-directive') === undefined
  ) {
    throw new S3Error(
      400,
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const conditions = writePreconditions(headers, current);
  let record = await face.objects.writeFromObjects({
    bucket: bucket.name,
    name: call.key,
    sources: [sourceRecord],
    metadata,
    conditions,
  });
  const tags =
    (header(headers, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase() === 'REPLACE'
      ? tagsFromHeader(headers)
      : tagsOf(sourceRecord);
  if (tags !== undefined && Object.keys(tags).length > 0) {
    record = face.objects.setXmlFields(bucket.name, call.key, record.generation, { s3Tags: tags });
  }
  writeResponseHeaders(call, record, bucket);
  if (sourceBucket.versioningEnabled === true) {
    call.reply.header('x-amz-copy-source-version-id', sourceRecord.generation);
  }
  return sendXml(call.reply, [
    'CopyObjectResult',
    [
      ['LastModified', isoTime(record.updated)],
      ['ETag', s3Etag(record)],
    ],
  ]);
}

/** GET /BUCKET/KEY?tagging */
export function getObjectTagging(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.objects.get');
  const record = face.objects.getObject(bucket.name, call.key, versionOf(call.query));
  if (bucket.versioningEnabled === true) {
    call.reply.header('x-amz-version-id', record.generation);
  }
  return sendXml(call.reply, [
    'Tagging',
    [
      [
        'TagSet',
        Object.entries(tagsOf(record)).map(([key, value]): XmlNode => [
          'Tag',
          [
            ['Key', key],
            ['Value', value],
          ],
        ]),
      ],
    ],
  ]);
}

/** PUT /BUCKET/KEY?tagging: replaces the tag set (at most 10 tags). */
export async function putObjectTagging(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.objects.update');
  const record = face.objects.getObject(bucket.name, call.key, versionOf(call.query));
  const document = parseXmlDocument(await readSmallBody(call.body, 64 * 1024), 'Tagging');
  const tagSet = childrenNamed(document, 'TagSet')[0];
  if (tagSet === undefined) {
    throw malformedXml();
  }
  const tags: Record<string, string> = {};
  const entries = childrenNamed(tagSet, 'Tag');
  for (const tag of entries) {
    const key = childText(tag, 'Key');
    const value = childText(tag, 'Value');
    if (key === undefined || value === undefined) {
      throw malformedXml();
    }
    tags[key] = value;
  }
  validateTags(tags, entries.length);
  face.objects.setXmlFields(bucket.name, call.key, record.generation, { s3Tags: tags });
  if (bucket.versioningEnabled === true) {
    call.reply.header('x-amz-version-id', record.generation);
  }
  return call.reply.code(200).send();
}

/** DELETE /BUCKET/KEY?tagging */
export function deleteObjectTagging(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.objects.update');
  const record = face.objects.getObject(bucket.name, call.key, versionOf(call.query));
  face.objects.setXmlFields(bucket.name, call.key, record.generation, { s3Tags: undefined });
  return call.reply.code(204).send();
}
