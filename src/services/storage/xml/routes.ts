import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../../core/errors.ts';
import type { Platform } from '../../../core/platform.ts';
import { matchCors } from '../cors.ts';
import type { HmacKeyResolver } from '../hmac-keys.ts';
import { XML_PREFIX } from './addressing.ts';
import { AwsChunkedDecoder } from './aws-chunked.ts';
import type { XmlAuthenticator, XmlAuthOutcome, XmlRequestInfo } from './auth.ts';
import {
  createBucket,
  deleteBucket,
  deleteBucketCors,
  deleteBucketLifecycle,
  getAcl,
  getBucketCors,
  getBucketLifecycle,
  getBucketLocation,
  getBucketStorageClass,
  getBucketTagging,
  getGoogleEmptyConfig,
  putBucketStorageClass,
  getBucketVersioning,
  headBucket,
  listBuckets,
  listObjects,
  listObjectVersions,
  putBucketCors,
  putBucketLifecycle,
  putBucketVersioning,
} from './bucket-handlers.ts';
import { awsChunked, header, type S3Call, type XmlFace } from './common.ts';
import { S3Error, s3ErrorOf } from './errors.ts';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
} from './multipart-handlers.ts';
import {
  copyObject,
  deleteObject,
  deleteObjects,
  deleteObjectTagging,
  getObject,
  getObjectTagging,
  putObject,
  putObjectTagging,
} from './object-handlers.ts';
import { handlePostPolicyUpload } from './post-policy.ts';
import { createSignedUrlAuthenticator, iamServiceAccountKeys } from './signed-urls.ts';
import { createHmacAuthenticator } from './sigv4.ts';
import { renderXml } from './xml.ts';

interface Target {
  bucket: string;
  key: string;
  rawPath: string;
  rawQuery: string;
}

