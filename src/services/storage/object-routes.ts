import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { ApiError, InvalidArgument } from '../../core/errors.ts';
import { baseUrl, intParam, paramsOf, parseBody, queryOf, stringParam } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import type { ObjectRecord } from './object-store.ts';
import { type ObjectMetadataInput, type ObjectPreconditions, type ObjectsService } from './objects.ts';
import { objectEtag, presentObject, presentObjectList } from './presenters.ts';
import { managedFolderPrefixes } from './managed-folders-store.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import { objectCorsOptions, registerCorsPreflight } from './cors.ts';
import { sendTranscoded } from './transcoding.ts';
import { AclStore, uploadAcl } from './acl.ts';
import { objectAclDispatcher } from './acl-routes.ts';
import { bucketContext, objectContext } from './access-context.ts';

/** The writable fields of an object resource, plus output-only ones a client may echo back. */
export const ObjectResource = Type.Object(
  {
    name: Type.Optional(Type.String()),
    bucket: Type.Optional(Type.String()),
    contentType: Type.Optional(Type.String()),
    contentEncoding: Type.Optional(Type.String()),
    contentDisposition: Type.Optional(Type.String()),
    contentLanguage: Type.Optional(Type.String()),
    cacheControl: Type.Optional(Type.String()),
    customTime: Type.Optional(Type.String()),
    metadata: Type.Optional(
      Type.Union([Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()])), Type.Null()]),
    ),
    temporaryHold: Type.Optional(Type.Boolean()),
    eventBasedHold: Type.Optional(Type.Boolean()),
    storageClass: Type.Optional(Type.String()),
    md5Hash: Type.Optional(Type.String()),
    crc32c: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    id: Type.Optional(Type.String()),
    selfLink: Type.Optional(Type.String()),
    mediaLink: Type.Optional(Type.String()),
    generation: Type.Optional(Type.String()),
    metageneration: Type.Optional(Type.String()),
    size: Type.Optional(Type.String()),
    etag: Type.Optional(Type.String()),
    timeCreated: Type.Optional(Type.String()),
    updated: Type.Optional(Type.String()),
    timeStorageClassUpdated: Type.Optional(Type.String()),
    retentionExpirationTime: Type.Optional(Type.String()),
    acl: Type.Optional(Type.Union([Type.Array(Type.Unknown()), Type.Null()])),
    owner: Type.Optional(Type.Unknown()),
    retention: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type ObjectResourceBody = Static<typeof ObjectResource>;

export function metadataInputOf(body: ObjectResourceBody): ObjectMetadataInput {
  return {
    contentType: body.contentType,
    contentEncoding: body.contentEncoding,
    contentDisposition: body.contentDisposition,
    contentLanguage: body.contentLanguage,
    cacheControl: body.cacheControl,
    customTime: body.customTime,
    metadata: body.metadata,
    temporaryHold: body.temporaryHold,
    eventBasedHold: body.eventBasedHold,
    storageClass: body.storageClass,
  };
}

export function preconditionsOf(request: FastifyRequest, prefix = ''): ObjectPreconditions {
  const query = queryOf(request);
  const read = (name: string): number | undefined => intParam(query[`${prefix}${name}`], `${prefix}${name}`);
  return {
    ifGenerationMatch: read('ifGenerationMatch'),
    ifGenerationNotMatch: read('ifGenerationNotMatch'),
    ifMetagenerationMatch: read('ifMetagenerationMatch'),
    ifMetagenerationNotMatch: read('ifMetagenerationNotMatch'),
  };
}

/** `x-goog-hash: crc32c=...,md5=...` as sent by clients and returned by us. */
export function parseGoogHash(header: string | string[] | undefined): { md5Hash?: string; crc32c?: string } {
  const out: { md5Hash?: string; crc32c?: string } = {};
  for (const part of (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (key === 'md5') {
      out.md5Hash = value;
    } else if (key === 'crc32c') {
      out.crc32c = value;
    }
  }
  return out;
}

/**
 * The object name from the raw URL (`.../b/BUCKET/o/NAME[/suffix]`). Names are percent-encoded by
 * clients; the raw form keeps `%2F` apart from real path separators.
 */
export function objectNameFromUrl(request: FastifyRequest, suffix?: RegExp): string {
  const path = request.url.split('?')[0] ?? '';
  const at = path.indexOf('/o/', path.indexOf('/b/') + 3);
  let raw = at < 0 ? '' : path.slice(at + 3);
  if (suffix !== undefined) {
    raw = raw.replace(suffix, '');
  }
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidArgument('The object name is not valid percent-encoded UTF-8.', { reason: 'invalid' });
  }
}

interface ByteRange {
  start: number;
  end: number;
}

