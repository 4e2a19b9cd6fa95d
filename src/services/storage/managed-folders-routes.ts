import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Policy } from '../../core/auth.ts';
import { InvalidArgument } from '../../core/errors.ts';
import { baseUrl, intParam, paramsOf, parseBody, queryOf, stringParam } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { BindingSchema } from '../../core/schemas.ts';
import { RequiredParameter } from './errors.ts';
import {
  managedFolderName,
  parentFolderNames,
  type ManagedFolderPreconditions,
  type ManagedFoldersService,
} from './managed-folders-service.ts';
import type { ManagedFolderRecord } from './managed-folders-store.ts';
import { bucketPolicyResource, refusePublicBindings } from './public-access.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import type { BucketRecord } from './store.ts';

/** storage#managedFolder as inserted (output-only fields a client echoes back are accepted). */
const InsertManagedFolderBody = Type.Object(
  {
    name: Type.String(),
    kind: Type.Optional(Type.String()),
    id: Type.Optional(Type.String()),
    bucket: Type.Optional(Type.String()),
    selfLink: Type.Optional(Type.String()),
    metageneration: Type.Optional(Type.String()),
    createTime: Type.Optional(Type.String()),
    updateTime: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** storage#policy as PUT by clients. */
const ManagedFolderPolicyBody = Type.Object(
  {
    kind: Type.Optional(Type.String()),
    resourceId: Type.Optional(Type.String()),
    version: Type.Optional(Type.Integer()),
    etag: Type.Optional(Type.String()),
    bindings: Type.Optional(Type.Array(BindingSchema)),
  },
  { additionalProperties: false },
);

/** Where a managed folder's IAM policy is stored: under its bucket's policy resource. */
export function managedFolderPolicyResource(bucket: BucketRecord, name: string): string {
  return `${bucketPolicyResource(bucket)}/managedFolders/${name}`;
}

export function presentManagedFolder(folder: ManagedFolderRecord, base: string): Record<string, unknown> {
  return {
    kind: 'storage#managedFolder',
    id: `${folder.bucket}/${folder.name}`,
    selfLink: `${base}/storage/v1/b/${folder.bucket}/managedFolders/${encodeURIComponent(folder.name)}`,
    name: folder.name,
    bucket: folder.bucket,
    metageneration: String(folder.metageneration),
    createTime: folder.createTime,
    updateTime: folder.updateTime,
  };
}

function presentManagedFolderPolicy(folder: ManagedFolderRecord, policy: Policy): Record<string, unknown> {
  return {
    kind: 'storage#policy',
    resourceId: `projects/_/buckets/${folder.bucket}/managedFolders/${folder.name}`,
    version: policy.version ?? 1,
    etag: policy.etag,
    bindings: policy.bindings ?? [],
  };
}

function booleanParam(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === '') {
    return undefined;
  }
  // apitools clients (gcloud) send `True` / `False`.
  const flag = typeof value === 'string' ? value.toLowerCase() : value;
  if (flag === 'true' || flag === true) {
    return true;
  }
  if (flag === 'false' || flag === false) {
    return false;
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  throw new InvalidArgument(`Invalid value for ${name}: '${text}' is not a boolean.`, {
    reason: 'invalid',
  });
}

function repeatedParam(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.filter((item): item is string => typeof item === 'string' && item !== '');
  }
  return typeof value === 'string' && value !== '' ? [value] : [];
}

function preconditionsOf(request: FastifyRequest): ManagedFolderPreconditions {
  const query = queryOf(request);
  return {
    ifMetagenerationMatch: intParam(query.ifMetagenerationMatch, 'ifMetagenerationMatch'),
    ifMetagenerationNotMatch: intParam(query.ifMetagenerationNotMatch, 'ifMetagenerationNotMatch'),
  };
}

/**
 * storage.managedFolders.{insert,get,list,delete,getIamPolicy,setIamPolicy,testIamPermissions}, under
 * `/storage/v1` and at the root. A nested folder's name travels escaped in the path (`a%2Fb`);
 * an unescaped one (`a/b/`) is accepted for get and delete too.
 *
 * A call on a managed folder is allowed by a grant on the bucket (or its project), or on the folder
 * itself or one of its managed parents: managed folder policies are stored at
 * `projects/P/buckets/B/managedFolders/NAME`.
 */
export function registerManagedFolderRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
  folders: ManagedFoldersService,
): void {
  // A bucket's managed folders (and their policies) go with it.
  buckets.onDeleteBucket((bucket) => {
    for (const folder of folders.deleteAllIn(bucket.name)) {
      platform.policies.dropPolicy(managedFolderPolicyResource(bucket, folder.name));
    }
  });

  const bucketOf = (request: FastifyRequest): BucketRecord =>
    buckets.getBucket(paramsOf(request).bucket ?? '');

  /** Throws 403 unless `permission` is granted on the bucket, the folder or a managed parent. */
  const authorizeOnFolder = (
    request: FastifyRequest,
    permission: string,
    bucket: BucketRecord,
    name: string,
  ): void => {
    const granted = (resource: string): boolean =>
      platform.access.permitted(request.principal, [permission], resource).length > 0;
    if (granted(bucketResource(bucket))) {
      return;
    }
    for (const folderName of [name, ...parentFolderNames(name)]) {
      if (
        folders.findManagedFolder(bucket.name, folderName) !== undefined &&
        granted(managedFolderPolicyResource(bucket, folderName))
      ) {
        return;
      }
    }
    platform.access.authorize(request.principal, permission, bucketResource(bucket));
  };

  /** The bucket and the folder's stored name, from `:managedFolder` or the wildcard. */
  const folderRef = (request: FastifyRequest): { bucket: BucketRecord; name: string } => {
    const params = paramsOf(request);
    const raw = params.managedFolder ?? params['*'] ?? '';
    return { bucket: bucketOf(request), name: managedFolderName(raw) };
  };

  /** The folder, after checking `permission` (404 for a missing folder only once allowed). */
  const loadFolder = (
    request: FastifyRequest,
    permission: string,
    conditions: ManagedFolderPreconditions = {},
  ): { bucket: BucketRecord; folder: ManagedFolderRecord } => {
    const { bucket, name } = folderRef(request);
    authorizeOnFolder(request, permission, bucket, name);
    return { bucket, folder: folders.getManagedFolder(bucket, name, conditions) };
  };

  for (const prefix of ['/storage/v1', '']) {
    const base = `${prefix}/b/:bucket/managedFolders`;

    // storage.managedFolders.insert
    app.post(base, async (request) => {
      const bucket = bucketOf(request);
      const body = parseBody(InsertManagedFolderBody, request.body, false);
      const name = managedFolderName(body.name);
      authorizeOnFolder(request, 'storage.managedFolders.create', bucket, name);
      return presentManagedFolder(folders.insertManagedFolder(bucket, name), baseUrl(request));
    });

    // storage.managedFolders.list
    app.get(base, async (request) => {
      const bucket = bucketOf(request);
      platform.access.authorize(request.principal, 'storage.managedFolders.list', bucketResource(bucket));
      const query = queryOf(request);
      const page = folders.listManagedFolders(bucket, {
        prefix: stringParam(query.prefix),
        pageSize: intParam(query.pageSize, 'pageSize') ?? intParam(query.maxResults, 'maxResults'),
        pageToken: stringParam(query.pageToken),
      });
      const out: Record<string, unknown> = { kind: 'storage#managedFolders' };
      if (page.nextPageToken !== undefined) {
        out.nextPageToken = page.nextPageToken;
      }
      if (page.items.length > 0) {
        out.items = page.items.map((folder) => presentManagedFolder(folder, baseUrl(request)));
      }
      return out;
    });

    // storage.managedFolders.get
    const get = async (request: FastifyRequest) => {
      const { folder } = loadFolder(request, 'storage.managedFolders.get', preconditionsOf(request));
      return presentManagedFolder(folder, baseUrl(request));
    };
    app.get(`${base}/:managedFolder`, get);
    app.get(`${base}/*`, get);

    // storage.managedFolders.delete
    const remove = async (request: FastifyRequest) => {
      const allowNonEmpty = booleanParam(queryOf(request).allowNonEmpty, 'allowNonEmpty') === true;
      const { bucket, name } = folderRef(request);
      authorizeOnFolder(request, 'storage.managedFolders.delete', bucket, name);
      if (allowNonEmpty) {
        authorizeOnFolder(request, 'storage.managedFolders.setIamPolicy', bucket, name);
      }
      const folder = folders.deleteManagedFolder(bucket, name, {
        ...preconditionsOf(request),
        allowNonEmpty,
      });
      // A folder created later under the same name must not inherit this one's policy.
      platform.policies.dropPolicy(managedFolderPolicyResource(bucket, folder.name));
    };
    app.delete(`${base}/:managedFolder`, async (request, reply) => {
      await remove(request);
      return reply.code(204).send();
    });
    app.delete(`${base}/*`, async (request, reply) => {
      await remove(request);
      return reply.code(204).send();
    });

    // storage.managedFolders.getIamPolicy
    app.get(`${base}/:managedFolder/iam`, async (request) => {
      const { bucket, folder } = loadFolder(request, 'storage.managedFolders.getIamPolicy');
      return presentManagedFolderPolicy(
        folder,
        platform.policies.getPolicy(managedFolderPolicyResource(bucket, folder.name)),
      );
    });

    // storage.managedFolders.setIamPolicy
    app.put(`${base}/:managedFolder/iam`, async (request) => {
      const { bucket, folder } = loadFolder(request, 'storage.managedFolders.setIamPolicy');
      const body = parseBody(ManagedFolderPolicyBody, request.body, false);
      refusePublicBindings(bucket, body.bindings ?? []);
      const policy = platform.policies.setPolicy(managedFolderPolicyResource(bucket, folder.name), {
        bindings: body.bindings ?? [],
        ...(body.etag === undefined ? {} : { etag: body.etag }),
        ...(body.version === undefined ? {} : { version: body.version }),
      });
      return presentManagedFolderPolicy(folder, policy);
    });

    // storage.managedFolders.testIamPermissions
    app.get(`${base}/:managedFolder/iam/testPermissions`, async (request) => {
      const permissions = repeatedParam(queryOf(request).permissions);
      if (permissions.length === 0) {
        throw new RequiredParameter('permissions');
      }
      const { bucket, name } = folderRef(request);
      folders.getManagedFolder(bucket, name);
      const held = new Set<string>();
      for (const resource of [
        bucketResource(bucket),
        ...[name, ...parentFolderNames(name)]
          .filter((folderName) => folders.findManagedFolder(bucket.name, folderName) !== undefined)
          .map((folderName) => managedFolderPolicyResource(bucket, folderName)),
      ]) {
        for (const permission of platform.access.permitted(request.principal, permissions, resource)) {
          held.add(permission);
        }
      }
      const out: Record<string, unknown> = { kind: 'storage#testIamPermissionsResponse' };
      const list = permissions.filter((permission) => held.has(permission));
      if (list.length > 0) {
        out.permissions = list;
      }
      return out;
    });
  }
}
