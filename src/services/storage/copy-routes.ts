import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ConditionNotMet, InvalidArgument } from '../../core/errors.ts';
import {
  baseUrl,
  intParam,
  paramsOf,
  parseBody,
  queryOf,
  stringParam,
  unknownMethod,
} from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import type { ObjectRecord } from './object-store.ts';
import {
  metadataInputOf,
  ObjectResource,
  preconditionsOf,
  type ObjectResourceBody,
} from './object-routes.ts';
import type { ObjectMetadataInput, ObjectPreconditions, ObjectsService } from './objects.ts';
import { presentObject } from './presenters.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import type { BucketRecord } from './store.ts';
import { objectAclDispatcher } from './acl-routes.ts';
import { objectContext } from './access-context.ts';

/** Google's limits on compose: 32 sources per request, 1024 components per composite object. */
export const MAX_COMPOSE_SOURCES = 32;
export const MAX_COMPONENT_COUNT = 1024;
/** `maxBytesRewrittenPerCall` must be a multiple of this (Google's documented rule). */
export const REWRITE_CHUNK_UNIT = 1024 * 1024;

const Int64 = Type.Union([Type.String({ pattern: '^-?\\d+$' }), Type.Integer()]);

/** storage#composeRequest */
const ComposeRequest = Type.Object(
  {
    kind: Type.Optional(Type.String()),
    sourceObjects: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String(),
            generation: Type.Optional(Int64),
            objectPreconditions: Type.Optional(
              Type.Object({ ifGenerationMatch: Type.Optional(Int64) }, { additionalProperties: false }),
            ),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    destination: Type.Optional(ObjectResource),
  },
  { additionalProperties: false },
);

/** Progress of a multi-call rewrite, carried by the client as `rewriteToken`. */
interface RewriteProgress {
  sourceBucket: string;
  sourceName: string;
  sourceGeneration: string;
  destinationBucket: string;
  destinationName: string;
  maxBytesPerCall: number;
  bytesRewritten: number;
}

export function encodeRewriteToken(progress: RewriteProgress): string {
  return Buffer.from(JSON.stringify({ v: 1, ...progress }), 'utf8').toString('base64url');
}

function invalidRewriteToken(): InvalidArgument {
  return new InvalidArgument('The rewrite token is invalid.', { reason: 'invalid' });
}

export function decodeRewriteToken(token: string): RewriteProgress {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalidRewriteToken();
  }
  const value = parsed as Partial<RewriteProgress> & { v?: unknown };
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    value.v !== 1 ||
    typeof value.sourceBucket !== 'string' ||
    typeof value.sourceName !== 'string' ||
    typeof value.sourceGeneration !== 'string' ||
    typeof value.destinationBucket !== 'string' ||
    typeof value.destinationName !== 'string' ||
    typeof value.maxBytesPerCall !== 'number' ||
    typeof value.bytesRewritten !== 'number'
  ) {
    throw invalidRewriteToken();
  }
  return {
    sourceBucket: value.sourceBucket,
    sourceName: value.sourceName,
    sourceGeneration: value.sourceGeneration,
    destinationBucket: value.destinationBucket,
    destinationName: value.destinationName,
    maxBytesPerCall: value.maxBytesPerCall,
    bytesRewritten: value.bytesRewritten,
  };
}

function decodeName(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidArgument(`The ${what} is not valid percent-encoded UTF-8.`, { reason: 'invalid' });
  }
}

type PostTarget =
  | { kind: 'copyTo' | 'rewriteTo'; sourceName: string; destinationBucket: string; destinationName: string }
  | { kind: 'compose'; name: string };

/**
 * What a `POST .../b/B/o/...` names, from the raw URL (names are percent-encoded, so a literal
 * `/copyTo/b/` or a trailing `/compose` can only be the method).
 */
export function postTargetOf(request: FastifyRequest): PostTarget {
  const path = request.url.split('?')[0] ?? '';
  const at = path.indexOf('/o/', path.indexOf('/b/') + 3);
  const rest = at < 0 ? '' : path.slice(at + 3);
  const copy = /^(.+?)\/(copyTo|rewriteTo)\/b\/([^/]+)\/o\/(.+)$/.exec(rest);
  if (copy !== null) {
    const [, source = '', kind = '', bucket = '', destination = ''] = copy;
    return {
      kind: kind === 'copyTo' ? 'copyTo' : 'rewriteTo',
      sourceName: decodeName(source, 'source object name'),
      destinationBucket: decodeName(bucket, 'destination bucket name'),
      destinationName: decodeName(destination, 'destination object name'),
    };
  }
  if (rest.endsWith('/compose') && rest.length > '/compose'.length) {
    return { kind: 'compose', name: decodeName(rest.slice(0, -'/compose'.length), 'object name') };
  }
  throw unknownMethod(undefined, path);
}