/** Parses a single `Range: bytes=` header against `size`; undefined means the whole object. */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) {
    return undefined;
  }
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null || (match[1] === '' && match[2] === '')) {
    return undefined;
  }
  const [, first = '', last = ''] = match;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) {
      return 'unsatisfiable';
    }
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) {
    return 'unsatisfiable';
  }
  return { start, end };
}

export function objectHeaders(reply: FastifyReply, record: ObjectRecord): void {
  reply.header(
    'x-goog-hash',
    record.componentCount === undefined
      ? `crc32c=${record.crc32c},md5=${record.md5Hash}`
      : `crc32c=${record.crc32c}`,
  );
  reply.header('x-goog-generation', record.generation);
  reply.header('x-goog-metageneration', String(record.metageneration));
  reply.header('x-goog-stored-content-length', String(record.size));
  reply.header('x-goog-stored-content-encoding', record.contentEncoding ?? 'identity');
  reply.header('x-goog-storage-class', record.storageClass);
  reply.header('etag', objectEtag(record));
  reply.header('last-modified', new Date(record.updated).toUTCString());
  reply.header('accept-ranges', 'bytes');
}

/** Streams an object's bytes with Range support (206/416) and Google's headers. */
export async function sendMedia(
  request: FastifyRequest,
  reply: FastifyReply,
  objects: ObjectsService,
  record: ObjectRecord,
): Promise<FastifyReply> {
  objectHeaders(reply, record);
  reply.type(record.contentType ?? 'application/octet-stream');
  for (const [header, field] of [
    ['content-disposition', record.contentDisposition],
    ['content-language', record.contentLanguage],
    ['cache-control', record.cacheControl],
    ['content-encoding', record.contentEncoding],
  ] as const) {
    if (field !== undefined) {
      reply.header(header, field);
    }
  }
  if (await sendTranscoded(request, reply, record, (start, end) => objects.openRead(record, start, end))) {
    return reply;
  }
  const range = parseRange(request.headers.range, record.size);
  if (range === 'unsatisfiable') {
    reply.header('content-range', `bytes */${record.size}`);
    const error = new ApiError(416, 'OUT_OF_RANGE', 'The requested range cannot be satisfied.', {
      reason: 'requestedRangeNotSatisfiable',
    });
    return reply.code(416).type('application/json').send(error.toJSON());
  }
  if (range === undefined || record.size === 0) {
    reply.header('content-length', String(record.size));
    return reply.send(record.size === 0 ? '' : (objects.inlineBytes(record) ?? objects.openRead(record)));
  }
  reply.code(206);
  reply.header('content-range', `bytes ${range.start}-${range.end}/${record.size}`);
  reply.header('content-length', String(range.end - range.start + 1));
  return reply.send(
    objects.inlineBytes(record, range.start, range.end) ?? objects.openRead(record, range.start, range.end),
  );
}

