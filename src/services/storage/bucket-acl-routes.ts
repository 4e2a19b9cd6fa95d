import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { InvalidArgument } from '../../core/errors.ts';
import { baseUrl, paramsOf, parseBody } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { checkEntity } from './acl.ts';
import {
  BucketAclStore,
  checkBucketAclRole,
  checkBucketAclsAllowed,
  presentBucketAclEntry,
  type BucketAclKind,
} from './bucket-acl.ts';
import { refusePublicEntities } from './public-access.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import type { BucketRecord } from './store.ts';
import { bucketContext } from './access-context.ts';

/** An access control as clients send it (output-only fields they echo back are accepted). */
const AclBody = Type.Object(
  { entity: Type.Optional(Type.String()), role: Type.Optional(Type.String()) },
  { additionalProperties: true },
);

/**
 * storage.bucketAccessControls.* (`/b/B/acl[/ENTITY]`) and storage.defaultObjectAccessControls.*
 * (`/b/B/defaultObjectAcl[/ENTITY]`), under `/storage/v1` and at the root.
 */
export function registerBucketAclRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
): void {
  const acls = new BucketAclStore(platform.store);

  const load = (request: FastifyRequest, kind: BucketAclKind, write: boolean): BucketRecord => {
    const bucket = buckets.getBucket(paramsOf(request).bucket ?? '');
    platform.access.authorize(
      request.principal,
      write ? 'storage.buckets.setIamPolicy' : 'storage.buckets.getIamPolicy',
      bucketResource(bucket),
      bucketContext(bucket.name),
    );
    checkBucketAclsAllowed(
      bucket,
      kind,
      request.method === 'GET' ? 'get' : request.method === 'POST' ? 'insert' : 'update',
    );
    return bucket;
  };

  const sameEntity = (body: { entity?: string }, entity: string): void => {
    if (body.entity !== undefined && checkEntity(body.entity) !== entity) {
      throw new InvalidArgument('The entity in the body does not match the one in the path.', {
        reason: 'invalid',
      });
    }
  };

  for (const prefix of ['/storage/v1', '']) {
    for (const [kind, segment, listKind] of [
      ['bucket', 'acl', 'storage#bucketAccessControls'],
      ['defaultObject', 'defaultObjectAcl', 'storage#objectAccessControls'],
    ] as const) {
      const collection = `${prefix}/b/:bucket/${segment}`;
      const member = `${collection}/:entity`;

      // storage.{bucket,defaultObject}AccessControls.list
      app.get(collection, async (request) => {
        const bucket = load(request, kind, false);
        const { entries, version } = acls.list(kind, bucket);
        const base = baseUrl(request);
        return {
          kind: listKind,
          items: entries.map((entry) => presentBucketAclEntry(kind, base, bucket, entry, version)),
        };
      });

      // storage.{bucket,defaultObject}AccessControls.insert (an existing entity gets the new role)
      app.post(collection, async (request) => {
        const bucket = load(request, kind, true);
        const body = parseBody(AclBody, request.body, false);
        const entry = { entity: checkEntity(body.entity), role: checkBucketAclRole(kind, body.role) };
        refusePublicEntities(bucket, [entry.entity]);
        const version = acls.set(kind, bucket, entry, false);
        return presentBucketAclEntry(kind, baseUrl(request), bucket, entry, version);
      });

      // storage.{bucket,defaultObject}AccessControls.get
      app.get(member, async (request) => {
        const bucket = load(request, kind, false);
        const { entry, version } = acls.get(kind, bucket, checkEntity(paramsOf(request).entity));
        return presentBucketAclEntry(kind, baseUrl(request), bucket, entry, version);
      });

      // storage.{bucket,defaultObject}AccessControls.update / .patch
      for (const method of ['PUT', 'PATCH'] as const) {
        app.route({
          method,
          url: member,
          handler: async (request) => {
            const bucket = load(request, kind, true);
            const entity = checkEntity(paramsOf(request).entity);
            const body = parseBody(AclBody, request.body, false);
            sameEntity(body, entity);
            refusePublicEntities(bucket, [entity]);
            const entry = { entity, role: checkBucketAclRole(kind, body.role) };
            const version = acls.set(kind, bucket, entry, true);
            return presentBucketAclEntry(kind, baseUrl(request), bucket, entry, version);
          },
        });
      }

      // storage.{bucket,defaultObject}AccessControls.delete
      app.delete(member, async (request, reply) => {
        const bucket = load(request, kind, true);
        acls.remove(kind, bucket, checkEntity(paramsOf(request).entity));
        return reply.code(204).send();
      });
    }

    // storage.projects.serviceAccount.get: the project's Cloud Storage service agent.
    app.get(`${prefix}/projects/:project/serviceAccount`, async (request) => {
      const project = platform.projects.require(paramsOf(request).project ?? '');
      platform.access.authorize(
        request.principal,
        'resourcemanager.projects.get',
        `projects/${project.projectId}`,
      );
      return {
        kind: 'storage#serviceAccount',
        email_address: `service-${project.projectNumber}@gs-project-accounts.iam.gserviceaccount.com`,
      };
    });
  }
}