/** `ifSourceGenerationMatch`... as preconditions on the source object. */
function sourcePreconditionsOf(request: FastifyRequest): ObjectPreconditions {
  const query = queryOf(request);
  const read = (name: string): number | undefined => intParam(query[`ifSource${name}`], `ifSource${name}`);
  return {
    ifGenerationMatch: read('GenerationMatch'),
    ifGenerationNotMatch: read('GenerationNotMatch'),
    ifMetagenerationMatch: read('MetagenerationMatch'),
    ifMetagenerationNotMatch: read('MetagenerationNotMatch'),
  };
}

const COPIED_FIELDS = [
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'customTime',
] as const;

/**
 * The destination's metadata for copy and rewrite: the source's, with each field the request body
 * sets overriding it. Holds and the storage class are not copied (the destination bucket's default
 * class applies unless the body names one).
 */
export function copiedMetadata(source: ObjectRecord, body: ObjectResourceBody): ObjectMetadataInput {
  const out: ObjectMetadataInput = {};
  for (const field of COPIED_FIELDS) {
    out[field] = source[field];
  }
  if (source.metadata !== undefined) {
    out.metadata = { ...source.metadata };
  }
  const overrides = metadataInputOf(body);
  for (const [field, value] of Object.entries(overrides) as [keyof ObjectMetadataInput, unknown][]) {
    if (value !== undefined) {
      (out as Record<string, unknown>)[field] = value;
    }
  }
  return out;
}