/** storage.objects.{get,list,patch,update,delete} (uploads live in upload-routes.ts). */
export function registerObjectRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
  objects: ObjectsService,
): void {
  /** Checks `permission` on the bucket, or on `object` in it (what IAM Conditions see). */
  const authorize = (request: FastifyRequest, permission: string, object?: string): string => {
    const bucket = buckets.getBucket(paramsOf(request).bucket ?? '');
    const context = object === undefined ? bucketContext(bucket.name) : objectContext(bucket.name, object);
    platform.access.authorize(request.principal, permission, bucketResource(bucket), context);
    return bucket.name;
  };

  const acls = new AclStore(platform.store);
  const acl = objectAclDispatcher(platform, buckets, objects);

  const getObject = async (request: FastifyRequest, reply: FastifyReply, media: boolean) => {
    const bucketRecord = buckets.getBucket(paramsOf(request).bucket ?? '');
    const bucket = bucketRecord.name;
    const name = objectNameFromUrl(request);
    const query = queryOf(request);
    let record: ObjectRecord;
    try {
      platform.access.authorize(
        request.principal,
        'storage.objects.get',
        bucketResource(bucketRecord),
        objectContext(bucket, name),
      );
      record = objects.getObject(bucket, name, stringParam(query.generation));
    } catch (denied) {
      // On a fine-grained bucket an object's ACL can grant reading where IAM does not (makePublic).
      if (!(denied instanceof ApiError) || denied.httpStatus !== 403) {
        throw denied;
      }
      const found = objects.findLive(bucket, name);
      const generation = stringParam(query.generation);
      const candidate = generation === undefined || generation === found?.generation ? found : undefined;
      if (candidate === undefined || !acls.grantsRead(candidate, bucketRecord, request.principal)) {
        throw denied;
      }
      record = candidate;
    }
    const conditions = preconditionsOf(request);
    const notMatch =
      conditions.ifGenerationNotMatch !== undefined || conditions.ifMetagenerationNotMatch !== undefined;
    try {
      objects.checkPreconditions(record, conditions);
    } catch (error) {
      // A GET whose *NotMatch precondition fails is 304 Not Modified, as on Google.
      if (
        notMatch &&
        error instanceof ApiError &&
        error.httpStatus === 412 &&
        conditions.ifGenerationMatch === undefined &&
        conditions.ifMetagenerationMatch === undefined
      ) {
        return reply.code(304).send();
      }
      throw error;
    }
    if (media || query.alt === 'media') {
      return sendMedia(request, reply, objects, record);
    }
    return presentObject(record, baseUrl(request));
  };

  // Object reads accept cross-origin requests; the bucket's CORS configuration applies (cors.ts).
  const cors = objectCorsOptions(buckets);
  app.get('/download/storage/v1/b/:bucket/o/*', cors, async (request, reply) =>
    getObject(request, reply, true),
  );
  registerCorsPreflight(app, buckets, [
    '/download/storage/v1/b/:bucket/o/*',
    '/storage/v1/b/:bucket/o/*',
    '/b/:bucket/o/*',
  ]);

  for (const prefix of ['/storage/v1', '']) {
    // storage.objects.list
    app.get(`${prefix}/b/:bucket/o`, async (request) => {
      const bucket = authorize(request, 'storage.objects.list');
      const query = queryOf(request);
      const page = objects.listObjects(bucket, {
        prefix: stringParam(query.prefix),
        delimiter: stringParam(query.delimiter),
        pageToken: stringParam(query.pageToken),
        maxResults: intParam(query.maxResults, 'maxResults'),
        startOffset: stringParam(query.startOffset),
        endOffset: stringParam(query.endOffset),
        versions: query.versions === 'true',
        includeTrailingDelimiter: query.includeTrailingDelimiter === 'true',
        matchGlob: stringParam(query.matchGlob),
      });
      // Managed folders count as prefixes too when asked (gcloud sends `True`).
      if (stringParam(query.includeFoldersAsPrefixes)?.toLowerCase() === 'true') {
        if (query.delimiter !== '/') {
          throw new InvalidArgument('includeFoldersAsPrefixes requires delimiter=/.', { reason: 'invalid' });
        }
        const folders = managedFolderPrefixes(platform.store, bucket, stringParam(query.prefix) ?? '');
        page.prefixes = [...new Set([...page.prefixes, ...folders])].sort();
      }
      return presentObjectList(page.items, page.prefixes, page.nextPageToken, baseUrl(request));
    });

    // storage.objects.get (metadata, or bytes with alt=media)
    // (and storage.objectAccessControls.{list,get} on `.../o/NAME/acl[/ENTITY]`, acl-routes.ts)
    app.get(
      `${prefix}/b/:bucket/o/*`,
      cors,
      async (request, reply) => acl(request, reply) ?? getObject(request, reply, false),
    );

    // storage.objects.delete
    app.delete(`${prefix}/b/:bucket/o/*`, async (request, reply) => {
      const aclReply = acl(request, reply);
      if (aclReply !== undefined) {
        return aclReply;
      }
      const bucket = authorize(request, 'storage.objects.delete', objectNameFromUrl(request));
      await objects.deleteObject(
        bucket,
        objectNameFromUrl(request),
        stringParam(queryOf(request).generation),
        preconditionsOf(request),
      );
      return reply.code(204).send();
    });

    // storage.objects.patch / storage.objects.update
    for (const method of ['PATCH', 'PUT'] as const) {
      app.route({
        method,
        url: `${prefix}/b/:bucket/o/*`,
        handler: async (request, reply) => {
          const aclReply = acl(request, reply);
          if (aclReply !== undefined) {
            return aclReply;
          }
          const bucket = authorize(request, 'storage.objects.update', objectNameFromUrl(request));
          const name = objectNameFromUrl(request);
          const body = parseBody(ObjectResource, request.body);
          // predefinedAcl or an `acl` in the body replaces the object's ACL (file.makePrivate()).
          const bucketRecord = buckets.getBucket(bucket);
          const newAcl = uploadAcl(bucketRecord, request.principal, queryOf(request).predefinedAcl, body.acl);
          if (newAcl !== undefined) {
            platform.access.authorize(
              request.principal,
              'storage.objects.setIamPolicy',
              bucketResource(bucketRecord),
              objectContext(bucket, name),
            );
          }
          const record = objects.updateMetadata(
            bucket,
            name,
            stringParam(queryOf(request).generation),
            metadataInputOf(body),
            preconditionsOf(request),
            method === 'PUT',
          );
          if (newAcl !== undefined) {
            acls.replace(record, newAcl);
          }
          return presentObject(record, baseUrl(request));
        },
      });
    }
  }
}
