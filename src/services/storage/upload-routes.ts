import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { rfc3339 } from '../../core/clock.ts';
import { ApiError, InvalidArgument, NotFound, PayloadTooLarge } from '../../core/errors.ts';
import { baseUrl, paramsOf, parseBody, queryOf, stringParam } from '../../core/http.ts';
import { randomToken } from '../../core/ids.ts';
import type { Platform } from '../../core/platform.ts';
import type { UploadFiles } from '../../platform/blobs.ts';
import { RequiredParameter } from './errors.ts';
import { parseMultipartRelated } from './multipart.ts';
import {
  metadataInputOf,
  ObjectResource,
  parseGoogHash,
  preconditionsOf,
  type ObjectResourceBody,
} from './object-routes.ts';
import { validateObjectName, type ObjectPreconditions, type ObjectsService } from './objects.ts';
import { presentObject } from './presenters.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import { objectCorsOptions, registerCorsPreflight } from './cors.ts';
import { AclStore, uploadAcl, type AclEntry } from './acl.ts';
import { objectContext } from './access-context.ts';

/** Multipart uploads are buffered; larger objects go through resumable uploads. */
const MULTIPART_LIMIT = 64 * 1024 * 1024;
/** Google keeps a resumable session for a week. */
const SESSION_LIFETIME_MS = 7 * 24 * 3600 * 1000;
const SESSIONS = 'storage/uploads';

interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  resource: ObjectResourceBody;
  conditions: ObjectPreconditions;
  /** Total size when the client declared it (X-Upload-Content-Length or a final Content-Range). */
  size?: number;
  received: number;
  createTime: string;
  /** Member that opened the session: only it may continue the upload. */
  member: string;
  /** ACL entries asked for at initiation (predefinedAcl or `acl`), set on the finished object. */
  acl?: AclEntry[];
}

