import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BindingSchema } from '../../core/schemas.ts';
import type { Policy } from '../../core/auth.ts';
import { InvalidArgument } from '../../core/errors.ts';
import { intParam, paramsOf, parseBody, queryOf } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { RequiredParameter } from './errors.ts';
import { bucketPolicyResource, refusePublicBindings, syncPublicAccessPolicy } from './public-access.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import type { BucketRecord } from './store.ts';
import { bucketContext } from './access-context.ts';

/** storage#policy as PUT by clients (output-only fields a client echoes back are accepted). */
const BucketPolicyBody = Type.Object(
  {
    kind: Type.Optional(Type.String()),
    resourceId: Type.Optional(Type.String()),
    version: Type.Optional(Type.Integer()),
    etag: Type.Optional(Type.String()),
    bindings: Type.Optional(Type.Array(BindingSchema)),
  },
  { additionalProperties: false },
);

/** A bucket's IAM policy as the JSON API prints it (storage#policy). */
export function presentBucketPolicy(bucket: BucketRecord, policy: Policy): Record<string, unknown> {
  return {
    kind: 'storage#policy',
    resourceId: `projects/_/buckets/${bucket.name}`,
    version: policy.version ?? 1,
    etag: policy.etag,
    bindings: policy.bindings ?? [],
  };
}

/** Repeated query parameters arrive as an array, a single one as a string. */
function repeatedParam(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.filter((item): item is string => typeof item === 'string' && item !== '');
  }
  return typeof value === 'string' && value !== '' ? [value] : [];
}

/**
 * storage.buckets.{getIamPolicy,setIamPolicy,testIamPermissions}. Bucket policies live in the
 * platform's policy registry under `projects/P/buckets/B`, the resource every bucket and object
 * call authorizes against, so their bindings (including `allUsers`) take effect at once.
 */
export function registerBucketIamRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
): void {
  const load = (request: FastifyRequest, permission: string): BucketRecord => {
    const bucket = buckets.getBucket(paramsOf(request).bucket ?? '');
    platform.access.authorize(
      request.principal,
      permission,
      bucketResource(bucket),
      bucketContext(bucket.name),
    );
    return bucket;
  };

  for (const prefix of ['/storage/v1', '']) {
    // storage.buckets.getIamPolicy
    app.get(`${prefix}/b/:bucket/iam`, async (request) => {
      const bucket = load(request, 'storage.buckets.getIamPolicy');
      const version = intParam(
        queryOf(request).optionsRequestedPolicyVersion,
        'optionsRequestedPolicyVersion',
      );
      return presentBucketPolicy(bucket, platform.policies.readPolicy(bucketPolicyResource(bucket), version));
    });

    // storage.buckets.setIamPolicy
    app.put(`${prefix}/b/:bucket/iam`, async (request) => {
      const bucket = load(request, 'storage.buckets.setIamPolicy');
      const body = parseBody(BucketPolicyBody, request.body, false);
      refusePublicBindings(bucket, body.bindings ?? []);
      if (
        !bucket.uniformBucketLevelAccess.enabled &&
        (body.bindings ?? []).some((b) => b.condition !== undefined)
      ) {
        // Google: conditions on a bucket policy need uniform bucket-level access.
        throw new InvalidArgument(
          'IAM conditions are only supported on buckets with uniform bucket-level access enabled.',
          { reason: 'invalid' },
        );
      }
      const policy = platform.policies.setPolicy(bucketPolicyResource(bucket), {
        bindings: body.bindings ?? [],
        ...(body.etag === undefined ? {} : { etag: body.etag }),
        ...(body.version === undefined ? {} : { version: body.version }),
      });
      syncPublicAccessPolicy(platform, bucket);
      return presentBucketPolicy(bucket, policy);
    });

    // storage.buckets.testIamPermissions
    app.get(`${prefix}/b/:bucket/iam/testPermissions`, async (request) => {
      const permissions = repeatedParam(queryOf(request).permissions);
      if (permissions.length === 0) {
        throw new RequiredParameter('permissions');
      }
      const bucket = buckets.getBucket(paramsOf(request).bucket ?? '');
      const held = platform.access.permitted(
        request.principal,
        permissions,
        bucketResource(bucket),
        bucketContext(bucket.name),
      );
      const out: Record<string, unknown> = { kind: 'storage#testIamPermissionsResponse' };
      if (held.length > 0) {
        out.permissions = held;
      }
      return out;
    });
  }
}