function generationOf(value: string | number | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

/** storage.objects.copy, storage.objects.rewrite and storage.objects.compose. */
export function registerCopyRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
  objects: ObjectsService,
): void {
  const acl = objectAclDispatcher(platform, buckets, objects);
  /** Checks create (and delete when an object would be replaced) on the destination bucket. */
  const authorizeWrite = (request: FastifyRequest, bucket: BucketRecord, name: string): void => {
    const resource = bucketResource(bucket);
    const context = objectContext(bucket.name, name);
    platform.access.authorize(request.principal, 'storage.objects.create', resource, context);
    if (objects.exists(bucket.name, name)) {
      platform.access.authorize(request.principal, 'storage.objects.delete', resource, context);
    }
  };

  const authorizeRead = (request: FastifyRequest, bucket: BucketRecord, name: string): void => {
    platform.access.authorize(
      request.principal,
      'storage.objects.get',
      bucketResource(bucket),
      objectContext(bucket.name, name),
    );
  };

  const copyOrRewrite = async (
    request: FastifyRequest,
    target: Extract<PostTarget, { kind: 'copyTo' | 'rewriteTo' }>,
  ): Promise<Record<string, unknown>> => {
    const query = queryOf(request);
    const sourceBucket = buckets.getBucket(paramsOf(request).bucket ?? '');
    authorizeRead(request, sourceBucket, target.sourceName);
    const destinationBucket = buckets.getBucket(target.destinationBucket);
    authorizeWrite(request, destinationBucket, target.destinationName);
    const body = parseBody(ObjectResource, request.body);
    const destinationConditions = preconditionsOf(request);

    let progress: RewriteProgress | undefined;
    let maxBytesPerCall: number | undefined;
    if (target.kind === 'rewriteTo') {
      maxBytesPerCall = intParam(query.maxBytesRewrittenPerCall, 'maxBytesRewrittenPerCall');
      if (
        maxBytesPerCall !== undefined &&
        (maxBytesPerCall <= 0 || maxBytesPerCall % REWRITE_CHUNK_UNIT !== 0)
      ) {
        throw new InvalidArgument(
          `maxBytesRewrittenPerCall must be a positive integral multiple of ${REWRITE_CHUNK_UNIT}.`,
          { reason: 'invalid' },
        );
      }
      const token = stringParam(query.rewriteToken);
      if (token !== undefined) {
        progress = decodeRewriteToken(token);
        if (
          progress.sourceBucket !== sourceBucket.name ||
          progress.sourceName !== target.sourceName ||
          progress.destinationBucket !== destinationBucket.name ||
          progress.destinationName !== target.destinationName ||
          progress.maxBytesPerCall !== (maxBytesPerCall ?? 0)
        ) {
          throw invalidRewriteToken();
        }
      }
    }

    // A rewrite in progress stays on the generation it started from.
    const sourceGeneration = progress?.sourceGeneration ?? stringParam(query.sourceGeneration);
    const source = objects.getObject(sourceBucket.name, target.sourceName, sourceGeneration);
    objects.checkPreconditions(source, sourcePreconditionsOf(request));

    if (target.kind === 'rewriteTo') {
      const rewritten = (progress?.bytesRewritten ?? 0) + (maxBytesPerCall ?? source.size);
      if (rewritten < source.size) {
        // Not done: nothing is visible at the destination yet, but its preconditions must still hold.
        objects.checkPreconditions(
          objects.findLive(destinationBucket.name, target.destinationName),
          destinationConditions,
        );
        return {
          kind: 'storage#rewriteResponse',
          totalBytesRewritten: String(rewritten),
          objectSize: String(source.size),
          done: false,
          rewriteToken: encodeRewriteToken({
            sourceBucket: sourceBucket.name,
            sourceName: source.name,
            sourceGeneration: source.generation,
            destinationBucket: destinationBucket.name,
            destinationName: target.destinationName,
            maxBytesPerCall: maxBytesPerCall ?? 0,
            bytesRewritten: rewritten,
          }),
        };
      }
    }

    const record = await objects.writeFromObjects({
      bucket: destinationBucket.name,
      name: target.destinationName,
      sources: [source],
      metadata: copiedMetadata(source, body),
      conditions: destinationConditions,
      componentCount: source.componentCount,
    });
    const resource = presentObject(record, baseUrl(request));
    if (target.kind === 'copyTo') {
      return resource;
    }
    return {
      kind: 'storage#rewriteResponse',
      totalBytesRewritten: String(record.size),
      objectSize: String(record.size),
      done: true,
      resource,
    };
  };

  const compose = async (request: FastifyRequest, name: string): Promise<Record<string, unknown>> => {
    const bucket = buckets.getBucket(paramsOf(request).bucket ?? '');
    authorizeWrite(request, bucket, name);
    const body = parseBody(ComposeRequest, request.body, false);
    const requested = body.sourceObjects ?? [];
    for (const item of requested) {
      authorizeRead(request, bucket, item.name);
    }
    if (requested.length === 0) {
      throw new InvalidArgument('You must provide at least one source component.', { reason: 'required' });
    }
    if (requested.length > MAX_COMPOSE_SOURCES) {
      throw new InvalidArgument(
        `The number of source components provided (${requested.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`,
        { reason: 'invalid' },
      );
    }
    const sources = requested.map((item) => {
      const source = objects.getObject(bucket.name, item.name, generationOf(item.generation));
      const expected = generationOf(item.objectPreconditions?.ifGenerationMatch);
      if (expected !== undefined && expected !== source.generation) {
        throw new ConditionNotMet(
          `At least one of the pre-conditions you specified did not hold. (ifGenerationMatch of source '${item.name}')`,
        );
      }
      return source;
    });
    const componentCount = sources.reduce((sum, source) => sum + (source.componentCount ?? 1), 0);
    if (componentCount > MAX_COMPONENT_COUNT) {
      throw new InvalidArgument(
        `The composite object would have ${componentCount} components, more than the maximum (${MAX_COMPONENT_COUNT}).`,
        { reason: 'invalid' },
      );
    }
    const destination: ObjectResourceBody = body.destination ?? {};
    const record = await objects.writeFromObjects({
      bucket: bucket.name,
      name,
      sources,
      metadata: metadataInputOf(destination),
      conditions: preconditionsOf(request),
      componentCount,
    });
    return presentObject(record, baseUrl(request));
  };

  for (const prefix of ['/storage/v1', '']) {
    // storage.objects.copy (copyTo), storage.objects.rewrite (rewriteTo), storage.objects.compose
    // (and storage.objectAccessControls.insert on `.../o/NAME/acl`, acl-routes.ts)
    app.post(`${prefix}/b/:bucket/o/*`, async (request, reply) => {
      const aclReply = acl(request, reply);
      if (aclReply !== undefined) {
        return aclReply;
      }
      const target = postTargetOf(request);
      return target.kind === 'compose' ? compose(request, target.name) : copyOrRewrite(request, target);
    });
  }
}