async function readAll(source: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    total += chunk.length;
    if (total > limit) {
      throw new PayloadTooLarge(
        `Multipart uploads are limited to ${limit} bytes here: use a resumable upload.`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Parses `Content-Range` of resumable chunks: `bytes A-B/TOTAL`, `bytes *\/TOTAL`, `bytes *\/*`, and
 * `bytes A-*\/TOTAL|*` (the Node client's single-request mode: the rest of the object is this body).
 */
export function parseContentRange(
  header: string | undefined,
): { first?: number; last?: number; total?: number; rest?: boolean } | undefined {
  if (header === undefined) {
    return undefined;
  }
  const match = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(header.trim());
  if (match === null) {
    throw new InvalidArgument(`Invalid Content-Range header: '${header}'.`, { reason: 'invalid' });
  }
  const [, first, last, total] = match;
  const out: { first?: number; last?: number; total?: number; rest?: boolean } = {};
  if (first !== undefined && last === '*') {
    out.first = Number(first);
    out.rest = true;
  } else if (first !== undefined && last !== undefined) {
    out.first = Number(first);
    out.last = Number(last);
    if (out.last < out.first) {
      throw new InvalidArgument(`Invalid Content-Range header: '${header}'.`, { reason: 'invalid' });
    }
  }
  if (total !== undefined && total !== '*') {
    out.total = Number(total);
  }
  return out;
}

/**
 * `name` from the raw query string. The query parser keeps a percent-escape that is not UTF-8 as
 * literal text; for an object name that is a 400, as on Google, not an object named `%ED...`.
 */
function queryName(request: FastifyRequest): string | undefined {
  const at = request.url.indexOf('?');
  for (const pair of at < 0 ? [] : request.url.slice(at + 1).split('&')) {
    if (pair.startsWith('name=')) {
      try {
        return stringParam(decodeURIComponent(pair.slice(5).replace(/\+/g, ' ')));
      } catch {
        throw new InvalidArgument('The object name is not valid percent-encoded UTF-8.', {
          reason: 'invalid',
        });
      }
    }
  }
  return undefined;
}

function beyondSize(size: number): InvalidArgument {
  return new InvalidArgument(`The upload has more bytes than its declared size of ${size}.`, {
    reason: 'invalid',
  });
}

/**
 * Uploads (`/upload/storage/v1/b/B/o`): uploadType=media, multipart and resumable. Registered in
 * their own encapsulated context whose only body parser hands the raw stream to the handler, so an
 * upload of any size streams to disk and never passes through JSON parsing or the body limit.
 */
export async function registerUploadRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
  objects: ObjectsService,
  uploads: UploadFiles,
): Promise<void> {
  const authorizeWrite = (request: FastifyRequest, bucketName: string, name: string): string => {
    const bucket = buckets.getBucket(bucketName);
    const resource = bucketResource(bucket);
    const context = objectContext(bucket.name, name);
    platform.access.authorize(request.principal, 'storage.objects.create', resource, context);
    if (objects.exists(bucket.name, name)) {
      // Replacing an object also needs delete permission, as on Google.
      platform.access.authorize(request.principal, 'storage.objects.delete', resource, context);
    }
    return bucket.name;
  };

  const acls = new AclStore(platform.store);
  const aclOf = (request: FastifyRequest, bucket: string, resource?: ObjectResourceBody) =>
    uploadAcl(buckets.getBucket(bucket), request.principal, queryOf(request).predefinedAcl, resource?.acl);

  const getSession = (id: string): UploadSession => {
    const session = platform.store.get<UploadSession>(SESSIONS, id);
    if (
      session === undefined ||
      platform.clock.now() - Date.parse(session.createTime) > SESSION_LIFETIME_MS
    ) {
      throw new NotFound('No such upload session (it was completed, cancelled or has expired).', {
        reason: 'notFound',
      });
    }
    return session;
  };

  const finishSession = async (
    request: FastifyRequest,
    session: UploadSession,
  ): Promise<Record<string, unknown>> => {
    const finalHashes = parseGoogHash(request.headers['x-goog-hash']);
    const record = await objects.insertObject({
      bucket: session.bucket,
      name: session.name,
      metadata: metadataInputOf(session.resource),
      source: uploads.read(session.id),
      expectedSize: session.received,
      // Hashes declared in the resource, else by `X-Goog-Hash` on the final request (as Google checks).
      expected: {
        md5Hash: session.resource.md5Hash ?? finalHashes.md5Hash,
        crc32c: session.resource.crc32c ?? finalHashes.crc32c,
      },
      conditions: session.conditions,
    });
    if (session.acl !== undefined) {
      acls.replace(record, session.acl);
    }
    platform.store.delete(SESSIONS, session.id);
    await uploads.remove(session.id);
    return presentObject(record, baseUrl(request));
  };

  const incomplete = (reply: FastifyReply, session: UploadSession): FastifyReply => {
    reply.header('x-guploader-uploadid', session.id);
    if (session.received > 0) {
      reply.header('range', `bytes=0-${session.received - 1}`);
    }
    return reply.code(308).send();
  };

  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser('*', (_request, payload, done) => {
      done(null, payload);
    });

    const insert = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const query = queryOf(request);
      const uploadType = stringParam(query.uploadType);
      const bucketName = paramsOf(request).bucket ?? '';
      const conditions = preconditionsOf(request);
      const contentType = request.headers['content-type'];

      if (uploadType === 'media' || uploadType === undefined) {
        const name = queryName(request);
        if (name === undefined) {
          throw new RequiredParameter('name');
        }
        validateObjectName(name);
        const bucket = authorizeWrite(request, bucketName, name);
        const acl = aclOf(request, bucket);
        const length = request.headers['content-length'];
        const record = await objects.insertObject({
          bucket,
          name,
          metadata: {
            contentType: contentType,
            contentEncoding: stringParam(query.contentEncoding),
          },
          source: request.raw,
          expectedSize: length === undefined ? undefined : Number(length),
          expected: parseGoogHash(request.headers['x-goog-hash']),
          conditions,
        });
        if (acl !== undefined) {
          acls.replace(record, acl);
        }
        return presentObject(record, baseUrl(request));
      }

      if (uploadType === 'multipart') {
        const body = await readAll(request.raw, MULTIPART_LIMIT);
        const parsed = parseMultipartRelated(contentType ?? '', body);
        const resource = parseBody(ObjectResource, parsed.metadata);
        const name = queryName(request) ?? resource.name;
        if (name === undefined) {
          throw new RequiredParameter('name');
        }
        validateObjectName(name);
        const bucket = authorizeWrite(request, bucketName, name);
        const acl = aclOf(request, bucket, resource);
        const record = await objects.insertObject({
          bucket,
          name,
          metadata: {
            ...metadataInputOf(resource),
            contentType: resource.contentType ?? parsed.mediaContentType,
          },
          source: parsed.data,
          expected: { md5Hash: resource.md5Hash, crc32c: resource.crc32c },
          conditions,
        });
        if (acl !== undefined) {
          acls.replace(record, acl);
        }
        return presentObject(record, baseUrl(request));
      }

      if (uploadType === 'resumable') {
        const text = (await readAll(request.raw, 1024 * 1024)).toString('utf8');
        let json: unknown = {};
        if (text.trim() !== '') {
          try {
            json = JSON.parse(text);
          } catch {
            throw new InvalidArgument('Invalid JSON payload received.', { reason: 'parseError' });
          }
        }
        const resource = parseBody(ObjectResource, json);
        const name = queryName(request) ?? resource.name;
        if (name === undefined) {
          throw new RequiredParameter('name');
        }
        validateObjectName(name);
        const bucket = authorizeWrite(request, bucketName, name);
        const acl = aclOf(request, bucket, resource);
        objects.checkPreconditions(objects.findLive(bucket, name), conditions);
        const uploadContentType = request.headers['x-upload-content-type'];
        if (resource.contentType === undefined && typeof uploadContentType === 'string') {
          resource.contentType = uploadContentType;
        }
        const declared = request.headers['x-upload-content-length'];
        const session: UploadSession = {
          id: randomToken(24),
          bucket,
          name,
          resource,
          conditions,
          received: 0,
          createTime: rfc3339(platform.clock.now()),
          member: request.principal.member,
          ...(acl === undefined ? {} : { acl }),
        };
        if (typeof declared === 'string' && /^\d+$/.test(declared)) {
          session.size = Number(declared);
        }
        await uploads.create(session.id);
        platform.store.put(SESSIONS, session.id, session);
        const location = `${baseUrl(request)}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${session.id}`;
        reply.header('location', location);
        reply.header('x-guploader-uploadid', session.id);
        return reply.code(200).send('');
      }
      throw new InvalidArgument(`Invalid uploadType: '${uploadType}'.`, { reason: 'invalid' });
    };

    // Resumable chunks and status queries.
    const resumablePut = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const id = stringParam(queryOf(request).upload_id);
      if (id === undefined) {
        throw new RequiredParameter('upload_id');
      }
      const session = getSession(id);
      if (session.member !== request.principal.member && request.principal.kind !== 'anonymous') {
        throw new ApiError(403, 'PERMISSION_DENIED', 'This upload session belongs to another caller.', {
          reason: 'forbidden',
        });
      }
      const range = parseContentRange(request.headers['content-range']);
      if (range?.total !== undefined) {
        if (session.size !== undefined && session.size !== range.total) {
          throw new InvalidArgument('The total size differs from the one declared earlier.', {
            reason: 'invalid',
          });
        }
        session.size = range.total;
      }
      if (range === undefined || range.first !== undefined) {
        // A chunk (or, without Content-Range, the whole object in one request).
        const first = range?.first ?? 0;
        if (first > session.received) {
          // A gap: tell the client what we have so it resends from there.
          return incomplete(reply, session);
        }
        if (range?.last !== undefined && session.size !== undefined && range.last >= session.size) {
          throw beyondSize(session.size);
        }
        const length = range?.last === undefined ? undefined : range.last - first + 1;
        // Drop bytes a failed or aborted earlier chunk may have left past what was acknowledged.
        await uploads.truncate(session.id, session.received);
        const appended = await uploads.append(session.id, request.raw, session.received - first, length);
        if (session.size !== undefined && session.received + appended > session.size) {
          await uploads.truncate(session.id, session.received);
          throw beyondSize(session.size);
        }
        session.received += appended;
        if (range === undefined || (range.rest === true && range.total === undefined)) {
          session.size = session.received;
        }
      }
      if (session.size !== undefined && session.received === session.size) {
        return finishSession(request, session);
      }
      platform.store.put(SESSIONS, session.id, session);
      return incomplete(reply, session);
    };

    const cancel = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const id = stringParam(queryOf(request).upload_id);
      if (id === undefined) {
        throw new RequiredParameter('upload_id');
      }
      getSession(id);
      platform.store.delete(SESSIONS, id);
      await uploads.remove(id);
      // Google answers a cancelled session with 499 Client Closed Request.
      return reply.code(499).send('');
    };

    // gcloud and gsutil send resumable uploads to /resumable/upload/...; other clients to /upload/...
    // Uploads accept cross-origin requests; the bucket's CORS configuration applies (cors.ts).
    const cors = objectCorsOptions(buckets);
    const paths = ['/upload/storage/v1/b/:bucket/o', '/resumable/upload/storage/v1/b/:bucket/o'];
    for (const path of paths) {
      upload.post(path, cors, insert);
      upload.put(path, cors, resumablePut);
      upload.delete(path, cors, cancel);
    }
    registerCorsPreflight(upload, buckets, paths);
  });
}