/** Bucket and key of a rewritten URL (`/_s3/BUCKET/KEY?...`), plus the wire path and query. */
function targetOf(request: FastifyRequest): Target {
  const original = request.originalUrl;
  const originalQuery = original.indexOf('?');
  const url = request.url;
  const query = url.indexOf('?');
  const path = (query < 0 ? url : url.slice(0, query)).slice(XML_PREFIX.length).replace(/^\//, '');
  const slash = path.indexOf('/');
  const rawBucket = slash < 0 ? path : path.slice(0, slash);
  const rawKey = slash < 0 ? '' : path.slice(slash + 1);
  let bucket: string;
  let key: string;
  try {
    bucket = decodeURIComponent(rawBucket);
    key = decodeURIComponent(rawKey);
  } catch {
    throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
  }
  return {
    bucket,
    key,
    rawPath: originalQuery < 0 ? original : original.slice(0, originalQuery),
    rawQuery: originalQuery < 0 ? '' : original.slice(originalQuery + 1),
  };
}

/** Query parameters that carry a signature some authenticator must verify. */
const SIGNED_QUERY = [
  'x-amz-signature',
  'x-amz-credential',
  'x-goog-signature',
  'x-goog-credential',
  'signature',
  'googleaccessid',
  'awsaccesskeyid',
];

function renderError(reply: FastifyReply, request: FastifyRequest, error: S3Error): FastifyReply {
  let resource = '';
  try {
    resource = targetOf(request).rawPath;
  } catch {
    resource = '';
  }
  const body = renderXml(
    [
      'Error',
      [
        ['Code', error.code],
        ['Message', error.message],
        ...Object.entries(error.details).map(([name, value]): [string, string] => [name, value]),
        ['Resource', resource],
        ['RequestId', request.id],
      ],
    ],
    false,
  );
  return reply.code(error.status).type('application/xml').header('x-amz-request-id', request.id).send(body);
}

/** The S3 error for anything a handler (or a hook before it) threw; undefined for unexpected errors. */
function s3ErrorFor(error: unknown, request: FastifyRequest): S3Error | undefined {
  if (error instanceof S3Error) {
    return error;
  }
  let target: { bucket?: string; key?: string } = {};
  try {
    target = targetOf(request);
  } catch {
    target = {};
  }
  if (error instanceof ApiError) {
    return s3ErrorOf(error, target);
  }
  const fastify = error as FastifyError;
  if (fastify.statusCode !== undefined && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    return new S3Error(400, 'InvalidRequest', fastify.message);
  }
  if (fastify.code === 'ERR_STREAM_PREMATURE_CLOSE' || fastify.code === 'ECONNRESET') {
    return new S3Error(
      400,
      'IncompleteBody',
      'You did not provide the number of bytes specified by the Content-Length HTTP header.',
    );
  }
  return undefined;
}

/**
 * The Cloud Storage XML API (S3-compatible) over the same buckets and objects as the JSON API.
 * Requests arrive rewritten into XML_PREFIX (addressing.ts); every content type reaches the
 * handlers as a stream; errors are S3 XML bodies.
 */
export async function registerXmlRoutes(
  app: FastifyInstance,
  platform: Platform,
  face: XmlFace,
  hmacKeys: HmacKeyResolver,
): Promise<void> {
  const authenticators: XmlAuthenticator[] = [
    // Signed URLs first: they claim only GOOG4-RSA, V2 and the X-Amz-* spellings of GOOG4-*
    // algorithms, which SigV4 would refuse as an unknown algorithm.
    createSignedUrlAuthenticator(platform, hmacKeys),
    createHmacAuthenticator(platform, hmacKeys),
  ];

  const authenticate = async (
    request: FastifyRequest,
    info: XmlRequestInfo,
    query: URLSearchParams,
  ): Promise<XmlAuthOutcome> => {
    for (const authenticator of authenticators) {
      const outcome = await authenticator.authenticate(info);
      if (outcome !== undefined) {
        return outcome;
      }
    }
    const authorization = header(request.headers, 'authorization');
    if (authorization !== undefined) {
      if (/^Bearer\s/i.test(authorization)) {
        return { principal: platform.access.authenticate(authorization) };
      }
      throw new S3Error(
        403,
        'AccessDenied',
        'The Authorization header uses a scheme this server cannot verify.',
      );
    }
    for (const name of query.keys()) {
      if (SIGNED_QUERY.includes(name.toLowerCase())) {
        throw new S3Error(403, 'AccessDenied', 'The request signature cannot be verified.');
      }
    }
    const token = query.get('access_token');
    if (token !== null && token !== '') {
      return { principal: platform.access.authenticate(`Bearer ${token}`) };
    }
    return { principal: platform.anonymousPrincipal() };
  };

  const dispatch = async (call: S3Call): Promise<FastifyReply> => {
    const method = call.request.method;
    const has = (name: string): boolean => call.query.has(name);
    if (call.bucket === '') {
      if (method === 'GET' || method === 'HEAD') {
        return listBuckets(face, call);
      }
      throw methodNotAllowed(method);
    }
    if (call.key === '') {
      switch (method) {
        case 'HEAD':
          return headBucket(face, call);
        case 'GET':
          if (has('location')) {
            return getBucketLocation(face, call);
          }
          if (has('storageClass')) {
            return getBucketStorageClass(face, call);
          }
          if (has('defaultObjectAcl')) {
            return getAcl(face, call);
          }
          if (has('tagging')) {
            return getBucketTagging(face, call);
          }
          {
            // Google-only configurations Nimbus does not keep: the empty documents Cloud Storage
            // answers for a bucket without them (gsutil reads them back after mb and in ls -L).
            const empty = GOOGLE_EMPTY_CONFIGS.find((name) => has(name));
            if (empty !== undefined) {
              return getGoogleEmptyConfig(face, call, empty);
            }
          }
          if (has('versioning')) {
            return getBucketVersioning(face, call);
          }
          if (has('cors')) {
            return getBucketCors(face, call);
          }
          if (has('lifecycle')) {
            return getBucketLifecycle(face, call);
          }
          if (has('uploads')) {
            return listMultipartUploads(face, call);
          }
          if (has('versions')) {
            return listObjectVersions(face, call);
          }
          if (has('acl')) {
            return getAcl(face, call);
          }
          unsupported(call, BUCKET_SUBRESOURCES);
          return listObjects(face, call);
        case 'PUT':
          if (has('versioning')) {
            return putBucketVersioning(face, call);
          }
          if (has('storageClass')) {
            return putBucketStorageClass(face, call);
          }
          if (has('cors')) {
            return putBucketCors(face, call);
          }
          if (has('lifecycle')) {
            return putBucketLifecycle(face, call);
          }
          unsupported(call, [...BUCKET_SUBRESOURCES, 'acl']);
          return createBucket(face, call);
        case 'DELETE':
          if (has('cors')) {
            return deleteBucketCors(face, call);
          }
          if (has('lifecycle')) {
            return deleteBucketLifecycle(face, call);
          }
          unsupported(call, BUCKET_SUBRESOURCES);
          return deleteBucket(face, call);
        case 'POST':
          if (has('delete')) {
            return deleteObjects(face, call);
          }
          if (/^multipart\/form-data/i.test(header(call.request.headers, 'content-type') ?? '')) {
            // POST policy form upload (post-policy.ts verifies the form's own signature).
            return postPolicyUpload(call);
          }
          throw methodNotAllowed(method);
        default:
          throw methodNotAllowed(method);
      }
    }
    switch (method) {
      case 'GET':
        if (has('uploadId')) {
          return listParts(face, call);
        }
        if (has('tagging')) {
          return getObjectTagging(face, call);
        }
        if (has('acl')) {
          return getAcl(face, call);
        }
        unsupported(call, OBJECT_SUBRESOURCES);
        return getObject(face, call, false);
      case 'HEAD':
        return getObject(face, call, true);
      case 'PUT':
        if (has('uploadId') || has('partNumber')) {
          return uploadPart(face, call);
        }
        if (has('tagging')) {
          return putObjectTagging(face, call);
        }
        unsupported(call, [...OBJECT_SUBRESOURCES, 'acl']);
        if (
          header(call.request.headers, 'x-amz-copy-source') !== undefined ||
          header(call.request.headers, 'x-goog-copy-source') !== undefined
        ) {
          return copyObject(face, call);
        }
        return putObject(face, call);
      case 'DELETE':
        if (has('uploadId')) {
          return abortMultipartUpload(face, call);
        }
        if (has('tagging')) {
          return deleteObjectTagging(face, call);
        }
        return deleteObject(face, call);
      case 'POST':
        if (has('uploads')) {
          return createMultipartUpload(face, call);
        }
        if (has('uploadId')) {
          return completeMultipartUpload(face, call);
        }
        unsupported(call, ['restore', 'select']);
        throw methodNotAllowed(method);
      default:
        throw methodNotAllowed(method);
    }
  };

  const serviceAccountKeys = iamServiceAccountKeys(platform.store, platform.clock);
  const postPolicyUpload = async (call: S3Call): Promise<FastifyReply> => {
    const response = await handlePostPolicyUpload(
      {
        bucket: call.bucket,
        headers: call.request.headers,
        body: call.body,
        url: `${call.request.protocol}://${call.request.host}/${encodeURIComponent(call.bucket)}`,
      },
      {
        objects: face.objects,
        buckets: face.buckets,
        access: platform.access,
        clock: platform.clock,
        hmacKeys,
        serviceAccountKeys,
        anonymousPrincipal: () => platform.anonymousPrincipal(),
      },
    );
    return call.reply.code(response.status).headers(response.headers).send(response.body);
  };

  /** CORS preflight for browser uploads and downloads, answered from the bucket's `cors` rules. */
  const preflight = (call: S3Call): FastifyReply => {
    const origin = header(call.request.headers, 'origin');
    const method = header(call.request.headers, 'access-control-request-method');
    const rule =
      origin === undefined || method === undefined
        ? undefined
        : matchCors(face.buckets.findBucket(call.bucket), origin, method);
    if (origin === undefined || method === undefined || rule === undefined) {
      throw new S3Error(403, 'AccessForbidden', 'CORSResponse: This CORS request is not allowed.');
    }
    const reply = call.reply;
    reply.header('access-control-allow-origin', (rule.origin ?? []).includes('*') ? '*' : origin);
    reply.header('access-control-allow-methods', (rule.method ?? []).join(', '));
    const requested = header(call.request.headers, 'access-control-request-headers');
    if (requested !== undefined) {
      reply.header('access-control-allow-headers', requested);
    }
    if (rule.responseHeader !== undefined) {
      reply.header('access-control-expose-headers', rule.responseHeader.join(', '));
    }
    if (rule.maxAgeSeconds !== undefined) {
      reply.header('access-control-max-age', String(rule.maxAgeSeconds));
    }
    reply.header('vary', 'Origin');
    return reply.code(200).send();
  };

  await app.register(async (xml) => {
    // S3 clients send any Content-Type: bodies stay unread streams for the handlers.
    xml.removeAllContentTypeParsers();
    xml.addContentTypeParser('*', (_request, _payload, done) => {
      done(null);
    });
    xml.setErrorHandler((error: FastifyError, request, reply) => {
      const s3 = s3ErrorFor(error, request);
      if (s3 === undefined) {
        request.log.error({ err: error }, 'unexpected error');
        return renderError(
          reply,
          request,
          new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.'),
        );
      }
      if (s3.status >= 500) {
        request.log.error({ err: error }, 'server error');
      }
      return renderError(reply, request, s3);
    });

    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      reply.header('x-amz-request-id', request.id);
      const target = targetOf(request);
      const query = new URLSearchParams(target.rawQuery);
      const call: S3Call = {
        request,
        reply,
        bucket: target.bucket,
        key: target.key,
        query,
        principal: platform.anonymousPrincipal(),
        body: request.raw,
        bodyLength: undefined,
        bodyDecoded: false,
        metaPrefix: dialectOf(request),
      };
      if (request.method === 'OPTIONS') {
        return preflight(call);
      }
      const info: XmlRequestInfo = {
        method: request.method,
        rawPath: target.rawPath,
        rawQuery: target.rawQuery,
        headers: request.headers,
        ...(target.bucket === '' ? {} : { bucket: target.bucket }),
        ...(target.key === '' ? {} : { key: target.key }),
      };
      const outcome = await authenticate(request, info, query);
      call.principal = outcome.principal;
      if (outcome.decodeBody !== undefined) {
        call.body = outcome.decodeBody(request.raw);
        call.bodyLength = outcome.decodedLength;
        call.bodyDecoded = true;
      } else if (awsChunked(request.headers)) {
        const decoded = unsignedChunkedBody(request);
        call.body = decoded.body;
        call.bodyLength = decoded.length;
        call.bodyDecoded = true;
      } else {
        const length = header(request.headers, 'content-length');
        call.bodyLength = length !== undefined && /^\d{1,15}$/.test(length) ? Number(length) : undefined;
      }
      return dispatch(call);
    };

    for (const url of [XML_PREFIX, `${XML_PREFIX}/*`]) {
      xml.route({
        method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'PATCH'],
        url,
        exposeHeadRoute: false,
        // Authentication is the face's own (SigV4, signed URLs, bearer tokens): see `authenticate`.
        config: { public: true },
        handler,
      });
    }
  });
}

