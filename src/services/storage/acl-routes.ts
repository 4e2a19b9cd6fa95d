import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { InvalidArgument } from '../../core/errors.ts';
import { baseUrl, paramsOf, parseBody, queryOf, stringParam } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { AclStore, checkAclsAllowed, checkEntity, checkRole, presentAclEntry } from './acl.ts';
import type { ObjectsService } from './objects.ts';
import { refusePublicEntities } from './public-access.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import { objectContext } from './access-context.ts';

/** storage#objectAccessControl as sent by clients (output-only fields they echo back are accepted). */
const AclBody = Type.Object(
  { entity: Type.Optional(Type.String()), role: Type.Optional(Type.String()) },
  { additionalProperties: true },
);

/** `.../o/NAME/acl` or `.../o/NAME/acl/ENTITY` in the raw URL, or undefined for other object paths. */
export function aclTargetOf(request: FastifyRequest): { name: string; entity?: string } | undefined {
  const path = request.url.split('?')[0] ?? '';
  const at = path.indexOf('/o/', path.indexOf('/b/') + 3);
  if (at < 0) {
    return undefined;
  }
  const match = /^(.+)\/acl(?:\/([^/]+))?$/.exec(path.slice(at + 3));
  if (match === null) {
    return undefined;
  }
  const [, rawName = '', rawEntity] = match;
  try {
    const name = decodeURIComponent(rawName);
    return rawEntity === undefined ? { name } : { name, entity: decodeURIComponent(rawEntity) };
  } catch {
    throw new InvalidArgument('The object name is not valid percent-encoded UTF-8.', { reason: 'invalid' });
  }
}

export type AclDispatcher = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> | undefined;

/**
 * storage.objectAccessControls.{list,get,insert,update,patch,delete}. Their paths overlap the object
 * wildcard routes, so those handlers call this first: it answers `.../acl[/ENTITY]` paths and returns
 * undefined for any other.
 */
export function objectAclDispatcher(
  platform: Platform,
  buckets: BucketsService,
  objects: ObjectsService,
): AclDispatcher {
  const acls = new AclStore(platform.store);

  const handle = async (
    request: FastifyRequest,
    reply: FastifyReply,
    target: { name: string; entity?: string },
  ): Promise<unknown> => {
    const method = request.method;
    const write = method !== 'GET';
    const bucket = buckets.getBucket(paramsOf(request).bucket ?? '');
    platform.access.authorize(
      request.principal,
      write ? 'storage.objects.setIamPolicy' : 'storage.objects.getIamPolicy',
      bucketResource(bucket),
      objectContext(bucket.name, target.name),
    );
    checkAclsAllowed(bucket, method === 'GET' ? 'get' : method === 'POST' ? 'insert' : 'update');
    const record = objects.getObject(bucket.name, target.name, stringParam(queryOf(request).generation));
    const base = baseUrl(request);

    if (target.entity === undefined) {
      if (method === 'GET') {
        const { entries, version } = acls.list(record, bucket);
        return {
          kind: 'storage#objectAccessControls',
          items: entries.map((entry) => presentAclEntry(base, record, entry, version)),
        };
      }
      if (method === 'POST') {
        const body = parseBody(AclBody, request.body, false);
        const entry = { entity: checkEntity(body.entity), role: checkRole(body.role) };
        refusePublicEntities(bucket, [entry.entity]);
        const version = acls.set(record, bucket, entry);
        return presentAclEntry(base, record, entry, version);
      }
      return undefined;
    }

    const entity = checkEntity(target.entity);
    switch (method) {
      case 'GET': {
        const { entry, version } = acls.get(record, bucket, entity);
        return presentAclEntry(base, record, entry, version);
      }
      case 'PUT':
      case 'PATCH': {
        const body = parseBody(AclBody, request.body, false);
        if (body.entity !== undefined && checkEntity(body.entity) !== entity) {
          throw new InvalidArgument('The entity in the body does not match the one in the path.', {
            reason: 'invalid',
          });
        }
        acls.get(record, bucket, entity);
        refusePublicEntities(bucket, [entity]);
        const entry = { entity, role: checkRole(body.role) };
        const version = acls.set(record, bucket, entry);
        return presentAclEntry(base, record, entry, version);
      }
      case 'DELETE':
        acls.remove(record, bucket, entity);
        return reply.code(204).send();
      default:
        return undefined;
    }
  };

  return (request, reply) => {
    const target = aclTargetOf(request);
    if (target === undefined) {
      return undefined;
    }
    if (target.entity === undefined && !['GET', 'POST'].includes(request.method)) {
      return undefined;
    }
    if (target.entity !== undefined && request.method === 'POST') {
      return undefined;
    }
    return handle(request, reply, target);
  };
}
