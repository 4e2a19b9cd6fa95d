import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { InvalidArgument } from '../../core/errors.ts';
import { baseUrl, intParam, paramsOf, parseBody, queryOf } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { BucketPolicyFields } from './bucket-policies.ts';
import { CorsSchema } from './cors.ts';
import type { ObjectsService } from './objects.ts';
import { presentBucket } from './presenters.ts';
import { syncPublicAccessPolicy } from './public-access.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService, Preconditions } from './service.ts';
import { bucketContext } from './access-context.ts';

const Toggle = Type.Object(
  { enabled: Type.Optional(Type.Boolean()), lockedTime: Type.Optional(Type.String()) },
  { additionalProperties: true },
);

/**
 * The whole bucket resource as a client sends it to buckets.update: the writable fields are
 * typed; output-only fields a client echoes back from a read (and fields Nimbus does not model)
 * are accepted and ignored.
 */
const UpdateBucketBody = Type.Object(
  {
    name: Type.Optional(Type.String()),
    storageClass: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    versioning: Type.Optional(Type.Object({ enabled: Type.Optional(Type.Boolean()) })),
    iamConfiguration: Type.Optional(
      Type.Object(
        {
          uniformBucketLevelAccess: Type.Optional(Toggle),
          bucketPolicyOnly: Type.Optional(Toggle),
          publicAccessPrevention: Type.Optional(Type.String()),
        },
        { additionalProperties: true },
      ),
    ),
    cors: Type.Optional(CorsSchema),
    ...BucketPolicyFields,
  },
  { additionalProperties: true },
);

function preconditionsOf(request: FastifyRequest): Preconditions {
  const query = queryOf(request);
  return {
    ifMetagenerationMatch: intParam(query.ifMetagenerationMatch, 'ifMetagenerationMatch'),
    ifMetagenerationNotMatch: intParam(query.ifMetagenerationNotMatch, 'ifMetagenerationNotMatch'),
  };
}

/**
 * storage.buckets.update (`PUT /b/BUCKET`): sets the bucket's whole writable metadata; labels, CORS,
 * lifecycle, retention policy and the default event-based hold that the body omits are cleared (a
 * locked retention policy stays). Location and uniform bucket-level access are kept unless sent.
 */
export function registerBucketUpdateRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
  objects: ObjectsService,
): void {
  for (const prefix of ['/storage/v1', '']) {
    app.put(`${prefix}/b/:bucket`, async (request) => {
      const current = buckets.getBucket(paramsOf(request).bucket ?? '');
      platform.access.authorize(
        request.principal,
        'storage.buckets.update',
        bucketResource(current),
        bucketContext(current.name),
      );
      const body = parseBody(UpdateBucketBody, request.body, false);
      if (body.name !== undefined && body.name !== current.name) {
        throw new InvalidArgument('The bucket name in the body does not match the one in the path.', {
          reason: 'invalid',
        });
      }
      const labels: Record<string, string | null> = Object.fromEntries(
        Object.keys(current.labels).map((key) => [key, null]),
      );
      const iam = body.iamConfiguration;
      const locked = current.retentionPolicy?.isLocked === true;
      const bucket = buckets.patchBucket(
        current.name,
        {
          labels: { ...labels, ...body.labels },
          versioningEnabled:
            body.versioning?.enabled ?? (current.versioningEnabled === undefined ? undefined : false),
          storageClass: body.storageClass,
          uniformBucketLevelAccess: iam?.uniformBucketLevelAccess?.enabled ?? iam?.bucketPolicyOnly?.enabled,
          publicAccessPrevention: iam?.publicAccessPrevention,
          cors: body.cors ?? null,
          lifecycle: body.lifecycle ?? null,
          retentionPolicy: body.retentionPolicy ?? (locked ? undefined : null),
          defaultEventBasedHold: body.defaultEventBasedHold ?? null,
        },
        preconditionsOf(request),
      );
      objects.refreshRetention(bucket);
      syncPublicAccessPolicy(platform, bucket);
      return presentBucket(bucket, baseUrl(request));
    });
  }
}