/** Sub-resources this face does not implement (answered 501 instead of being mistaken for data calls). */
const GOOGLE_EMPTY_CONFIGS = ['encryptionConfig', 'websiteConfig', 'billing', 'logging'];

const BUCKET_SUBRESOURCES = [
  'policy',
  'policyStatus',
  'encryption',
  'website',
  'logging',
  'notification',
  'replication',
  'requestPayment',
  'ownershipControls',
  'publicAccessBlock',
  'object-lock',
  'accelerate',
  'analytics',
  'inventory',
  'metrics',
  'intelligent-tiering',
  'tagging',
];
const OBJECT_SUBRESOURCES = ['retention', 'legal-hold', 'torrent', 'attributes', 'restore', 'select'];

function unsupported(call: S3Call, names: string[]): void {
  for (const name of names) {
    if (call.query.has(name)) {
      throw new S3Error(501, 'NotImplemented', `The ${name} sub-resource is not implemented by Nimbus.`);
    }
  }
}

/**
 * Decodes an aws-chunked body that carries no chunk signatures (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`,
 * or an unsigned client's framing), verifying its trailing checksum. Signed chunks need the request's
 * verified SigV4 signature (the HMAC authenticator decodes those).
 */
function unsignedChunkedBody(request: FastifyRequest): { body: S3Call['body']; length: number | undefined } {
  const sha = header(request.headers, 'x-amz-content-sha256') ?? '';
  if (/^STREAMING-(AWS4|GOOG4)-/.test(sha)) {
    throw new S3Error(403, 'AccessDenied', 'A signed aws-chunked body needs a verified request signature.');
  }
  const lengthText = header(request.headers, 'x-amz-decoded-content-length');
  const length = lengthText !== undefined && /^\d{1,15}$/.test(lengthText) ? Number(lengthText) : undefined;
  const trailer = header(request.headers, 'x-amz-trailer');
  const decoder = new AwsChunkedDecoder({
    trailer: trailer !== undefined,
    ...(length === undefined ? {} : { decodedLength: length }),
    ...(trailer === undefined ? {} : { announcedTrailer: trailer }),
  });
  request.raw.on('error', (error) => decoder.destroy(error));
  return { body: request.raw.pipe(decoder), length };
}

function methodNotAllowed(method: string): S3Error {
  return new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {
    Method: method,
  });
}

/** Google's XML clients send x-goog-* headers or GOOG/Bearer credentials; everything else is S3. */
function dialectOf(request: FastifyRequest): S3Call['metaPrefix'] {
  const authorization = header(request.headers, 'authorization') ?? '';
  if (/^(GOOG1|GOOG4|Bearer)/i.test(authorization)) {
    return 'x-goog-meta-';
  }
  return Object.keys(request.headers).some((name) => name.startsWith('x-goog-'))
    ? 'x-goog-meta-'
    : 'x-amz-meta-';
}
