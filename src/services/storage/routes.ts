import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { baseUrl, intParam, paramsOf, parseBody, queryOf, stringParam } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { RequiredParameter } from './errors.ts';
import { presentBucket, presentBucketList } from './presenters.ts';
import type { ObjectsService } from './objects.ts';
import type { BucketsService, Preconditions } from './service.ts';
import type { BucketRecord } from './store.ts';
import { BucketPolicyFields, BucketPolicyPatchFields, bucketPolicyInputOf } from './bucket-policies.ts';
import { CorsSchema } from './cors.ts';
import { bucketAccessResource, bucketPolicyResource, syncPublicAccessPolicy } from './public-access.ts';
import { bucketContext } from './access-context.ts';

const Toggle = Type.Object(
  { enabled: Type.Optional(Type.Boolean()), lockedTime: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
const IamConfiguration = Type.Object(
  {
    uniformBucketLevelAccess: Type.Optional(Toggle),
    bucketPolicyOnly: Type.Optional(Toggle),
    publicAccessPrevention: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const Versioning = Type.Object({ enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

/** Fields the API prints; a client may send a bucket it read back, so they are accepted and ignored. */
const OutputOnly = {
  kind: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  selfLink: Type.Optional(Type.String()),
  projectNumber: Type.Optional(Type.String()),
  metageneration: Type.Optional(Type.String()),
  etag: Type.Optional(Type.String()),
  timeCreated: Type.Optional(Type.String()),
  updated: Type.Optional(Type.String()),
  locationType: Type.Optional(Type.String()),
};

/** The Bucket resource fields this slice supports (storage#bucket). */
const InsertBucketBody = Type.Object(
  {
    ...OutputOnly,
    name: Type.String(),
    location: Type.Optional(Type.String()),
    storageClass: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    versioning: Type.Optional(Versioning),
    iamConfiguration: Type.Optional(IamConfiguration),
    cors: Type.Optional(CorsSchema),
    ...BucketPolicyFields,
  },
  { additionalProperties: false },
);

const PatchBucketBody = Type.Object(
  {
    ...OutputOnly,
    name: Type.Optional(Type.String()),
    location: Type.Optional(Type.String()),
    storageClass: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]))),
    versioning: Type.Optional(Versioning),
    iamConfiguration: Type.Optional(IamConfiguration),
    cors: Type.Optional(Type.Union([CorsSchema, Type.Null()])),
    ...BucketPolicyPatchFields,
  },
  { additionalProperties: false },
);

/**
 * What `storage.buckets.*` and `storage.objects.*` are checked on: the bucket, so project and bucket
 * policies apply (public bindings excepted while public access prevention is enforced; the bucket's
 * policy itself lives at `bucketPolicyResource`).
 */
export function bucketResource(bucket: BucketRecord): string {
  return bucketAccessResource(bucket);
}

function uniformAccessOf(body: { iamConfiguration?: Static<typeof IamConfiguration> }): boolean | undefined {
  const config = body.iamConfiguration;
  return config?.uniformBucketLevelAccess?.enabled ?? config?.bucketPolicyOnly?.enabled;
}

function preconditionsOf(request: FastifyRequest): Preconditions {
  const query = queryOf(request);
  return {
    ifMetagenerationMatch: intParam(query.ifMetagenerationMatch, 'ifMetagenerationMatch'),
    ifMetagenerationNotMatch: intParam(query.ifMetagenerationNotMatch, 'ifMetagenerationNotMatch'),
  };
}

/**
 * storage.googleapis.com JSON API v1 buckets, under `/storage/v1` and at the root (the Node client
 * drops the prefix when STORAGE_EMULATOR_HOST is set).
 */
export function registerStorageRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
  objects: ObjectsService,
): void {
  const projectOf = (request: FastifyRequest) => {
    const project = stringParam(queryOf(request).project);
    if (project === undefined) {
      throw new RequiredParameter('project');
    }
    return platform.projects.require(project);
  };

  /** The bucket, after checking `permission` on it (a missing bucket is 404 for anyone, as on Google). */
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
    // storage.buckets.insert
    app.post(`${prefix}/b`, async (request) => {
      const project = projectOf(request);
      platform.access.authorize(request.principal, 'storage.buckets.create', `projects/${project.projectId}`);
      const body = parseBody(InsertBucketBody, request.body, false);
      const bucket = buckets.insertBucket(
        {
          name: body.name,
          project,
          location: body.location,
          storageClass: body.storageClass,
          labels: body.labels,
          versioningEnabled: body.versioning?.enabled,
          uniformBucketLevelAccess: uniformAccessOf(body),
          publicAccessPrevention: body.iamConfiguration?.publicAccessPrevention,
          cors: body.cors,
          ...bucketPolicyInputOf(body),
        },
        (existing) =>
          platform.access.permitted(request.principal, ['storage.buckets.get'], bucketResource(existing))
            .length > 0,
      );
      return presentBucket(bucket, baseUrl(request));
    });

    // storage.buckets.list
    app.get(`${prefix}/b`, async (request) => {
      const project = projectOf(request);
      platform.access.authorize(request.principal, 'storage.buckets.list', `projects/${project.projectId}`);
      const query = queryOf(request);
      const page = buckets.listBuckets(project.projectId, {
        maxResults: intParam(query.maxResults, 'maxResults'),
        pageToken: stringParam(query.pageToken),
        prefix: stringParam(query.prefix),
      });
      return presentBucketList(page.items, page.nextPageToken, baseUrl(request));
    });

    // storage.buckets.get
    app.get(`${prefix}/b/:bucket`, async (request, reply) => {
      load(request, 'storage.buckets.get');
      const { ifMetagenerationMatch, ifMetagenerationNotMatch } = preconditionsOf(request);
      const bucket = buckets.getBucket(paramsOf(request).bucket ?? '', { ifMetagenerationMatch });
      if (ifMetagenerationNotMatch !== undefined && bucket.metageneration === ifMetagenerationNotMatch) {
        // Google answers a GET whose *NotMatch precondition fails with 304, not 412.
        return reply.code(304).send();
      }
      return presentBucket(bucket, baseUrl(request));
    });

    // storage.buckets.getStorageLayout (gcloud storage mv/rm ask for it)
    app.get(`${prefix}/b/:bucket/storageLayout`, async (request) => {
      const bucket = load(request, 'storage.objects.list');
      return {
        kind: 'storage#storageLayout',
        bucket: bucket.name,
        location: bucket.location,
        locationType: bucket.locationType,
        hierarchicalNamespace: { enabled: false },
      };
    });

    // storage.buckets.patch
    app.patch(`${prefix}/b/:bucket`, async (request) => {
      const current = load(request, 'storage.buckets.update');
      const body = parseBody(PatchBucketBody, request.body);
      const bucket = buckets.patchBucket(
        current.name,
        {
          labels: body.labels,
          versioningEnabled: body.versioning?.enabled,
          storageClass: body.storageClass,
          uniformBucketLevelAccess: uniformAccessOf(body),
          publicAccessPrevention: body.iamConfiguration?.publicAccessPrevention,
          cors: body.cors,
          ...bucketPolicyInputOf(body),
        },
        preconditionsOf(request),
      );
      syncPublicAccessPolicy(platform, bucket);
      if (body.retentionPolicy !== undefined) {
        objects.refreshRetention(bucket);
      }
      return presentBucket(bucket, baseUrl(request));
    });

    // storage.buckets.delete
    app.delete(`${prefix}/b/:bucket`, async (request, reply) => {
      const current = load(request, 'storage.buckets.delete');
      buckets.deleteBucket(current.name, preconditionsOf(request), (name) => objects.objectCount(name));
      // A bucket created later under the same name must not inherit this one's IAM policy.
      platform.policies.dropPolicy(bucketPolicyResource(current));
      syncPublicAccessPolicy(platform, current, true);
      return reply.code(204).send();
    });
  }
}
